"""The per-app state every part of the sandbox reaches through the Flask app."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import Engine

from sandbox.dbproxy import DatabaseProxy
from sandbox.faults import FaultInjector

_EXTENSION = "sandbox"


@dataclass
class Sandbox:
    engine: Engine
    username: str
    password: str
    faults: FaultInjector
    public_url: str | None
    # How long commit_then_timeout holds an answer back: longer than any sane client timeout.
    timeout_sleep: float
    # The database server behind the fault-injecting proxy, for ODBC clients (dbproxy.py).
    db_proxy: DatabaseProxy | None = None


def install(app: Flask, sandbox: Sandbox) -> None:
    app.extensions[_EXTENSION] = sandbox


def get_sandbox(app: Flask) -> Sandbox:
    return app.extensions[_EXTENSION]


def current_sandbox() -> Sandbox:
    return get_sandbox(current_app)
