"""The sandbox's Flask application: configuration, database and the three faces of the system."""

from __future__ import annotations

import os
from typing import Any, Mapping

from flask import Flask

from sandbox import api, cartable, legacy, registry, session, soap
from sqlalchemy import Engine

from sandbox.db import open_database
from sandbox.dbproxy import DatabaseProxy
from sandbox.faults import FaultInjector, FaultSettings
from sandbox.state import Sandbox, Sessions, install

# Config key -> (environment variable, default). Read in create_app only, never on import.
_SETTINGS: dict[str, tuple[str, str | None]] = {
    "DATABASE_URL": ("SANDBOX_DATABASE_URL", "sqlite:///var/sandbox.db"),
    "USERNAME": ("SANDBOX_USERNAME", "pishkhan"),
    "PASSWORD": ("SANDBOX_PASSWORD", "sandbox-secret"),
    "FAULTS": ("SANDBOX_FAULTS", None),
    "PUBLIC_URL": ("SANDBOX_PUBLIC_URL", None),
    "TIMEOUT_SLEEP": ("SANDBOX_TIMEOUT_SLEEP", "30"),
    # host:port on which to expose the database server through the fault-injecting proxy.
    "DB_PROXY": ("SANDBOX_DB_PROXY", None),
    # How long a login ticket of the session dialect lives, in seconds.
    "SESSION_LIFETIME": ("SANDBOX_SESSION_LIFETIME", "600"),
}

# Large enough for scanned attachments, small enough that a runaway client cannot exhaust memory.
MAX_REQUEST_BYTES = 64 * 1024 * 1024


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The sandbox app. Keys of `config` override the SANDBOX_* environment variables."""
    settings = _settings(config or {})
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    # Persian in JSON answers stays readable instead of \u escapes.
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True

    faults = FaultInjector(FaultSettings.from_json(settings["FAULTS"]))
    engine = open_database(str(settings["DATABASE_URL"]))
    install(
        app,
        Sandbox(
            engine=engine,
            username=str(settings["USERNAME"]),
            password=str(settings["PASSWORD"]),
            faults=faults,
            public_url=settings["PUBLIC_URL"] or None,
            timeout_sleep=_seconds(settings["TIMEOUT_SLEEP"]),
            db_proxy=_db_proxy(settings["DB_PROXY"], engine, faults),
            sessions=Sessions(engine, _seconds(settings["SESSION_LIFETIME"])),
        ),
    )
    app.register_blueprint(soap.bp)
    app.register_blueprint(legacy.bp)
    app.register_blueprint(session.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(cartable.bp)
    app.register_blueprint(registry.bp)
    api.register_error_handlers(app)
    return app


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(config) - set(_SETTINGS))
    if unknown:
        # A misspelt key would otherwise silently fall back to the environment.
        raise ValueError(
            f"unknown sandbox config keys: {', '.join(unknown)}; known: {', '.join(_SETTINGS)}"
        )
    return {
        key: config[key] if key in config else os.environ.get(env, default)
        for key, (env, default) in _SETTINGS.items()
    }


def _seconds(value: Any) -> float:
    seconds = float(value)
    if seconds < 0:
        raise ValueError("TIMEOUT_SLEEP must not be negative")
    return seconds


def _db_proxy(listen: str | None, engine: Engine, faults: FaultInjector) -> DatabaseProxy | None:
    if not listen:
        return None
    url = engine.url
    if url.get_backend_name() == "sqlite":
        raise ValueError("DB_PROXY needs a database server; SQLite is a file")
    host, _, port = listen.rpartition(":")
    default_port = 3306 if url.get_backend_name() in ("mysql", "mariadb") else 5432
    return DatabaseProxy((host or "127.0.0.1", int(port)),
                         (url.host or "127.0.0.1", url.port or default_port), faults)
