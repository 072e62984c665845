"""Entry point for gunicorn: ``gunicorn portal.wsgi:app``."""
from __future__ import annotations

from connector.bootstrap import startup_problems
from connector.operations import logs

from . import create_app

app = create_app()
_settings = app.extensions["pishkhan"].settings
logs.setup(_settings.log_level, _settings.log_format)
_problems = startup_problems(app.extensions["pishkhan"])
if _problems:
    # gunicorn stops when its workers cannot load the app: better than serving 404s to the
    # citizens of an organization whose file is broken.
    raise RuntimeError("Pishkhan does not start until these are fixed (pishkhan config check): "
                       + "; ".join(str(p) for p in _problems))
