"""Bearer tokens already looked up, so a client calling the API again and again is not looked
up in the store on every request (intake asks on every letter it takes).

An entry (by the token's keyed hash, never the token) holds the mobile and the token's expiry,
and answers only while the token has not expired, the entry is younger than ``ttl``, and no
token has been revoked since it was read. Every revocation, in any process of this
installation, appends one byte to a marker file in the var folder; the file's size is the
revocation generation, compared on every use (one ``stat``). So a revocation takes effect at
once wherever the var folder is shared, and within ``ttl`` anywhere else. The generation is
read before the store is: a revocation committed while a look-up runs makes what that look-up
caches stale at once."""
from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)


class TokenCache:
    def __init__(self, marker: Path, ttl: float = 30.0, capacity: int = 4096) -> None:
        self.marker, self.ttl, self.capacity = marker, ttl, capacity
        self._entries: dict[str, tuple[str, datetime, float, int]] = {}
        self._lock = threading.Lock()

    def generation(self) -> int:
        try:
            return os.stat(self.marker).st_size
        except OSError:  # none yet, or unreadable: entries still die within ttl
            return 0

    def get(self, key: str, at: datetime) -> str | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        mobile, expires_at, stored, generation = entry
        if expires_at <= at or time.monotonic() - stored > self.ttl \
                or generation != self.generation():
            with self._lock:
                self._entries.pop(key, None)
            return None
        return mobile

    def put(self, key: str, mobile: str, expires_at: datetime, generation: int) -> None:
        with self._lock:
            if len(self._entries) >= self.capacity:
                self._entries.clear()  # bounded: a flood of tokens costs look-ups, not memory
            self._entries[key] = (mobile, expires_at, time.monotonic(), generation)

    def revoked(self) -> None:
        """After a revocation has committed: every process's entries are stale from now on.
        This process forgets first; if the marker cannot be written (disk full, permissions),
        the sign-out still stands here and the others follow within ``ttl``, so it is logged,
        not raised (the revocation is already committed)."""
        with self._lock:
            self._entries.clear()
        try:
            self.marker.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.marker, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(fd, b".")
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("cannot mark a token revocation in %s (%s): other processes may accept "
                      "the token for up to %.0f s more", self.marker, exc.strerror, self.ttl)
