"""The per-app state every part of the sandbox reaches through the Flask app."""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app
from sqlalchemy import Engine, delete, insert, select

from sandbox.clock import utcnow
from sandbox.db import oa_sessions
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
    # Login tickets of the session dialect.
    sessions: Sessions
    # The database server behind the fault-injecting proxy, for ODBC clients (dbproxy.py).
    db_proxy: DatabaseProxy | None = None


class Sessions:
    """Tickets handed out by Login, each good for ``lifetime`` seconds, in the sandbox's database
    so that any of its worker processes accepts a ticket another one issued."""

    def __init__(self, engine: Engine, lifetime: float) -> None:
        self.engine = engine
        self.lifetime = timedelta(seconds=lifetime)
        self._lock = threading.Lock()
        self.issued: list[str] = []  # this process's tickets, for tests to look for

    def login(self) -> str:
        ticket = secrets.token_hex(16)
        now = utcnow()
        # Expired tickets go as new ones come, so the table holds the live ones only. Two
        # transactions: on MariaDB the DELETE's gap locks and another login's INSERT in one
        # transaction each would deadlock.
        with self.engine.begin() as conn:
            conn.execute(delete(oa_sessions).where(oa_sessions.c.expires_at <= now))
        with self.engine.begin() as conn:
            conn.execute(insert(oa_sessions).values(ticket_hash=_hashed(ticket),
                                                    expires_at=now + self.lifetime))
        with self._lock:
            self.issued.append(ticket)
        return ticket

    def valid(self, ticket: str) -> bool:
        if not ticket:
            return False
        with self.engine.connect() as conn:
            until = conn.scalar(select(oa_sessions.c.expires_at)
                                .where(oa_sessions.c.ticket_hash == _hashed(ticket)))
        return until is not None and utcnow() < until

    def logout(self, ticket: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(oa_sessions).where(oa_sessions.c.ticket_hash == _hashed(ticket)))

    def expire_all(self) -> int:
        with self.engine.begin() as conn:
            return conn.execute(delete(oa_sessions).where(oa_sessions.c.expires_at > utcnow())
                                ).rowcount


def _hashed(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def install(app: Flask, sandbox: Sandbox) -> None:
    app.extensions[_EXTENSION] = sandbox


def get_sandbox(app: Flask) -> Sandbox:
    return app.extensions[_EXTENSION]


def current_sandbox() -> Sandbox:
    return get_sandbox(current_app)
