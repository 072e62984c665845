"""Pushing staged and approved letters into each organization's correspondence system.

A letter is claimed in the database (so two workers never deliver it both), delivered outside
any transaction, and the outcome recorded. After an ambiguous failure, or a worker that died
mid-call, the letter is looked up by tracking code before it is ever sent again.
"""
from __future__ import annotations

import logging
import random
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from connector.delivery import polling
from connector.domain.clock import now
from connector.domain.errors import (
    AmbiguousError,
    ExternalError,
    PermanentError,
    PishkhanError,
    TransientError,
)
from connector.domain.letter import (
    ApplicantType,
    DeliveryReceipt,
    OutgoingAttachment,
    OutgoingLetter,
    State,
)
from connector.letters import lifecycle
from connector.plugins.ports import DeliveryProgress
from connector.store.db import for_claim, transaction
from connector.store.models import Letter, OrgState

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)

CLAIMABLE = (State.STAGED.value, State.APPROVED.value, State.DELIVERY_FAILED.value,
             State.DEAD.value)
LEASE = timedelta(minutes=5)  # a claim older than this belongs to a worker that died


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """Exponential with full jitter, so failed letters don't all come back at once."""
    return timedelta(seconds=random.uniform(base / 2, min(cap, base * 2 ** max(0, attempts - 1))))


def _paused(px: Pishkhan) -> set[str]:
    with px.sessions() as s:
        return set(s.scalars(select(OrgState.org).where(OrgState.paused.is_(True))))


def release_expired(px: Pishkhan) -> int:
    """Letters left in ``delivering`` by a worker that died: fail them so they are reconciled."""
    with transaction(px.sessions) as s:
        stmt = select(Letter).where(Letter.state == State.DELIVERING.value,
                                    Letter.claimed_until < now())
        rows = s.scalars(for_claim(stmt, s)).all()
        for letter in rows:
            lifecycle.move(letter, State.DELIVERY_FAILED)
            letter.needs_reconcile = True
            letter.next_attempt_at = now()
            letter.last_error = "ambiguous: the worker stopped during delivery"
        return len(rows)


def claim(px: Pishkhan, limit: int, orgs: list[str] | None = None) -> dict[int, datetime]:
    """Take due letters (of ``orgs`` only, when given); returns each letter's lease, which is
    also the proof that this worker still holds it (see :func:`_renew`)."""
    eligible = sorted(set(orgs if orgs is not None else px.orgs) - _paused(px))
    with transaction(px.sessions) as s:
        stmt = (select(Letter).where(Letter.state.in_(CLAIMABLE),
                                     Letter.next_attempt_at <= now(),
                                     Letter.org.in_(eligible))
                .order_by(Letter.next_attempt_at, Letter.id).limit(limit))
        rows = s.scalars(for_claim(stmt, s)).all()
        lease = now() + LEASE
        for letter in rows:
            lifecycle.move(letter, State.DELIVERING)
            letter.attempts += 1
            letter.claimed_until = lease
        return {letter.id: lease for letter in rows}


def _holds(letter: Letter | None, lease: datetime) -> bool:
    """This worker's claim on the letter still stands: nobody took it over since."""
    return letter is not None and letter.state == State.DELIVERING.value \
        and letter.claimed_until == lease


def _renew(px: Pishkhan, letter_id: int, lease: datetime) -> datetime | None:
    """Extend our claim right before the remote call. None when the claim is no longer ours:
    a slow batch outlived its lease and another worker took the letter over (it reconciles
    before sending, so the letter still goes once)."""
    with transaction(px.sessions) as s:
        letter = s.scalars(for_claim(select(Letter).where(Letter.id == letter_id), s)).first()
        if not _holds(letter, lease):
            return None
        if lease - now() > LEASE / 2:
            return lease  # still fresh: checking it was enough, and costs no write
        letter.claimed_until = renewed = now() + LEASE
        return renewed


def outgoing(px: Pishkhan, letter: Letter) -> OutgoingLetter:
    org = px.org(letter.org)
    service = org.service(letter.service_code)
    return OutgoingLetter(
        tracking_code=letter.tracking_code, subject=letter.subject, body=letter.body,
        sender_name=letter.applicant_name,
        sender_national_code=letter.national_id or letter.national_code,
        sender_mobile=letter.mobile, applicant_type=ApplicantType(letter.applicant_type),
        unit_code=org.system_unit_for(service), service_title=service.title if service else "",
        submitted_at=letter.created_at, service_code=letter.service_code,
        attachments=tuple(OutgoingAttachment(a.name, a.content_type, px.blobs.get(a.sha256))
                          for a in letter.attachments))


class StoredProgress(DeliveryProgress):
    """A letter's delivery progress in ``letters.delivery_progress``; each step is committed in
    its own short transaction, so it survives the attempt failing or the worker dying."""

    def __init__(self, px: Pishkhan, letter_id: int, steps: dict[str, Any] | None,
                 uncertain: bool) -> None:
        self._px = px
        self._letter_id = letter_id
        self._steps = dict(steps or {})
        self.uncertain = uncertain

    def get(self, step: str) -> Any:
        return self._steps.get(step)

    def put(self, step: str, value: Any) -> None:
        with transaction(self._px.sessions) as s:
            letter = s.get(Letter, self._letter_id)
            assert letter is not None
            steps = dict(letter.delivery_progress or {})
            steps[step] = value
            letter.delivery_progress = steps
        self._steps[step] = value


def _call(px: Pishkhan, letter_id: int) -> DeliveryReceipt:
    with px.sessions() as s:
        letter = s.scalars(select(Letter).options(selectinload(Letter.attachments))
                           .where(Letter.id == letter_id)).one()
        reconcile, slug, code = letter.needs_reconcile, letter.org, letter.tracking_code
        message = outgoing(px, letter)
        progress = StoredProgress(px, letter_id, letter.delivery_progress, reconcile)
    adapter = px.adapter(slug)
    # Quick in-call retries for blips; longer outages are retried by later ticks with backoff.
    retrying = Retrying(retry=retry_if_exception_type(TransientError), reraise=True,
                        stop=stop_after_attempt(3),
                        wait=wait_random_exponential(multiplier=0.2,
                                                     max=px.settings.call_retry_wait))
    resumable = adapter.capabilities.resumable_delivery
    if reconcile:
        found = retrying(adapter.find, code)
        if found is not None and not resumable:
            log.info("letter %s was already in %s; not sending it again", code, slug)
            return found
        # A multi-step delivery goes on from the letter found, never inserting it again.
        progress.found = found
    if resumable:
        return retrying(adapter.deliver_resuming, message, progress)
    return retrying(adapter.deliver, message)


def deliver_one(px: Pishkhan, letter_id: int, lease: datetime) -> str | None:
    """Deliver one claimed letter and record the outcome; None if the claim was lost."""
    held = _renew(px, letter_id, lease)
    if held is None:
        log.warning("letter %s: claim lost before delivery; left to the worker holding it",
                    letter_id)
        return None
    receipt: DeliveryReceipt | None = None
    error: ExternalError | None = None
    try:
        receipt = _call(px, letter_id)
    except ExternalError as exc:
        error = exc
    except PishkhanError as exc:  # e.g. a missing blob: a person has to look
        error = PermanentError(str(exc))
    except Exception as exc:  # a bug in an adapter must not strand the rest of the batch
        log.exception("letter %s: unexpected error from the adapter", letter_id)
        error = AmbiguousError(f"unexpected error: {exc!r}")
    with transaction(px.sessions) as s:
        letter = s.scalars(for_claim(select(Letter).options(selectinload(Letter.events))
                                     .where(Letter.id == letter_id), s)).first()
        if not _holds(letter, held):
            log.warning("letter %s: claim lost during delivery; the new holder reconciles",
                        letter_id)
            return None
        letter.claimed_until = None
        if receipt is not None:
            _delivered(px, s, letter, receipt)
        else:
            assert error is not None
            _failed(px, letter, error)
        return letter.state


def _delivered(px: Pishkhan, s: Session, letter: Letter, receipt: DeliveryReceipt) -> None:
    letter.external_id = receipt.external_id
    letter.needs_reconcile = False
    letter.last_error = None
    letter.next_attempt_at = None
    if receipt.letter_number:
        letter.letter_number = receipt.letter_number
        letter.letter_date = receipt.letter_date or now()
        seen = any(e.kind == "registered" and e.data.get("number") == receipt.letter_number
                   for e in letter.events)  # the poller saw it while we were delivering
        lifecycle.move(letter, State.REGISTERED, event=None if seen else "registered",
                       number=receipt.letter_number, px=px, s=s, sms="registered")
    else:
        lifecycle.move(letter, State.DELIVERED, event="delivered")
    polling.replay_held(px, s, letter)


def _failed(px: Pishkhan, letter: Letter, error: ExternalError) -> None:
    letter.last_error = f"{error.kind}: {error.detail}"[:2000]
    if error.kind == "ambiguous":
        letter.needs_reconcile = True
    settings = px.settings
    if isinstance(error, PermanentError) or letter.attempts >= settings.max_attempts:
        lifecycle.move(letter, State.DEAD)
        letter.next_attempt_at = None
        log.error("letter %s is dead after %s attempts: %s", letter.tracking_code,
                  letter.attempts, letter.last_error)
    else:
        lifecycle.move(letter, State.DELIVERY_FAILED)
        letter.next_attempt_at = now() + backoff(letter.attempts, settings.retry_base_seconds,
                                                 settings.retry_cap_seconds)
        log.warning("letter %s delivery failed (attempt %s): %s", letter.tracking_code,
                    letter.attempts, letter.last_error)


# --- running deliveries: each organization its own budget, queue and threads ----------------

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
        self._pools: dict[str, ThreadPoolExecutor] = {}
        self._turn = 0
        self._closed = False
        # Claims from this process's threads go one at a time: SQLite has no row locks (its
        # driver even reads outside the transaction), so two claims could take one letter.
        self._claiming = threading.Lock()

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
        leases: dict[int, datetime] = {}
        try:
            with self._claiming:
                leases = claim(self.px, free, [slug])
        finally:
            with self._lock:
                self._in_flight[slug] -= free - len(leases)
                self._lock.notify_all()
        pool = self._pool(slug, budget)
        for letter_id, lease in leases.items():
            pool.submit(self._deliver, slug, letter_id, lease)
        return len(leases)

    def _pool(self, slug: str, budget: int) -> ThreadPoolExecutor:
        with self._lock:
            if slug not in self._pools:
                self._pools[slug] = ThreadPoolExecutor(budget,
                                                       thread_name_prefix=f"deliver-{slug}")
            return self._pools[slug]

    def _deliver(self, slug: str, letter_id: int, lease: datetime) -> None:
        try:
            deliver_one(self.px, letter_id, lease)
        except Exception:  # the store failed; the lease expires and the letter is retried
            log.exception("letter %s: delivery could not be recorded", letter_id)
        finally:
            with self._lock:
                self._in_flight[slug] -= 1
                self._lock.notify_all()
        try:
            self.wake(slug)  # keep this organization's pipe full without waiting for a tick
        except Exception:
            log.exception("delivery for %s: claiming the next letter failed", slug)

    def busy(self) -> int:
        with self._lock:
            return sum(self._in_flight.values())

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Until nothing is in flight (tests and benchmarks); False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: not any(self._in_flight.values()), timeout)

    def close(self, timeout: float | None = None) -> None:
        """Claim nothing more, let the deliveries under way finish and be recorded, then stop
        the threads. A claim that was being made when this began is counted in flight, so its
        letters are delivered too, never left holding a lease."""
        with self._lock:
            self._closed = True
            self._lock.wait_for(lambda: not any(self._in_flight.values()), timeout)
        for pool in list(self._pools.values()):
            pool.shutdown(wait=True)


def run_once(px: Pishkhan, limit: int | None = None) -> int:
    """Deliver what is due now and wait for it: each organization in its own thread with its
    own concurrency, so one slow system does not hold the others, and each letter at most once
    per call (a failure waits for the next run). ``limit`` caps the total claimed."""
    release_expired(px)
    slugs = sorted(px.orgs)
    left = [limit if limit is not None else 1 << 30]
    lock = threading.Lock()

    def org_pass(slug: str) -> int:
        with lock:
            take = left[0]
            if take <= 0:
                return 0
            leases = claim(px, take, [slug])
            left[0] -= len(leases)
        if not leases:
            return 0
        workers = min(max(1, px.org(slug).delivery_concurrency), len(leases))
        with ThreadPoolExecutor(workers, thread_name_prefix=f"deliver-{slug}") as pool:
            list(pool.map(lambda i: deliver_one(px, i, leases[i]), list(leases)))
        return len(leases)

    if len(slugs) <= 1:
        return sum(org_pass(slug) for slug in slugs)
    with ThreadPoolExecutor(len(slugs), thread_name_prefix="deliver-orgs") as orgs:
        return sum(orgs.map(org_pass, slugs))
