"""The per-app state every part of the sandbox reaches through the Flask app."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

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
    # Login tickets of the session dialect, in memory as such systems keep them.
    sessions: Sessions = field(default_factory=lambda: Sessions(600.0))


class Sessions:
    """Tickets handed out by Login, each good for ``lifetime`` seconds."""

    def __init__(self, lifetime: float) -> None:
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._tickets: dict[str, float] = {}
        self.issued: list[str] = []  # every ticket ever issued, for tests to look for

    def login(self) -> str:
        ticket = secrets.token_hex(16)
        with self._lock:
            self._tickets[ticket] = time.monotonic() + self.lifetime
            self.issued.append(ticket)
        return ticket

    def valid(self, ticket: str) -> bool:
        with self._lock:
            until = self._tickets.get(ticket)
            return until is not None and time.monotonic() < until

    def logout(self, ticket: str) -> None:
        with self._lock:
            self._tickets.pop(ticket, None)

    def expire_all(self) -> int:
        with self._lock:
            count = len(self._tickets)
            self._tickets.clear()
            return count


def install(app: Flask, sandbox: Sandbox) -> None:
    app.extensions[_EXTENSION] = sandbox


def get_sandbox(app: Flask) -> Sandbox:
    return app.extensions[_EXTENSION]


def current_sandbox() -> Sandbox:
    return get_sandbox(current_app)
