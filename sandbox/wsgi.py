"""Entry point for WSGI servers: `gunicorn sandbox.wsgi:app` (configured by SANDBOX_* variables)."""

from sandbox.app import create_app

app = create_app()
