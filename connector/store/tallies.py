"""Letters per organization and state, and SMS per organization, state and provider, counted
as they change instead of by scanning.

Each state change adds two small rows (-1 for the state left, +1 for the state entered) in the
transaction that makes the change — an INSERT, so no shared counter row is locked and writers
never wait for each other. Reading sums what is there: one row per (organization, state) after
a :func:`fold`, plus the changes since. The worker folds every few seconds; a fold deletes
the rows it read and writes their sums, so several folding at once each take different rows
(a deleted row is skipped by the next DELETE) and the totals stay exact.

The rows are written by the same flush listener that writes the audit record of every state
change (:func:`connector.letters.bookkeeping.install`), so no code path can move a letter
without moving its count. SMS rows come from triggers on ``notifications`` (migration 0006),
since the outbox moves its states with guarded UPDATE statements. Oldest ages come from an
index on (org, state, updated_at): one seek per (organization, state), whatever the number of
letters.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, literal, select, union_all
from sqlalchemy.orm import Session

from connector.store import plain
from connector.store.models import Letter, LetterTally, SmsTally

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan


def rows(changes: Iterable[tuple[str, str | None, str | None]]) -> list[dict[str, Any]]:
    """The letter_tallies rows of (org, state before or None for a new letter, state after or
    None for a letter destroyed)."""
    found: list[dict[str, Any]] = []
    for org, before, after in changes:
        if before:
            found.append({"org": org, "state": before, "delta": -1})
        if after:
            found.append({"org": org, "state": after, "delta": 1})
    return found


def add(session: Session, changes: Iterable[tuple[str, str | None, str | None]]) -> None:
    """Count the changes (see :func:`rows`), in the caller's transaction."""
    found = rows(changes)
    if found:
        plain.insert_rows(session.connection(), LetterTally.__table__, found)


def letter_counts(px: Pishkhan, orgs: list[str] | None = None) -> dict[tuple[str, str], int]:
    """(org, state) -> number of letters, for states that have any."""
    stmt = select(LetterTally.org, LetterTally.state, func.sum(LetterTally.delta)) \
        .group_by(LetterTally.org, LetterTally.state)
    if orgs is not None:
        stmt = stmt.where(LetterTally.org.in_(orgs))
    with px.sessions() as s:
        return {(org, state): int(n) for org, state, n in s.execute(stmt) if n}


def sms_counts(px: Pishkhan) -> dict[tuple[str, str, str], int]:
    """(org or "", state, provider or "") -> SMS, from the rows the database's triggers keep."""
    stmt = select(SmsTally.org, SmsTally.state, SmsTally.gateway, func.sum(SmsTally.delta)) \
        .group_by(SmsTally.org, SmsTally.state, SmsTally.gateway)
    with px.sessions() as s:
        return {(org, state, gw): int(n) for org, state, gw, n in s.execute(stmt) if n}


def oldest(px: Pishkhan, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
    """The least recently changed letter's time for each (org, state): one index seek each,
    all in one statement, so a scrape makes one round trip however many keys there are."""
    keys = list(keys)
    if not keys:
        return {}
    seeks = [select(literal(i), select(Letter.updated_at)
                    .where(Letter.org == org, Letter.state == state)
                    .order_by(Letter.updated_at).limit(1).scalar_subquery())
             for i, (org, state) in enumerate(keys)]
    with px.sessions() as s:
        rows = s.execute(union_all(*seeks) if len(seeks) > 1 else seeks[0]).all()
    return {keys[i]: at for i, at in rows if at is not None}


def fold(px: Pishkhan) -> int:
    """Replace the rows written so far by one row per key, for letters and SMS alike;
    returns how many rows were folded."""
    return _fold(px, LetterTally, ("org", "state")) + \
        _fold(px, SmsTally, ("org", "state", "gateway"))


def _fold(px: Pishkhan, table: type[LetterTally] | type[SmsTally], keys: tuple[str, ...]) -> int:
    columns = [getattr(table, k) for k in keys]
    with px.sessions() as s, s.begin():
        last = s.scalar(select(func.max(table.id)))
        if last is None:
            return 0
        taken = s.execute(delete(table).where(table.id <= last)
                          .returning(*columns, table.delta)).all()
        if len(taken) <= 1:
            s.rollback()
            return 0
        sums: dict[tuple[str, ...], int] = defaultdict(int)
        for *key, delta in taken:
            sums[tuple(key)] += delta
        rows = [{**dict(zip(keys, key)), "delta": n} for key, n in sums.items() if n]
        if rows:
            s.execute(insert(table), rows)
    return len(taken)
