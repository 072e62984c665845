"""A letter's life: the one place that changes its state.

Every change goes through :func:`move`, which checks the transition table, appends the timeline
event (with its source id: ours, or the correspondence system's for a routing change) and queues
the SMS the change causes, in the caller's transaction. The audit record, count and webhook
event of each change are written by :mod:`connector.letters.bookkeeping`, in the same
transaction. The hottest changes (intake, the delivery's claim and outcome) write their rows
without the ORM, here too.

Nothing else assigns ``Letter.state``; a test reads every module of the product to keep it so.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy import (JSON, Connection, DateTime, Integer, String, and_, bindparam, cast, func,
                        literal_column, or_, update)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy import event as sa_event
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from connector.domain.clock import now
from connector.domain.letter import (
    CHANGE_TARGET,
    ChangeKind,
    State,
    can_transition,
    ensure_transition,
)
from connector.letters import bookkeeping, promise
from connector.outbox import mail as mail_outbox
from connector.outbox import sms as sms_outbox
from connector.outbox import webhook_events
from connector.store import chain, group_commit
from connector.store.models import Attachment, Event, Letter, Notification

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

# Letters as they are handed in: the state every letter starts from.
INITIAL = State.STAGED

_moving: ContextVar[bool] = ContextVar("lifecycle_moving", default=False)


@contextmanager
def _owned() -> Iterator[None]:
    token = _moving.set(True)
    try:
        yield
    finally:
        _moving.reset(token)


@sa_event.listens_for(Letter.state, "set")
def _only_here(_letter: Letter, _value: Any, _old: Any, _initiator: Any) -> None:
    # A state written anywhere else would skip the table, the timeline or the SMS.
    if not _moving.get():
        raise RuntimeError("a letter's state changes only through connector.letters.lifecycle")


def new_letter(**fields: Any) -> Letter:
    """A letter as handed in, in the initial state, due for delivery now."""
    # An empty list rather than an unloaded one: a letter handed in without files is read
    # after its session closed (the desk's receipt, its audit record).
    fields.setdefault("attachments", [])
    with _owned():
        return Letter(state=INITIAL.value, attempts=0, next_attempt_at=now(), **fields)


def hand_in(px: Pishkhan, letter: Letter, ready: Callable[[], Any] | None = None,
            sms: str = "receipt") -> None:
    """Write a new letter (built by :func:`new_letter`, with its attachments and timeline) and
    everything that comes with it — the citizen's SMS, the audit record of its first state,
    its webhook event, its count, a delivery wake-up — all or nothing, one INSERT per table.
    ``ready`` returns once what the rows refer to (the letter's files) is durable; nothing
    commits before it has.

    Intake is the hottest path there is, and for it the ORM's unit of work cost more CPU than
    the database work; so this writes the rows directly, and what the flush listener of
    :func:`connector.letters.bookkeeping.install` would have recorded is recorded here, in
    the same shape. On PostgreSQL the rows are one chained statement, a transaction by itself, sent without a
    session; elsewhere (and with an e-mail to queue) one transaction, on SQLite grouped with
    the letters other threads hand in at the same moment (:mod:`connector.store.group_commit`).
    The letter stays a plain object (not in a session) with its id set."""
    letter.created_at = letter.updated_at = now()
    state = inspect(letter).dict  # the values set, read without the attribute machinery
    written = chain.Chain(Letter.__table__, {
        c.key: state[c.key] for c in Letter.__table__.columns
        if c.key != "id" and state.get(c.key) is not None})
    written.child(Attachment.__table__, "letter_id", [
        {"position": a.position, "name": a.name, "content_type": a.content_type,
         "size": a.size, "sha256": a.sha256, "scanned_by": a.scanned_by}
        for a in letter.attachments])
    written.child(Event.__table__, "letter_id", [
        {"source_id": e.source_id, "kind": e.kind, "at": e.at, "data": e.data,
         "created_at": letter.created_at} for e in letter.events])
    # The same choice of channels as notify(): SMS unless the citizen chose e-mail alone.
    variables = sms_outbox.letter_variables(px, letter)
    by_mail = bool(letter.email) and letter.notify_by in ("email", "both")
    if not by_mail or letter.notify_by == "both":
        note = sms_outbox.message(px, sms, letter.mobile, variables, letter.org)
        written.child(Notification.__table__, "letter_id",
                      [{**note, "created_at": letter.created_at}])
    entry = bookkeeping.state_entry(letter.org, letter.tracking_code, None, letter.state)
    _, alone = bookkeeping.chained(px.engine.dialect.name, [entry], written)
    if chain.alone_on(px.engine) and not by_mail and not alone:
        if ready is not None:
            ready()
        letter.id = written.run_alone(px.engine)
        return

    def write(s: Session) -> None:
        conn = s.connection()
        letter.id = written.run(conn)
        for each in alone:
            webhook_events.letter_changed(conn, each)
        if by_mail:
            assert letter.email is not None
            # Rare enough to take the ORM path: the e-mail links to the stored letter.
            mail_outbox.queue(s, px, sms, letter.email, variables,
                              letter=s.get(Letter, letter.id))

    group_commit.write(px.sessions, write, ready=ready)


def record_event(letter: Letter, kind: str, source_id: str | None = None,
                 at: datetime | None = None, **data: Any) -> Event:
    """Append a timeline entry. Our own events get a source id from their position, so the
    same event is never recorded twice; the system's changes bring their own."""
    entry = Event(source_id=source_id or _own_source(kind, len(letter.events)), kind=kind,
                  at=at or now(), data={k: v for k, v in data.items() if v is not None})
    letter.events.append(entry)
    return entry


def _own_source(kind: str, position: int) -> str:
    return f"pishkhan:{kind}:{position}"


def notify(px: Pishkhan, s: Session, letter: Letter, kind: str, **extra: Any) -> None:
    """Queue the citizen's SMS and/or e-mail about this letter (as the citizen chose), in the
    same transaction as the change. Without an address the SMS goes whatever was chosen."""
    variables = {**sms_outbox.letter_variables(px, letter), **extra}
    by_mail = bool(letter.email) and letter.notify_by in ("email", "both")
    if not by_mail or letter.notify_by == "both":
        sms_outbox.queue(s, px, kind, letter.mobile, variables, letter=letter)
    if by_mail:
        assert letter.email is not None
        mail_outbox.queue(s, px, kind, letter.email, variables, letter=letter)


def move(letter: Letter, target: State, *, event: str | None = None,
         px: Pishkhan | None = None, s: Session | None = None, sms: str | None = None,
         **event_data: Any) -> None:
    """Change the letter's state along the transition table (a forbidden move raises
    :class:`InvalidTransition`), record ``event`` in its timeline and queue the ``sms`` kind."""
    leaving = letter.state == State.AWAITING_DOCUMENTS.value
    with _owned():
        letter.state = ensure_transition(letter.state, target).value
    if leaving and target is not State.AWAITING_DOCUMENTS:
        _end_pause(px, letter)
    if event:
        record_event(letter, event, **event_data)
    if sms:
        assert px is not None and s is not None, "an SMS needs the store and the texts"
        notify(px, s, letter, sms)


def may_move(letter: Letter, target: State) -> bool:
    return can_transition(letter.state, target)


def apply_system_change(px: Pishkhan, s: Session, letter: Letter, entry: Event) -> bool:
    """Move the letter by a routing change already in its timeline, if the table allows it,
    and queue the citizen's SMS. A repeated or late change never rolls the letter back."""
    kind = ChangeKind(entry.kind)
    target = CHANGE_TARGET[kind]
    data = entry.data
    if not can_transition(letter.state, target):
        return False
    if kind is ChangeKind.REGISTERED and letter.letter_number \
            and letter.letter_number == data.get("number"):
        return False  # already known from the delivery answer
    if kind is ChangeKind.DOCUMENTS_REQUESTED:
        _pause(letter)
        move(letter, target, px=px)
        note = data.get("instruction") or data.get("text") or ""
        notify(px, s, letter, "documents_requested", note=note)
        webhook_events.documents_requested(s, letter, note, "system")
        return True
    move(letter, target, px=px)
    if kind is ChangeKind.REGISTERED:
        letter.letter_number = data.get("number")
        letter.letter_date = entry.at
    elif kind is ChangeKind.REJECTED:
        letter.rejection_reason = data.get("reason") or "دلیلی نوشته نشده است."
    elif kind is ChangeKind.REFERRED:
        letter.current_unit = data.get("unit")
        letter.current_handler = data.get("person")
    elif kind is ChangeKind.ANSWERED:
        letter.reply_available = px.adapter(letter.org).capabilities.reply_download
    notify(px, s, letter, kind.value)
    return True


# --- waiting for the citizen's documents ------------------------------------------------------

def _pause(letter: Letter) -> None:
    letter.resume_state = letter.state
    letter.paused_since = promise.today()


def _end_pause(px: Pishkhan | None, letter: Letter) -> None:
    """The promise moves on by the working days the citizen was waited for."""
    if letter.paused_since and letter.due_date and px is not None:
        letter.due_date = px.calendar(letter.org).shift(letter.due_date, letter.paused_since,
                                                        promise.today())
    letter.paused_since = letter.resume_state = None


def ask_for_documents(px: Pishkhan, s: Session, letter: Letter, note: str, by: str) -> None:
    """A controller asks the citizen for a missing document (the console's request)."""
    _pause(letter)
    move(letter, State.AWAITING_DOCUMENTS, event="documents_requested", px=px, s=s,
         note=note, by=by)
    notify(px, s, letter, "documents_requested", note=note)
    webhook_events.documents_requested(s, letter, note, "console")


def documents_in(px: Pishkhan, s: Session, letter: Letter, added: list[Attachment],
                 added_to: str, follow_up: str | None) -> None:
    """The citizen sent the files: back to where the letter was, the promise moved on.
    ``added_to`` says where the files went (letter, system_letter or follow_up)."""
    target = State(letter.resume_state or State.AWAITING_APPROVAL.value)
    move(letter, target, event="documents_added", px=px, files=len(added),
         follow_up=follow_up)
    webhook_events.documents_added(s, letter, added, added_to, follow_up)


# --- changes written without the ORM ---------------------------------------------------------

def moving_picked(picked: Any, target: State, returning: tuple[Any, ...] = (),
                  **values: Any) -> Any:
    """:func:`moving` for the letters of ``picked`` — a CTE of their ``id`` and ``state``,
    locked by it — whose rows also carry ``was`` (the state before); they go to
    :func:`picked_moved`. For bulk changes with no timeline event and no SMS (the delivery's
    claim)."""
    return moving(Letter.id == picked.c.id, target,
                  (picked.c.state.label("was"), *returning), **values)


def picked_moved(conn: Connection, rows: list[dict[str, Any]], target: State) -> None:
    """What each change of :func:`moving_picked` brings — its audit record, count and webhook
    event, as :func:`connector.letters.bookkeeping.install` writes them — in one more
    statement on ``conn``. A move the table forbids raises, and the caller's transaction
    undoes it."""
    for row in rows:
        ensure_transition(row["was"], target)
    if rows:
        bookkeeping.write(conn, [bookkeeping.state_entry(row["org"], row["tracking_code"],
                                                         row["was"], target.value)
                                 for row in rows])


def moving(where: Any, target: State, returning: tuple[Any, ...] = (), **values: Any) -> Any:
    """The UPDATE ... RETURNING that moves the letters ``where`` picks (by id, and whatever
    else must still hold) to ``target``, setting ``values`` too; each row: the letter's
    columns after the change, then ``returning``. :func:`one_moved` (or, for a CTE's picks,
    :func:`picked_moved`) writes the rest in the same transaction. For the hottest changes,
    where the ORM's load, unit of work and flush cost several times the database's own
    work; :func:`move` for the rest."""
    return (update(Letter).where(where).values(state=target.value, **values)
            .returning(*Letter.__table__.c, *returning))


def one_moved(px: Pishkhan, conn: Connection, row: dict[str, Any], was: State, target: State,
              events: int, *, event: str | None = None, sms: str | None = None,
              **event_data: Any) -> None:
    """What :func:`move` and the flush bring for a letter moved by :func:`moving` — its
    timeline ``event`` (``events``: how many its timeline held, for the source id, as
    :func:`record_event` numbers it), the ``sms`` to the citizen, the bookkeeping — in one
    statement on PostgreSQL. Only for a letter whose news goes by SMS alone (:func:`by_sms`
    in its ``where``): the e-mail outbox takes the ORM path."""
    ensure_transition(was, target)
    at = now()
    rows: list[tuple[Any, dict[str, Any]]] = []
    if event:
        rows.append((Event.__table__, {
            "letter_id": row["id"], "source_id": _own_source(event, events), "kind": event,
            "at": at, "data": {k: v for k, v in event_data.items() if v is not None},
            "created_at": at}))
    if sms:
        variables = sms_outbox.letter_variables(px, SimpleNamespace(**row))
        rows.append((Notification.__table__, {
            **sms_outbox.message(px, sms, row["mobile"], variables, row["org"]),
            "letter_id": row["id"], "created_at": at}))
    into = chain.Chain(*rows[0]) if rows else None
    for table, each in rows[1:]:
        assert into is not None
        into.also(table, [each])
    bookkeeping.write(conn, [bookkeeping.state_entry(row["org"], row["tracking_code"],
                                                     was.value, target.value)], into)


def by_sms() -> Any:
    """A condition on letters: the citizen hears of them by SMS alone (see :func:`notify`)."""
    return or_(Letter.email.is_(None), Letter.email == "",
               and_(Letter.notify_by != "email", Letter.notify_by != "both"))


def adding_progress() -> Any:
    """The UPDATE that adds finished steps (``patch``: a JSON object as text) to a letter's
    delivery progress (``at``: now), merged in the statement itself, on PostgreSQL; returns the id. Not a
    state change: here because every UPDATE of letters without the ORM is."""
    merged = func.coalesce(cast(Letter.delivery_progress, JSONB),
                           literal_column("'{}'::jsonb")).op("||")(
        cast(bindparam("patch", type_=String), JSONB))
    return (update(Letter).where(Letter.id == bindparam("id", type_=Integer))
            .values(delivery_progress=cast(merged, JSON),
                    updated_at=bindparam("at", type_=DateTime)).returning(Letter.id))
