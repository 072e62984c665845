"""The delivery engine of a worker process: each organization its own budget of calls in
flight, its own queue and threads, so a slow or broken system costs the others nothing."""
from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

from connector.delivery.push import Attempt, Ready, attempt, claim, record, release_expired

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)


# Letters an organization keeps claimed ahead of its slots, so a finished call starts the next
# at once instead of after a claim's round trips. Only while its calls come back quickly: a
# letter claimed ahead of a system that hangs would wait, its lease running, for a free slot.
QUICK_CALL = 10.0  # seconds; a slower call stops claiming ahead until a quick one again


def claim_batch(budget: int) -> int:
    """How many letters a claim takes at once while the system answers quickly: a quarter of
    the budget. Each claim is a transaction with its own statements and bookkeeping, and one
    claim per finished call cost a busy worker about as much CPU as the call itself; a batch
    shares that among its letters. Up to ``2 * batch - 1`` letters wait claimed ahead (the
    next batch is claimed while the last one's letters are still waiting), so no slot waits
    for a claim; with a budget under 8 that is one letter, claimed as each call ends."""
    return max(1, budget // 4)

Claimed = tuple[int, datetime, Ready | None]


class Dispatcher:
    """The delivery engine of one worker process. Every organization has its own budget of
    calls in flight (its ``delivery_concurrency``) and its own threads; its letters are claimed
    as its slots free up (and a few more, in batches of :func:`claim_batch`, while its system
    answers quickly), and a finished call starts the next at once, so there is no per-tick
    ceiling, and an organization whose system takes 5 s a call or is down fills only its own
    slots — the others' letters never wait behind it. Each pump visits the organizations from
    a rotating start, so none is always served first."""

    def __init__(self, px: Pishkhan) -> None:
        self.px = px
        self._lock = threading.Condition()
        self._in_flight: dict[str, int] = defaultdict(int)  # calls under way
        self._ahead: dict[str, deque[Claimed]] = defaultdict(deque)  # claimed, not started
        self._claiming_now: dict[str, int] = defaultdict(int)  # being claimed at this moment
        self._quick: dict[str, bool] = defaultdict(bool)  # its last call came back quickly
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
        """Fill every organization's free slots with its due letters; returns how many were
        claimed. Called by the tick (the safety net) and by wake-ups; never waits for a
        delivery."""
        release_expired(self.px)
        slugs = sorted(self.px.orgs)
        if not slugs:
            return 0
        self._turn = (self._turn + 1) % len(slugs)
        return sum(self.wake(slug) for slug in slugs[self._turn:] + slugs[:self._turn])

    def wake(self, slug: str) -> int:
        """Claim as many of this organization's due letters as it has room for."""
        if slug not in self.px.orgs:
            return 0
        budget = max(1, self.px.org(slug).delivery_concurrency)
        with self._lock:
            if self._closed:
                return 0
            # A slow system gets nothing claimed ahead, and its letters one at a time.
            quick = self._quick[slug]
            batch = claim_batch(budget) if quick else 1
            room = (budget + (2 * batch - 1 if quick else 0) - self._in_flight[slug]
                    - len(self._ahead[slug]) - self._claiming_now[slug])
            if room < batch:
                # Busy (or slow): costs nobody else anything. Or every slot has its letter
                # (room < batch leaves at least batch - 1 ahead) and a whole batch does not
                # fit yet: claimed once it does.
                return 0
            self._claiming_now[slug] += room
        leases: dict[int, tuple[datetime, Ready | None]] = {}
        try:
            with self._claiming:
                leases = claim(self.px, room, [slug])
        finally:
            with self._lock:
                self._claiming_now[slug] -= room
                self._ahead[slug].extend((i, lease, ready) for i, (lease, ready)
                                         in leases.items())
                starting = self._startable(slug, budget)
                self._lock.notify_all()
        self._start(slug, budget, starting)
        return len(leases)

    def _startable(self, slug: str, budget: int) -> list[Claimed]:
        """Claimed letters for the free slots, counted in flight (under the lock)."""
        starting = []
        while self._ahead[slug] and self._in_flight[slug] < budget:
            starting.append(self._ahead[slug].popleft())
            self._in_flight[slug] += 1
        return starting

    def _start(self, slug: str, budget: int, starting: list[Claimed]) -> None:
        pool = self._pool(slug, budget)
        for letter_id, lease, ready in starting:
            pool.submit(self._deliver, slug, budget, letter_id, lease, ready)

    def _pool(self, slug: str, budget: int) -> ThreadPoolExecutor:
        with self._lock:
            if slug not in self._pools:
                # Twice the budget: a thread that writes the last outcome while another makes
                # the next call. Calls in flight stay within the budget (_in_flight).
                self._pools[slug] = ThreadPoolExecutor(2 * budget,
                                                       thread_name_prefix=f"deliver-{slug}")
            return self._pools[slug]

    def _deliver(self, slug: str, budget: int, letter_id: int, lease: datetime,
                 ready: Ready | None) -> None:
        done: Attempt | None = None
        began = time.monotonic()
        try:
            done = attempt(self.px, letter_id, lease, ready)
        except Exception:  # the store failed; the lease expires and the letter is retried
            log.exception("letter %s: delivery could not be started", letter_id)
        finally:
            with self._lock:
                self._in_flight[slug] -= 1
                self._quick[slug] = time.monotonic() - began < QUICK_CALL
                if done is not None:
                    self._recording += 1
                # The call is over, so its slot takes the next letter now, while this thread
                # writes the outcome: the system's answer, not our bookkeeping, sets the pace.
                starting = self._startable(slug, budget)
                self._lock.notify_all()
        self._start(slug, budget, starting)
        try:
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

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Until nothing is claimed, in flight or being recorded (tests and benchmarks); False
        on timeout."""
        with self._lock:
            return self._lock.wait_for(self._idle, timeout)

    def _idle(self) -> bool:
        return not (any(self._in_flight.values()) or any(self._ahead.values())
                    or any(self._claiming_now.values()) or self._recording)

    def close(self, timeout: float | None = None) -> None:
        """Claim nothing more, let the deliveries under way finish and be recorded, then stop
        the threads. Letters already claimed (in a claim under way when this began, or ahead)
        are delivered too, never left holding a lease."""
        with self._lock:
            self._closed = True
            self._lock.wait_for(self._idle, timeout)
        for pool in list(self._pools.values()):
            pool.shutdown(wait=True)
