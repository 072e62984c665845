"""What every state change of a letter brings besides itself: its audit record, its count,
its webhook event and the delivery's wake-up, written in the same transaction as the change.

Changes made through the ORM (:func:`connector.letters.lifecycle.move`) are picked up by the
flush listener :func:`install` puts on the session factory, from the attribute history; the
paths that write their rows directly (intake, the delivery's claim) call :func:`chained` or
:func:`write` themselves, with entries of the same shape."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy import event as sa_event
from sqlalchemy import inspect
from sqlalchemy.orm import Session, sessionmaker

from connector.outbox import webhook_events, webhooks
from connector.store import audit, chain, tallies, wakeup
from connector.store.models import AuditRecord, Letter, LetterTally


def state_entry(org: str, code: str, before: str | None, after: str, **detail: Any
                ) -> dict[str, Any]:
    """The audit entry of one letter's state change (``before`` None: a new letter)."""
    return {"action": "letter.state", "org": org, "letter": code,
            "detail": {"from": before, "to": after, **detail}}


def _state_changes(session: Session) -> list[dict[str, Any]]:
    """The audit entry of every letter whose state is about to change; its ``detail`` keeps
    from/to, which also move the letter counts."""
    entries = []
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, Letter):
            continue
        hist = inspect(obj).attrs.state.history
        if not hist.added:
            continue
        before = hist.deleted[0] if hist.deleted else None
        after = hist.added[0]
        if before == after:
            continue
        detail: dict[str, Any] = {}
        if after == "rejected" and obj.rejection_reason:
            detail["reason"] = obj.rejection_reason
        if after in ("delivery_failed", "dead") and obj.last_error:
            detail["error"] = obj.last_error
        entries.append(state_entry(obj.org, obj.tracking_code, before, after, **detail))
    return entries


def _stored_state(letter: Letter) -> str | None:
    """The state the database holds for this letter (before any change not yet flushed)."""
    hist = inspect(letter).attrs.state.history
    return hist.deleted[0] if hist.deleted else letter.state


def chained(dialect: str, entries: list[dict[str, Any]], into: chain.Chain | None = None
                 ) -> tuple[chain.Chain, list[dict[str, Any]]]:
    """What every state change brings — its audit record, its count, its webhook event, the
    delivery's wake-up (PostgreSQL's LISTEN/NOTIFY only) — added to ``into``, or to a chain of
    their own: one statement on PostgreSQL, where each was a round trip and a statement's
    machinery of its own. Also returns the entries whose webhook event has to be queued on its
    own (where the database has no one statement for it)."""
    records = audit.rows(entries)
    if into is None:
        into = chain.Chain(AuditRecord.__table__, records[0])
        records = records[1:]
    into.also(AuditRecord.__table__, records)
    into.also(LetterTally.__table__, tallies.rows(
        [(e["org"], e["detail"]["from"], e["detail"]["to"]) for e in entries]))
    alone = []
    for entry in entries:
        event = webhooks.queued(dialect, *webhook_events.letter_change(entry))
        if event is None:
            alone.append(entry)
        else:
            into.statement(*event)
    for org in sorted({e["org"] for e in entries if e["detail"]["to"] in wakeup.DUE}):
        into.notify(wakeup.CHANNEL, org)
    return into, alone


def write(conn: Connection, entries: list[dict[str, Any]], into: chain.Chain | None = None
          ) -> None:
    """Write the bookkeeping of ``entries`` (with the rest of ``into``) on ``conn``."""
    written, alone = chained(conn.dialect.name, entries, into)
    written.run(conn)
    for entry in alone:
        webhook_events.letter_changed(conn, entry)


def install(factory: sessionmaker[Session]) -> None:
    """Audit and count every letter state change made through sessions of ``factory`` and
    queue its webhook event. Collected before the flush (the attribute history is complete
    then), written after it."""
    pending: dict[int, list[dict[str, Any]]] = {}
    destroyed: dict[int, list[tuple[str, str | None, None]]] = {}

    @sa_event.listens_for(factory, "before_flush")
    def _collect(session: Session, _ctx: Any, _instances: Any) -> None:
        entries = _state_changes(session)
        if entries:
            pending[id(session)] = entries
        gone = [(obj.org, _stored_state(obj), None) for obj in session.deleted
                if isinstance(obj, Letter)]
        if gone:  # letters destroyed by retention leave the counts too
            destroyed[id(session)] = gone

    @sa_event.listens_for(factory, "after_flush")
    def _write(session: Session, _ctx: Any) -> None:
        entries = pending.pop(id(session), None)
        if entries:
            write(session.connection(), entries)
        gone = destroyed.pop(id(session), None)
        if gone:
            tallies.add(session, gone)

    @sa_event.listens_for(factory, "after_soft_rollback")
    def _forget(session: Session, _tx: Any) -> None:
        pending.pop(id(session), None)
        destroyed.pop(id(session), None)
