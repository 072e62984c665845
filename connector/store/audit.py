"""The audit trail: every staff action and every change of a letter's state, hash-chained.

Writers only INSERT: a record is born *unsealed* (no sequence number, no hash) and touches no
shared row, so any number of requests and workers append at once without waiting for each
other. A *sealer* — one at a time, run by the worker every few seconds and before
``pishkhan audit verify`` — takes the unsealed records in the order they became visible, gives
each the next sequence number and a hash over its own fields and the previous record's hash,
and moves the ``audit_head`` row (last sequence number and hash) forward. Changing or deleting a
sealed record breaks the chain; deleting records from the end disagrees with the head; inserting
one needs a sequence number that is taken (unique) or a link that does not fit.

Why one hash per record and not a Merkle root per batch: the sealer is alone, so chaining costs
one SHA-256 per record and no waiting for anybody; verifying still names the exact record that
was changed, and the chain format stays what it was. A batch root would only pay off if records
were sealed by many writers in parallel, which is the contention this design removes.

The price is a short window: a record is protected from the moment it is sealed, not from the
moment it is written (at most one seal interval, ``PISHKHAN_AUDIT_SEAL_SECONDS``).

State changes are recorded centrally, from a flush listener on the session factory, so no use
case can move a letter without leaving a record — as long as states change on ORM objects, not
through bulk UPDATE statements on the table (tests/unit/test_audit_rules.py keeps it so). Who did
it comes from :func:`acting_as`; work done by the scheduler is recorded as ``system``.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from connector.domain.clock import now
from connector.store import plain
from connector.store.models import AuditHead, AuditRecord

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

_log = logging.getLogger(__name__)

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


def rows(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The unsealed audit_records rows of ``entries`` (for :func:`append`, or a chain)."""
    # Whole seconds: every database keeps them exactly, so the hash can be recomputed anywhere.
    at = now().replace(microsecond=0)
    return [{"at": at, "actor": entry.get("actor") or current_actor(),
             "action": entry["action"], "org": entry.get("org") or "",
             "letter": entry.get("letter") or "", "detail": entry.get("detail", {})}
            for entry in entries]


def append(session: Session, entries: list[dict[str, Any]]) -> None:
    """Add unsealed records in the caller's transaction: one INSERT, no shared row touched."""
    plain.insert_rows(session.connection(), AuditRecord.__table__, rows(entries))


def hold_chain(session: Session) -> tuple[int, str]:
    """Lock the end of the chain until the caller's transaction ends and return (last seq, its
    hash). The sealer holds it while sealing; work that must run alone across all workers (the
    daily digest, retention, which takes it before any other row so that every such writer
    locks in the same order) holds it too. Appending does not. The write comes first: it takes
    the row lock on PostgreSQL and the one write lock on SQLite, so the read below is the true
    end of the chain."""
    conn = session.connection()
    touched = conn.execute(update(AuditHead).where(AuditHead.id == 1)
                           .values(seq=AuditHead.seq)).rowcount
    if not touched:
        conn.execute(insert(AuditHead).values(id=1, seq=0, hash=""))
    head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    return head.seq, head.hash


def _seal_batch(session: Session, batch: int) -> int:
    seq, prev = hold_chain(session)
    conn = session.connection()
    rows = conn.execute(
        select(AuditRecord.id, AuditRecord.at, AuditRecord.actor, AuditRecord.action,
               AuditRecord.org, AuditRecord.letter, AuditRecord.detail)
        .where(AuditRecord.seq.is_(None)).order_by(AuditRecord.id).limit(batch)).all()
    if not rows:
        return 0
    links = []
    for r in rows:
        seq += 1
        digest = _digest(seq, r.at, r.actor, r.action, r.org, r.letter, r.detail or {}, prev)
        links.append({"b_id": r.id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
        prev = digest
    conn.execute(update(AuditRecord).where(AuditRecord.id == bindparam("b_id"))
                 .values(seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"),
                         hash=bindparam("b_hash")), links)
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=seq, hash=prev))
    return len(rows)


def seal(px: Pishkhan, batch: int = 2000) -> int:
    """Chain every record written so far, oldest first; returns how many were sealed. Safe to
    run from several workers at once: they take turns on the head row."""
    total = 0
    while True:
        with px.sessions() as s, s.begin():
            n = _seal_batch(s, batch)
        total += n
        if n < batch:
            if total:
                _log.debug("audit: sealed %s records", total)
            return total


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


def verify(px: Pishkhan, batch: int = 5000, seal_first: bool = True) -> Verdict:
    """Seal what is waiting, then walk the chain up to the head; the first broken link is
    reported with its sequence number. Records sealed while the walk runs lie past the head
    read at its start and are left for the next run."""
    if seal_first:
        seal(px)
    expected, prev, last = 1, "", 0
    with px.sessions() as s:
        head = s.get(AuditHead, 1)
        head_seq, head_hash = (head.seq, head.hash) if head else (0, "")
        while expected <= head_seq:
            rows = s.scalars(select(AuditRecord).where(AuditRecord.seq >= expected,
                                                       AuditRecord.seq <= head_seq)
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
           before_id: int | None = None) -> list[AuditRecord]:
    """Newest first, unsealed records included, paged by the primary key (``before_id``) so
    a page costs the same at any depth. ``orgs`` limits an organization admin to their own
    organizations (and to records that belong to no organization, such as their own logins,
    only when ``None``)."""
    stmt = select(AuditRecord).order_by(AuditRecord.id.desc()).limit(limit)
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
    if before_id:
        stmt = stmt.where(AuditRecord.id < before_id)
    with px.sessions() as s:
        return list(s.scalars(stmt))


def actions(px: Pishkhan) -> list[str]:
    """The distinct actions, one index seek each (a skip scan over ``ix_audit_action``), so
    the viewer's filter list costs the same with a thousand records or a hundred million."""
    skip = text("WITH RECURSIVE a(action) AS ("
                " SELECT MIN(action) FROM audit_records"
                " UNION ALL SELECT (SELECT MIN(r.action) FROM audit_records r"
                " WHERE r.action > a.action) FROM a WHERE a.action IS NOT NULL)"
                " SELECT action FROM a WHERE action IS NOT NULL")
    with px.sessions() as s:
        return [a for (a,) in s.execute(skip)]
