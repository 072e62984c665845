"""One login session per organization per process, shared by every operation and thread.

The ticket lives only here, in memory: never in a step's outputs, the stored delivery progress,
the database or a log line (the adapter masks every ticket this keeper has handed out).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class SessionKeeper:
    """The current ticket, logged in on first use and again when it is older than its lifetime
    or the system says it expired. Thread-safe: threads that find the ticket expired together
    cause one login, not one each."""

    def __init__(self, login: Callable[[], str], lifetime_seconds: float = 0,
                 logout: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._login = login
        self._logout = logout
        self._lifetime = lifetime_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._ticket: str | None = None
        self._since = 0.0
        # Every ticket handed out recently, to mask in logs and --exchange even after renewal.
        self._seen: deque[str] = deque(maxlen=64)
        self.logins = 0

    def ticket(self) -> str:
        with self._lock:
            fresh = self._ticket is not None and (
                not self._lifetime or self._clock() - self._since < self._lifetime)
            if not fresh:
                self._ticket = None
                ticket = self._login()
                self.logins += 1
                self._ticket, self._since = ticket, self._clock()
                self._seen.append(ticket)
            assert self._ticket is not None
            return self._ticket

    def expire(self, ticket: str) -> None:
        """The system refused ``ticket``; the next :meth:`ticket` logs in again, unless another
        thread has already done so."""
        with self._lock:
            if self._ticket == ticket:
                self._ticket = None

    def seen(self) -> list[str]:
        return list(self._seen)

    def close(self) -> None:
        """Log out (best effort: a session the system drops by itself is no harm)."""
        with self._lock:
            ticket, self._ticket = self._ticket, None
        if ticket is not None and self._logout is not None:
            try:
                self._logout(ticket)
            except Exception:  # noqa: BLE001 - closing must not fail over a logout
                pass
