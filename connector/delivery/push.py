"""Pushing staged and approved letters into each organization's correspondence system.

A letter is claimed in the database (so two workers never deliver it both), delivered outside
any transaction, and the outcome recorded. After an ambiguous failure, or a worker that died
mid-call, the letter is looked up by tracking code before it is ever sent again.
"""
from __future__ import annotations

import json
import logging
import random
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from connector.delivery import polling, statements
from connector.delivery.outgoing import ClaimedRow, Ready
from connector.delivery.statements import CLAIMABLE, not_paused
from connector.domain.clock import now
from connector.domain.errors import (
    AmbiguousError,
    ExternalError,
    PermanentError,
    PishkhanError,
    TransientError,
)
from connector.domain.letter import DeliveryReceipt, State
from connector.letters import lifecycle
from connector.plugins.ports import DeliveryProgress
from connector.store import plain
from connector.store.db import for_claim, for_update, hold_lock, transaction
from connector.store.models import Letter

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)  # a claim older than this belongs to a worker that died


def backoff(attempts: int, base: float, cap: float) -> timedelta:
    """Exponential with full jitter, so failed letters don't all come back at once."""
    return timedelta(seconds=random.uniform(base / 2, min(cap, base * 2 ** max(0, attempts - 1))))


def release_expired(px: Pishkhan) -> int:
    """Letters left in ``delivering`` by a worker that died: fail them so they are reconciled.
    The lost claim was an attempt: a letter that keeps killing its worker stops at the cap."""
    with transaction(px.sessions) as s:
        stmt = select(Letter).where(Letter.state == State.DELIVERING.value,
                                    Letter.claimed_until < now())
        rows = s.scalars(for_claim(stmt, s)).all()
        for letter in rows:
            letter.needs_reconcile = True
            letter.claimed_until = None
            letter.last_error = "ambiguous: the worker stopped during delivery"
            if letter.attempts >= px.settings.max_attempts:
                lifecycle.move(letter, State.DEAD)
                letter.next_attempt_at = None
                log.error("letter %s is dead: the worker stopped during %s attempts",
                          letter.tracking_code, letter.attempts)
            else:
                lifecycle.move(letter, State.DELIVERY_FAILED)
                letter.next_attempt_at = now()
        return len(rows)


def claim(px: Pishkhan, limit: int, orgs: list[str] | None = None,
          due_by: datetime | None = None) -> dict[int, tuple[datetime, Ready | None]]:
    """Take letters (of ``orgs`` only, when given) due by ``due_by`` (now); returns each
    letter's lease, which is also the proof that this worker still holds it (see
    :func:`_renew`), and what its call needs for :func:`deliver_one` (None where that cannot
    be read now, a file gone say: the call reads it again and says why)."""
    eligible = sorted(orgs if orgs is not None else px.orgs)
    if px.engine.dialect.name == "postgresql":
        return _claim_in_two_statements(px, limit, eligible, due_by or now())
    with transaction(px.sessions) as s:
        if s.get_bind().dialect.name == "sqlite":
            # No SKIP LOCKED: the write lock first, so two delivery slots of this worker
            # cannot both read the same letter as free.
            hold_lock(s, "delivery.claim")
        stmt = (select(Letter).where(Letter.state.in_(CLAIMABLE),
                                     Letter.next_attempt_at <= (due_by or now()),
                                     Letter.org.in_(eligible), not_paused())
                .order_by(Letter.next_attempt_at, Letter.id).limit(limit))
        rows = s.scalars(for_claim(stmt.options(selectinload(Letter.attachments)), s)).all()
        lease = now() + LEASE
        taken: dict[int, tuple[datetime, Ready | None]] = {}
        for letter in rows:
            lifecycle.move(letter, State.DELIVERING)
            letter.attempts += 1
            letter.claimed_until = lease
            taken[letter.id] = (lease, _ready(px, letter, s))
        return taken


def _claim_in_two_statements(px: Pishkhan, limit: int, orgs: list[str], due: datetime
                             ) -> dict[int, tuple[datetime, Ready | None]]:
    lease = now() + LEASE
    return {row["id"]: (lease, _ready(px, ClaimedRow(row)))
            for row in statements.claim(px, limit, orgs, due, lease)}


def _ready(px: Pishkhan, letter: Letter | ClaimedRow, s: Session | None = None) -> Ready | None:
    try:
        return Ready.of(px, letter, s)
    except PishkhanError:
        return None


def _holds(letter: Letter | None, lease: datetime) -> bool:
    """This worker's claim on the letter still stands: nobody took it over since."""
    return letter is not None and letter.state == State.DELIVERING.value \
        and letter.claimed_until == lease


def _renew(px: Pishkhan, letter_id: int, lease: datetime) -> datetime | None:
    """Extend our claim right before the remote call. None when the claim is no longer ours:
    a slow batch outlived its lease and another worker took the letter over (it reconciles
    before sending, so the letter still goes once).

    A claim in the first half of its lease needs no renewal, and no transaction of its own:
    :func:`_call` reads the letter anyway, and checks there that the claim is still ours."""
    if lease - now() > LEASE / 2:
        return lease
    with transaction(px.sessions) as s:
        letter = s.scalars(for_update(select(Letter).where(Letter.id == letter_id), s)).first()
        if not _holds(letter, lease):
            return None
        letter.claimed_until = renewed = now() + LEASE
        return renewed


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
        if self._px.engine.dialect.name == "postgresql":
            # One statement, a transaction by itself: each step of a five-call delivery
            # through the ORM cost more CPU than the call it records.
            found = plain.alone(self._px.engine, "delivery.progress", lifecycle.adding_progress,
                                {"id": self._letter_id, "at": now(),
                                 "patch": json.dumps({step: value})})
            assert found == self._letter_id
            self._steps[step] = value
            return
        with transaction(self._px.sessions) as s:
            letter = s.get(Letter, self._letter_id)
            assert letter is not None
            steps = dict(letter.delivery_progress or {})
            steps[step] = value
            letter.delivery_progress = steps
        self._steps[step] = value


class _ClaimLost(Exception):
    """The letter is no longer this worker's to deliver."""


def _call(px: Pishkhan, letter_id: int, lease: datetime,
          ready: Ready | None = None) -> DeliveryReceipt:
    if ready is None:
        with px.sessions() as s:
            letter = s.scalars(select(Letter).options(selectinload(Letter.attachments))
                               .where(Letter.id == letter_id)).one()
            if not _holds(letter, lease):
                raise _ClaimLost
            ready = Ready.of(px, letter, s)
    reconcile, slug, code, message = ready.reconcile, ready.slug, ready.code, ready.message
    progress = StoredProgress(px, letter_id, ready.steps, reconcile)
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


@dataclass(frozen=True)
class Attempt:
    """What one delivery call came to, not yet recorded."""
    letter_id: int
    held: datetime | None  # the lease it ran under; None: the claim was lost before the call
    receipt: DeliveryReceipt | None = None
    error: ExternalError | None = None


def attempt(px: Pishkhan, letter_id: int, lease: datetime,
            ready: Ready | None = None) -> Attempt:
    """Make the call for one claimed letter; :func:`record` writes what it came to. Until then
    the letter stays claimed, so a worker that dies between the two leaves it to be
    reconciled, as one that dies during the call does. ``ready``: what :func:`claim` read
    with the claim, used while the lease needs no renewal (no other worker can have taken the
    letter over in its first half)."""
    held = _renew(px, letter_id, lease)
    try:
        if held is None:
            raise _ClaimLost
        return Attempt(letter_id, held,
                       receipt=_call(px, letter_id, held, ready if held == lease else None))
    except _ClaimLost:
        log.warning("letter %s: claim lost before delivery; left to the worker holding it",
                    letter_id)
        return Attempt(letter_id, None)
    except ExternalError as exc:
        return Attempt(letter_id, held, error=exc)
    except PishkhanError as exc:  # e.g. a missing blob: a person has to look
        return Attempt(letter_id, held, error=PermanentError(str(exc)))
    except Exception as exc:  # a bug in an adapter must not strand the rest of the batch
        log.exception("letter %s: unexpected error from the adapter", letter_id)
        return Attempt(letter_id, held, error=AmbiguousError(f"unexpected error: {exc!r}"))


def record(px: Pishkhan, done: Attempt) -> str | None:
    """Record a call's outcome; the letter's new state, or None if the claim was lost."""
    if done.held is None:
        return None
    if done.receipt is not None and px.engine.dialect.name == "postgresql":
        state = statements.delivered(px, done.letter_id, done.held, done.receipt)
        if state is not None:
            return state
    with transaction(px.sessions) as s:
        # Our own claimed row: a plain lock waits out the poller's brief one, where SKIP
        # LOCKED would see nothing and throw the receipt away as "claim lost".
        letter = s.scalars(for_update(select(Letter).options(selectinload(Letter.events))
                                      .where(Letter.id == done.letter_id), s)).first()
        if not _holds(letter, done.held):
            log.warning("letter %s: claim lost during delivery; the new holder reconciles",
                        done.letter_id)
            return None
        letter.claimed_until = None
        if done.receipt is not None:
            _delivered(px, s, letter, done.receipt)
        else:
            assert done.error is not None
            _failed(px, letter, done.error)
        return letter.state


def deliver_one(px: Pishkhan, letter_id: int, lease: datetime,
                ready: Ready | None = None) -> str | None:
    """Deliver one claimed letter and record the outcome; None if the claim was lost."""
    return record(px, attempt(px, letter_id, lease, ready))


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


def _due_orgs(px: Pishkhan) -> list[str]:
    with px.sessions() as s:
        return sorted(s.scalars(select(Letter.org).where(
            Letter.state.in_(CLAIMABLE), Letter.next_attempt_at <= now(),
            Letter.org.in_(sorted(px.orgs)), not_paused()).distinct()))


def run_once(px: Pishkhan, limit: int | None = None) -> int:
    """Deliver what is due now and wait for it: organizations side by side, each with its own
    concurrency, so one slow system does not hold the others. A letter is claimed only when a
    slot is free to start it, so a worker that dies strands only the letters it was sending,
    and each letter is tried at most once per call (a failure waits for the next run)."""
    release_expired(px)
    tick = now()
    cap = limit if limit is not None else 1 << 30
    started = 0
    guard = threading.Lock()

    def take(slug: str) -> tuple[int, datetime, Ready | None] | None:
        nonlocal started
        with guard:
            if started >= cap:
                return None
            started += 1  # reserved; given back below if nothing was due
        leases = claim(px, 1, [slug], due_by=tick)
        if not leases:
            with guard:
                started -= 1
            return None
        letter_id, (lease, ready) = next(iter(leases.items()))
        return letter_id, lease, ready

    def org_pass(slug: str) -> None:
        workers = max(1, px.org(slug).delivery_concurrency)
        # A slot's next call does not wait for the last one's record, which a helper writes
        # meanwhile (as in Dispatcher._deliver); calls stay at most `workers` records ahead.
        room = threading.BoundedSemaphore(2 * workers)
        with ThreadPoolExecutor(2 * workers, thread_name_prefix=f"record-{slug}") as recorder:
            records: list[Future[str | None]] = []

            def slot(_: int) -> None:
                while (taken := take(slug)) is not None:
                    done = attempt(px, *taken)
                    room.acquire()
                    future = recorder.submit(record, px, done)
                    future.add_done_callback(lambda _: room.release())
                    records.append(future)

            if workers == 1:
                slot(0)
            else:
                with ThreadPoolExecutor(workers, thread_name_prefix=f"deliver-{slug}") as pool:
                    list(pool.map(slot, range(workers)))
            for done in records:
                done.result()  # a record that failed fails the run, as before

    slugs = _due_orgs(px)
    if len(slugs) <= 1:
        for slug in slugs:
            org_pass(slug)
    else:
        with ThreadPoolExecutor(len(slugs), thread_name_prefix="deliver-orgs") as pool:
            list(pool.map(org_pass, slugs))
    return started
