"""The audit trail: every staff action and every change of a letter's state, hash-chained.

Each record's hash covers its own fields and the previous record's hash, so changing or
deleting a record breaks the chain; the single ``audit_head`` row holds the last sequence number
and hash, so deleting records from the end is seen too. Appends lock that row (``FOR UPDATE``;
SQLite already holds its one write lock after the flush), so any number of processes append to
one chain without forking it.

State changes are recorded centrally, from a flush listener on the session factory, so no use
case can move a letter without leaving a record — as long as states change on ORM objects, not
through bulk UPDATE statements on the table (tests/unit/test_audit_rules.py keeps it so). Who did
it comes from :func:`acting_as`; work done by the scheduler is recorded as ``system``.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from connector.domain.clock import now
from connector.store.models import AuditHead, AuditRecord

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

SYSTEM = "system"
_actor: ContextVar[str] = ContextVar("audit_actor", default=SYSTEM)


def current_actor() -> str:
    return _actor.get()


@contextmanager
def acting_as(actor: str) -> Iterator[None]:
    """Attribute everything recorded inside the block to ``actor`` (e.g. ``staff:ali``)."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def set_actor(actor: str) -> object:
    """For request hooks that cannot wrap a block; pass the result to :func:`reset_actor`."""
    return _actor.set(actor)


def reset_actor(token: object) -> None:
    _actor.reset(token)  # type: ignore[arg-type]


def _digest(seq: int, at: datetime, actor: str, action: str, org: str, letter: str,
            detail: dict[str, Any], prev: str) -> str:
    payload = json.dumps([seq, at.isoformat(), actor, action, org, letter, detail, prev],
                         ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def hold_chain(session: Session) -> None:
    """Lock the end of the chain until the caller's transaction ends. ``append`` does it first;
    a transaction that will append after locking other rows may call it before them, so every
    writer takes the locks in the same order."""
    conn = session.connection()
    # Touch the head row: the write locks it on every database (on SQLite it takes the one
    # write lock), so a read after it sees the true end of the chain until we commit.
    touched = conn.execute(update(AuditHead).where(AuditHead.id == 1)
                           .values(seq=AuditHead.seq)).rowcount
    if not touched:
        conn.execute(insert(AuditHead).values(id=1, seq=0, hash=""))


def append(session: Session, entries: list[dict[str, Any]]) -> None:
    """Append records to the chain in the caller's transaction."""
    conn = session.connection()
    hold_chain(session)
    head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    seq, prev = head.seq, head.hash
    # Whole seconds: every database keeps them exactly, so the hash can be recomputed anywhere.
    at = now().replace(microsecond=0)
    rows = []
    for entry in entries:
        seq += 1
        detail = entry.get("detail", {})
        row = {"seq": seq, "at": at, "actor": entry.get("actor") or current_actor(),
               "action": entry["action"], "org": entry.get("org") or "",
               "letter": entry.get("letter") or "", "detail": detail}
        row["prev_hash"] = prev
        row["hash"] = prev = _digest(seq, at, row["actor"], row["action"], row["org"],
                                     row["letter"], detail, row["prev_hash"])
        rows.append(row)
    conn.execute(insert(AuditRecord), rows)
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))


def record(session: Session, action: str, *, org: str = "", letter: str = "",
           actor: str | None = None, **detail: Any) -> None:
    """A staff action, in the caller's transaction: it commits or rolls back with the action."""
    with session.no_autoflush:
        append(session, [{"action": action, "org": org, "letter": letter, "actor": actor,
                           "detail": {k: v for k, v in detail.items() if v is not None}}])


def log(px: Pishkhan, action: str, **kwargs: Any) -> None:
    """A staff action that changes nothing else in the store (a login, a viewed attachment)."""
    with px.sessions() as s, s.begin():
        record(s, action, **kwargs)


# --- checking and reading ---------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int
    head: str
    problem: str = ""
    seq: int | None = None


def verify(px: Pishkhan, batch: int = 5000) -> Verdict:
    """Walk the whole chain; the first broken link is reported with its sequence number."""
    expected, prev = 1, ""
    with px.sessions() as s:
        head = s.get(AuditHead, 1)
        last = 0
        while True:
            rows = s.scalars(select(AuditRecord).where(AuditRecord.seq >= expected)
                             .order_by(AuditRecord.seq).limit(batch)).all()
            if not rows:
                break
            for r in rows:
                if r.seq != expected:
                    return Verdict(False, last, prev, f"records {expected}..{r.seq - 1} are "
                                   "missing (deleted)", expected)
                if r.prev_hash != prev:
                    return Verdict(False, last, prev, "the link to the previous record is "
                                   "broken", r.seq)
                digest = _digest(r.seq, r.at, r.actor, r.action, r.org, r.letter,
                                 r.detail or {}, r.prev_hash)
                if digest != r.hash:
                    return Verdict(False, last, prev, "the record was altered", r.seq)
                prev, last, expected = r.hash, r.seq, r.seq + 1
            s.expire_all()
        head_seq, head_hash = (head.seq, head.hash) if head else (0, "")
        if head_seq != last or head_hash != prev:
            return Verdict(False, last, prev, f"the chain ends at record {last} but the head "
                           f"says {head_seq}: records at the end were deleted", last + 1)
    return Verdict(True, last, prev)


@dataclass
class Filters:
    actor: str = ""
    action: str = ""
    org: str = ""
    letter: str = ""
    since: datetime | None = None
    until: datetime | None = None


def search(px: Pishkhan, filters: Filters, orgs: list[str] | None = None, limit: int = 200,
           before_seq: int | None = None) -> list[AuditRecord]:
    """Newest first. ``orgs`` limits an organization admin to their own organizations (and to
    records that belong to no organization, such as their own logins, only when ``None``)."""
    stmt = select(AuditRecord).order_by(AuditRecord.seq.desc()).limit(limit)
    if filters.actor:
        stmt = stmt.where(AuditRecord.actor.contains(filters.actor))
    if filters.action:
        stmt = stmt.where(AuditRecord.action.startswith(filters.action))
    if filters.org:
        stmt = stmt.where(AuditRecord.org == filters.org)
    if filters.letter:
        stmt = stmt.where(AuditRecord.letter == filters.letter)
    if filters.since:
        stmt = stmt.where(AuditRecord.at >= filters.since)
    if filters.until:
        stmt = stmt.where(AuditRecord.at < filters.until)
    if orgs is not None:
        stmt = stmt.where(AuditRecord.org.in_(orgs))
    if before_seq:
        stmt = stmt.where(AuditRecord.seq < before_seq)
    with px.sessions() as s:
        return list(s.scalars(stmt))


def actions(px: Pishkhan) -> list[str]:
    with px.sessions() as s:
        return [a for (a,) in s.execute(select(AuditRecord.action).group_by(AuditRecord.action)
                                        .order_by(func.min(AuditRecord.action)))]
