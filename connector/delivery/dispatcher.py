"""The delivery engine of a worker process: each organization its own budget of calls in
flight, its own queue and threads, so a slow or broken system costs the others nothing."""
from __future__ import annotations

import contextlib
import logging
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from connector.delivery.push import Attempt, Ready, attempt, claim, record, release_expired

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)


class Dispatcher:
    """The delivery engine of one worker process. Every organization has its own budget of
    calls in flight (its ``delivery_concurrency``) and its own threads; its letters are claimed
    only when one of its slots is free, and a finished delivery claims the next at once, so
    there is no per-tick ceiling, and an organization whose system takes 5 s a call or is down
    fills only its own slots — the others' letters never wait behind it. Each pump visits the
    organizations from a rotating start, so none is always served first."""

    def __init__(self, px: Pishkhan) -> None:
        self.px = px
        self._lock = threading.Condition()
        self._in_flight: dict[str, int] = defaultdict(int)
        self._recording = 0  # calls over, their outcome not yet written
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._turn = 0
        self._closed = False
        # On SQLite claims from this process's threads go one at a time: it has no row locks
        # (its driver even reads outside the transaction), so two claims could take one
        # letter. PostgreSQL's SKIP LOCKED keeps claims apart by itself, so there one
        # organization's claims never wait behind another's.
        self._claiming: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if px.engine.dialect.name == "sqlite"
            else contextlib.nullcontext())

    def pump(self) -> int:
        """Fill every organization's free slots with its due letters; returns how many started.
        Called by the tick (the safety net) and by wake-ups; never waits for a delivery."""
        release_expired(self.px)
        slugs = sorted(self.px.orgs)
        if not slugs:
            return 0
        self._turn = (self._turn + 1) % len(slugs)
        return sum(self.wake(slug) for slug in slugs[self._turn:] + slugs[:self._turn])

    def wake(self, slug: str) -> int:
        """Claim as many of this organization's due letters as it has free slots."""
        if slug not in self.px.orgs:
            return 0
        budget = max(1, self.px.org(slug).delivery_concurrency)
        with self._lock:
            if self._closed:
                return 0
            free = budget - self._in_flight[slug]
            if free <= 0:
                return 0  # busy (or slow): costs nobody else anything
            self._in_flight[slug] += free  # reserved while we claim
        leases: dict[int, tuple[datetime, Ready | None]] = {}
        try:
            with self._claiming:
                leases = claim(self.px, free, [slug])
        finally:
            with self._lock:
                self._in_flight[slug] -= free - len(leases)
                self._lock.notify_all()
        pool = self._pool(slug, budget)
        for letter_id, (lease, ready) in leases.items():
            pool.submit(self._deliver, slug, letter_id, lease, ready)
        return len(leases)

    def _pool(self, slug: str, budget: int) -> ThreadPoolExecutor:
        with self._lock:
            if slug not in self._pools:
                # Twice the budget: a thread that writes the last outcome while another makes
                # the next call. Calls in flight stay within the budget (_in_flight).
                self._pools[slug] = ThreadPoolExecutor(2 * budget,
                                                       thread_name_prefix=f"deliver-{slug}")
            return self._pools[slug]

    def _deliver(self, slug: str, letter_id: int, lease: datetime, ready: Ready | None) -> None:
        done: Attempt | None = None
        try:
            done = attempt(self.px, letter_id, lease, ready)
        except Exception:  # the store failed; the lease expires and the letter is retried
            log.exception("letter %s: delivery could not be started", letter_id)
        finally:
            with self._lock:
                self._in_flight[slug] -= 1
                if done is not None:
                    self._recording += 1
                self._lock.notify_all()
        try:
            # The call is over, so its slot takes the next letter now, while this thread
            # writes the outcome: the system's answer, not our bookkeeping, sets the pace.
            self.wake(slug)
        except Exception:
            log.exception("delivery for %s: claiming the next letter failed", slug)
        if done is None:
            return
        try:
            record(self.px, done)
        except Exception:  # the store failed; the lease expires and the letter is reconciled
            log.exception("letter %s: delivery could not be recorded", letter_id)
        finally:
            with self._lock:
                self._recording -= 1
                self._lock.notify_all()

    def busy(self) -> int:
        with self._lock:
            return sum(self._in_flight.values())

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Until nothing is in flight or being recorded (tests and benchmarks); False on
        timeout."""
        with self._lock:
            return self._lock.wait_for(self._idle, timeout)

    def _idle(self) -> bool:
        return not any(self._in_flight.values()) and not self._recording

    def close(self, timeout: float | None = None) -> None:
        """Claim nothing more, let the deliveries under way finish and be recorded, then stop
        the threads. A claim that was being made when this began is counted in flight, so its
        letters are delivered too, never left holding a lease."""
        with self._lock:
            self._closed = True
            self._lock.wait_for(self._idle, timeout)
        for pool in list(self._pools.values()):
            pool.shutdown(wait=True)
