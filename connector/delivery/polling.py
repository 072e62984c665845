"""Following letters inside the correspondence system: read its routing changes, record each
once, move the letter forward (never back) and queue the citizen's SMS in the same transaction."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from connector.domain.clock import now, to_naive_utc
from connector.domain.errors import ExternalError, PermanentError
from connector.domain.letter import (
    FOLLOWED,
    ChangeKind,
    DeliveryReceipt,
    RoutingChange,
    State,
)
from connector.letters import lifecycle
from connector.store.db import for_claim, for_update, transaction
from connector.store.models import Event, Letter, OrgState

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)


def _find_letter(s: Session, org: str, change: RoutingChange) -> Letter | None:
    # One indexed look-up per key, not an OR of both: with an OR, SQLite may read every letter
    # of the organization instead of using either index.
    # Locked: a delivery being recorded at this moment commits first and is seen. Read
    # unlocked, the letter looked not yet delivered, the change was held for the delivery to
    # replay, and the delivery (which had read the timeline before the change was in it)
    # never did: the letter stayed «delivered» for good (bench/chaos.py on PostgreSQL).
    keys = []
    if change.external_id:
        keys.append(Letter.external_id == change.external_id)
    if change.reference:
        keys.append(Letter.tracking_code == change.reference)
    for key in keys:
        letter = s.scalars(for_update(select(Letter).options(selectinload(Letter.events))
                                      .where(Letter.org == org, key).limit(1), s)).first()
        if letter is not None:
            return letter
    return None


SYSTEM_SOURCE = "pishkhan:"  # our own timeline entries; every other source is the system's
CHANGE_KINDS = frozenset(k.value for k in ChangeKind)


def apply_change(px: Pishkhan, s: Session, org: str, change: RoutingChange) -> bool:
    """Record one change; True if it was new. The state moves only along the transition table,
    so a repeated or late change is kept in the timeline but never rolls the letter back.

    A change about a letter whose delivery we have not recorded yet (the answer is still on its
    way, or was lost and will be reconciled) is kept in the timeline only; delivery replays it
    through :func:`advance` once the letter is recorded as delivered."""
    letter = _find_letter(s, org, change)
    if letter is None:
        return False
    if s.scalar(select(Event.id).where(Event.letter_id == letter.id,
                                       Event.source_id == change.source_id)):
        return False
    if (change.kind is ChangeKind.REGISTERED and letter.letter_number
            and letter.letter_number == change.number):
        return False  # already known from the delivery answer
    unit = px.org(org).unit_name(change.unit)  # citizens read "امور مالی", not "FIN"
    event = lifecycle.record_event(letter, change.kind.value, source_id=change.source_id,
                   at=to_naive_utc(change.at), number=change.number, reason=change.reason,
                   unit=unit, person=change.person, instruction=change.instruction)
    if State(letter.state) in FOLLOWED:
        advance(px, s, letter, event)
    else:
        log.info("letter %s: %s held until its delivery is recorded", letter.tracking_code,
                 change.kind.value)
    return True


def advance(px: Pishkhan, s: Session, letter: Letter, event: Event) -> None:
    """Move the letter by a recorded system change, if the transition table allows it."""
    if not lifecycle.apply_system_change(px, s, letter, event):
        log.info("letter %s: %s after %s kept in the timeline only", letter.tracking_code,
                 event.kind, letter.state)


def replay_held(px: Pishkhan, s: Session, letter: Letter) -> None:
    """After a delivery is recorded: apply the system's changes that arrived before it."""
    for event in list(letter.events):
        if not event.source_id.startswith(SYSTEM_SOURCE) and event.kind in CHANGE_KINDS:
            advance(px, s, letter, event)


def _ensure_state(px: Pishkhan, slug: str) -> None:
    try:
        with transaction(px.sessions) as s:
            if s.get(OrgState, slug) is None:
                s.add(OrgState(org=slug, cursor=""))
    except IntegrityError:
        pass  # another worker created it a moment ago


SNAPSHOT_BATCH = 100  # letters looked up per poll where the system has no routing feed


def snapshot_change(tracking_code: str, receipt: DeliveryReceipt) -> RoutingChange | None:
    """A look-up's status as a routing change. The source id is the snapshot itself, so the
    same snapshot seen again is recorded once, and a different one is a new change."""
    try:
        kind = ChangeKind(receipt.status)
    except ValueError:
        return None  # e.g. still pending in the inbox
    # A referral to another unit is news even though the status stays "referred".
    where = f":{receipt.unit}" if kind is ChangeKind.REFERRED and receipt.unit else ""
    return RoutingChange(source_id=f"snapshot:{kind.value}:{receipt.letter_number or ''}{where}",
                         kind=kind, at=receipt.letter_date or now(),
                         external_id=receipt.external_id, reference=tracking_code,
                         number=receipt.letter_number, reason=receipt.reason,
                         unit=receipt.unit, person=receipt.person)


def poll_snapshots(px: Pishkhan, slug: str, batch: int = SNAPSHOT_BATCH) -> int:
    """For systems without a routing feed: look the followed letters up, those checked longest
    ago first (so every letter's turn comes), and record what differs from what we know."""
    _ensure_state(px, slug)
    with px.sessions() as s:
        state = s.get(OrgState, slug)
        if state is not None and state.paused:
            return 0
        rows = s.execute(
            select(Letter.id, Letter.tracking_code)
            .where(Letter.org == slug, Letter.state.in_([st.value for st in FOLLOWED]))
            .order_by(Letter.checked_at.is_not(None), Letter.checked_at, Letter.id)
            .limit(batch)).all()
    adapter, new = px.adapter(slug), 0
    for letter_id, code in rows:
        try:
            receipt = adapter.find(code)
        except ExternalError as exc:
            with transaction(px.sessions) as s:
                state = s.get(OrgState, slug)
                assert state is not None
                state.last_poll_at = now()
                state.last_poll_error = f"{code}: {exc.kind}: {exc.detail}"[:2000]
                letter = s.get(Letter, letter_id)
                if isinstance(exc, PermanentError) and letter is not None:
                    # This letter's look-up fails on its own; its turn passes, so one letter
                    # cannot keep the organization's others from being checked.
                    letter.checked_at = now()
                    letter.last_error = f"status look-up: {exc.detail}"[:2000]
            log.warning("status look-up for %s failed: %s", slug, exc.detail)
            if isinstance(exc, PermanentError):
                continue
            return new  # the system is down or misconfigured: try again next poll
        with transaction(px.sessions) as s:
            letter = s.get(Letter, letter_id)
            if letter is None:
                continue
            letter.checked_at = now()
            change = snapshot_change(code, receipt) if receipt is not None else None
            if change is not None:
                new += apply_change(px, s, slug, change)
    with transaction(px.sessions) as s:
        state = s.get(OrgState, slug)
        assert state is not None
        state.last_poll_at = state.last_poll_ok_at = now()
        state.last_poll_error = None
    return new


_warned: dict[str, str] = {}  # per organization, the poll error last logged by this process


def _warn_once(slug: str, error: str | None) -> None:
    """Log a failing poll when its error is new, and the recovery; the same error at every
    tick (a missing driver, a system that is down for an hour) is logged once, while the
    organization's state row keeps the latest for the dashboard."""
    if error is None:
        if _warned.pop(slug, None) is not None:
            log.info("poll %s works again", slug)
    elif _warned.get(slug) != error:
        _warned[slug] = error
        log.warning("poll %s failed: %s", slug, error)


def _record_unusable(px: Pishkhan, slug: str, exc: ExternalError) -> None:
    """The organization's adapter cannot even be built (a missing ODBC driver, a bad option):
    a plain error on its state row, not a traceback at every tick."""
    error = f"{exc.kind}: {exc.detail}"[:2000]
    with transaction(px.sessions) as s:
        state = s.get(OrgState, slug)
        if state is not None:
            state.last_poll_at = now()
            state.last_poll_error = error
    _warn_once(slug, error)


def poll_org(px: Pishkhan, slug: str) -> int:
    """One routing poll for an organization; returns how many new changes were recorded.

    The org's state row is locked for the poll (PostgreSQL), so only one worker polls an
    organization at a time. Nothing is written before the remote call: on SQLite a write would
    hold the database lock for as long as the remote system takes to answer."""
    _ensure_state(px, slug)
    try:
        adapter = px.adapter(slug)
    except ExternalError as exc:
        _record_unusable(px, slug, exc)
        return 0
    if not adapter.capabilities.changes_feed:
        return poll_snapshots(px, slug)
    with transaction(px.sessions) as s:
        state = s.scalars(for_claim(select(OrgState).where(OrgState.org == slug), s)).first()
        if state is None or state.paused:
            return 0
        try:
            result = adapter.changes(state.cursor)
        except ExternalError as exc:
            state.last_poll_at = now()
            state.last_poll_error = f"{exc.kind}: {exc.detail}"[:2000]
            _warn_once(slug, state.last_poll_error)
            return 0
        new = sum(apply_change(px, s, slug, change) for change in result.changes)
        state.cursor = result.cursor
        state.last_poll_at = state.last_poll_ok_at = now()
        state.last_poll_error = None
    _warn_once(slug, None)
    if new:
        log.info("poll %s: %s new changes", slug, new)
    return new
