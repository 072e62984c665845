"""Entry point for gunicorn: ``gunicorn portal.wsgi:app``."""
from __future__ import annotations

from connector.operations import logs

from . import create_app

app = create_app()
_settings = app.extensions["pishkhan"].settings
logs.setup(_settings.log_level, _settings.log_format)
