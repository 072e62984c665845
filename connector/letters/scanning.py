"""The virus check every upload passes before any of it is stored.

Wraps the configured :class:`~connector.plugins.ports.VirusScanner` (a plugin: clamd, or the
embedded setup's no-op) with what the core asks of every external call: one bounded retry of a
transient failure, a log line an admin can find, and a short memory of verdicts by sha256 — the
letter form checks the same files on preview, on a form that comes back and on send, and a
scan of 10 MB should not run three times in a minute.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from typing import BinaryIO

from connector.domain.errors import ExternalError, PermanentError, TransientError
from connector.plugins.ports import ScanResult, VirusScanner

log = logging.getLogger(__name__)

MEMO_SIZE = 512
MEMO_SECONDS = 600.0


class ScanUnavailable(ExternalError):
    """The scanner could not give a verdict; the upload is neither accepted nor stored.
    ``lasting``: asking again will not help for this file (too large for the scanner)."""

    kind = "transient"

    def __init__(self, detail: str, lasting: bool = False) -> None:
        super().__init__(detail)
        self.lasting = lasting


class Scanning:
    def __init__(self, scanner: VirusScanner, retries: int = 1, retry_wait: float = 0.2
                 ) -> None:
        self.scanner = scanner
        self.retries, self.retry_wait = retries, retry_wait
        self._memo: OrderedDict[str, tuple[float, ScanResult]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.scanner.name

    def _remembered(self, digest: str) -> ScanResult | None:
        with self._lock:
            hit = self._memo.get(digest)
            if hit and time.monotonic() - hit[0] < MEMO_SECONDS:
                self._memo.move_to_end(digest)
                return hit[1]
            return None

    def _remember(self, digest: str, result: ScanResult) -> None:
        with self._lock:
            self._memo[digest] = (time.monotonic(), result)
            while len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)

    def scan(self, content: bytes | BinaryIO) -> ScanResult:
        """The verdict, or ScanUnavailable when the scanner cannot give one. A stream is
        hashed in chunks and handed to the scanner from its start (never read whole)."""
        if not self.scanner.remember:
            return self.scanner.scan(content)
        if isinstance(content, bytes):
            digest = hashlib.sha256(content).hexdigest()
        else:
            hasher = hashlib.sha256()
            while chunk := content.read(1024 * 1024):
                hasher.update(chunk)
            digest = hasher.hexdigest()
        known = self._remembered(digest)
        if known is not None:
            return known
        for attempt in range(self.retries + 1):
            try:
                if not isinstance(content, bytes):
                    content.seek(0)
                result = self.scanner.scan(content)
                break
            except TransientError as exc:
                log.warning("virus scan %s failed (attempt %s of %s): %s", self.name,
                            attempt + 1, self.retries + 1, exc.detail)
                if attempt == self.retries:
                    raise ScanUnavailable(exc.detail) from exc
                time.sleep(self.retry_wait)
            except ExternalError as exc:
                log.error("virus scan %s refused a file (%s): %s", self.name, exc.kind,
                          exc.detail)
                raise ScanUnavailable(exc.detail,
                                      lasting=isinstance(exc, PermanentError)) from exc
        if not result.clean:
            log.warning("virus scan %s: infected upload %s… (%s) refused", self.name,
                        digest[:12], result.signature)
        self._remember(digest, result)
        return result
