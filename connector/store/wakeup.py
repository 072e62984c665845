"""Waking the delivery the moment there is something to deliver.

On PostgreSQL a new letter or an approval sends ``NOTIFY pishkhan_delivery, '<org>'`` in the
transaction that made it (PostgreSQL delivers it on commit, never for a rollback), and every
worker listens on its own connection and claims that organization's letters at once — the
approval-to-delivery time is then the work, not the wait for a tick. The tick stays: it is the
safety net for a lost connection, and the only trigger on SQLite (one worker, no channel).

The notice itself is part of the statement that writes the change's audit record
(:func:`connector.letters.bookkeeping.chained`, ``pg_notify`` in a chain).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger(__name__)

CHANNEL = "pishkhan_delivery"
# States in which a letter is waiting to be delivered right away.
DUE = frozenset({"staged", "approved"})


class Listener:
    """A thread holding one connection that LISTENs and calls ``wake(org)`` per notice."""

    def __init__(self, engine: Engine, wake: Callable[[str], Any],
                 poll_seconds: float = 5.0) -> None:
        self.engine, self.wake, self.poll_seconds = engine, wake, poll_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="delivery-listen", daemon=True)

    def start(self) -> Listener:
        if self.engine.dialect.name == "postgresql":
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception:  # the server went away: the tick covers until we are back
                log.exception("delivery wake-ups lost; listening again in %ss",
                              self.poll_seconds)
                self._stop.wait(self.poll_seconds)

    def _listen(self) -> None:
        raw = self.engine.raw_connection()
        try:
            conn = raw.driver_connection
            conn.autocommit = True
            conn.execute(f"LISTEN {CHANNEL}")
            while not self._stop.is_set():
                for notice in conn.notifies(timeout=self.poll_seconds):
                    try:
                        self.wake(notice.payload)
                    except Exception:
                        log.exception("waking delivery for %s failed", notice.payload)
                    if self._stop.is_set():
                        break
        finally:
            raw.invalidate()  # a connection in LISTEN mode never goes back to the pool
