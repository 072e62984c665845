"""Reports per organization and unit over a period: letters received, approved and rejected,
median time to registration and to an answer, letters overdue against their promised date and
by how many working days, and the average satisfaction score.

Counted over letters handed in during the period, including those the retention run has since
destroyed (it keeps an anonymous statistics row for each: no name, code, mobile or text).
"Approved" means accepted by the secretariat: approved in the console or registered in the
correspondence system. Times to registration and to an answer are clock hours; lateness is
counted in working days against the letter's promised date (``due_date``, fixed at submission;
for letters without one — handed in before it existed, or destroyed by the retention run —
worked out from the service's ``duration_days`` on the organization's calendar).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from connector.domain.clock import local, now
from connector.domain.letter import State
from connector.store.models import Event, Letter, LetterStatistic, Survey

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

NOT_PURSUED = (State.REJECTED.value, State.WITHDRAWN.value)
ANSWERED_KINDS = ("answered", "closed")


@dataclass
class Row:
    unit: str
    name: str
    received: int = 0
    approved: int = 0
    rejected: int = 0
    overdue: int = 0
    days_late: float = 0.0  # working days past the promise, summed over the overdue letters
    _to_registration: list[float] = field(default_factory=list, repr=False)
    _to_answer: list[float] = field(default_factory=list, repr=False)
    _scores: list[int] = field(default_factory=list, repr=False)

    @property
    def median_hours_to_registration(self) -> float | None:
        return _median_hours(self._to_registration)

    @property
    def median_hours_to_answer(self) -> float | None:
        return _median_hours(self._to_answer)

    @property
    def satisfaction(self) -> float | None:
        return round(statistics.fmean(self._scores), 2) if self._scores else None

    @property
    def ratings(self) -> int:
        return len(self._scores)

    @property
    def average_days_late(self) -> float | None:
        return round(self.days_late / self.overdue, 1) if self.overdue else None

    def add(self, other: Row) -> None:
        for name in ("received", "approved", "rejected", "overdue", "days_late"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self._to_registration += other._to_registration
        self._to_answer += other._to_answer
        self._scores += other._scores


def _median_hours(seconds: list[float]) -> float | None:
    return round(statistics.median(seconds) / 3600, 1) if seconds else None


@dataclass
class Report:
    org: str
    since: datetime
    until: datetime
    units: list[Row]
    total: Row


@dataclass(frozen=True)
class Fact:
    """What a report needs of one letter, and nothing personal: the same whether it is read
    from a letter or from the statistics row the retention run keeps when it destroys one."""
    unit_code: str
    service_code: str
    state: str
    created_at: datetime
    approved: bool
    rejected: bool
    registered_at: datetime | None
    answered_at: datetime | None
    score: int | None
    due_date: date | None = None  # the promise; not kept for destroyed letters


def letter_facts(s: Session, where: Any) -> list[tuple[int, Fact]]:
    """(letter id, fact) for the letters matching ``where`` (a SQL condition on Letter)."""
    rows = s.execute(select(Letter.id, Letter.unit_code, Letter.service_code, Letter.state,
                            Letter.created_at, Letter.due_date).where(where)).all()
    ids = [r.id for r in rows]
    firsts: dict[tuple[int, str], datetime] = {}
    scores: dict[int, int] = {}
    # In chunks: some databases limit the number of bound parameters.
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        for letter_id, kind, first in s.execute(
                select(Event.letter_id, Event.kind, func.min(Event.at))
                .where(Event.letter_id.in_(chunk),
                       Event.kind.in_(("approved", "registered", "rejected") + ANSWERED_KINDS))
                .group_by(Event.letter_id, Event.kind)):
            firsts[(letter_id, kind)] = first
        scores.update(s.execute(select(Survey.letter_id, Survey.score)
                                .where(Survey.letter_id.in_(chunk))).all())
    facts = []
    for r in rows:
        registered = firsts.get((r.id, "registered"))
        facts.append((r.id, Fact(
            unit_code=r.unit_code, service_code=r.service_code, state=r.state,
            created_at=r.created_at,
            approved=bool(registered or (r.id, "approved") in firsts),
            rejected=r.state == State.REJECTED.value or (r.id, "rejected") in firsts,
            registered_at=registered,
            answered_at=min((firsts[(r.id, k)] for k in ANSWERED_KINDS
                             if (r.id, k) in firsts), default=None),
            score=scores.get(r.id), due_date=r.due_date)))
    return facts


def _kept_facts(s: Session, slug: str, since: datetime, until: datetime) -> list[Fact]:
    """Letters the retention run has destroyed still count in the period they were handed in."""
    rows = s.scalars(select(LetterStatistic).where(
        LetterStatistic.org == slug, LetterStatistic.created_at >= since,
        LetterStatistic.created_at < until)).all()
    return [Fact(unit_code=r.unit_code, service_code=r.service_code, state=r.state,
                 created_at=r.created_at, approved=r.approved, rejected=r.rejected,
                 registered_at=r.registered_at, answered_at=r.answered_at, score=r.score)
            for r in rows]


def build(px: Pishkhan, slug: str, since: datetime, until: datetime) -> Report:
    org = px.org(slug)
    at = now()
    calendar = px.calendar(slug)
    with px.sessions() as s:
        facts = [f for _, f in letter_facts(s, and_(Letter.org == slug,
                                                    Letter.created_at >= since,
                                                    Letter.created_at < until))]
        facts += _kept_facts(s, slug, since, until)
    by_unit: dict[str, Row] = {}
    for r in facts:
        unit = org.unit(r.unit_code)
        row = by_unit.setdefault(r.unit_code, Row(r.unit_code, unit.name if unit else
                                                  r.unit_code))
        row.received += 1
        row.approved += r.approved
        row.rejected += r.rejected
        if r.registered_at:
            row._to_registration.append((r.registered_at - r.created_at).total_seconds())
        if r.answered_at:
            row._to_answer.append((r.answered_at - r.created_at).total_seconds())
        service = org.service(r.service_code)
        due = r.due_date
        if due is None and service and service.duration_days:
            due = calendar.add(local(r.created_at).date(), service.duration_days)
        if due is not None and r.state not in NOT_PURSUED:
            late = calendar.late_by(due, local(r.answered_at or at).date())
            if late > 0:
                row.overdue += 1
                row.days_late += late
        if r.score is not None:
            row._scores.append(r.score)
    # Every unit of the organization appears, in the file's order, even with nothing in it.
    units = [by_unit.pop(u.code, Row(u.code, u.name)) for u in org.units]
    units += sorted(by_unit.values(), key=lambda row: row.unit)
    total = Row("", "")  # "all units": the reader's words, filled in where it is shown
    for row in units:
        total.add(row)
    return Report(slug, since, until, units, total)


CSV_HEADER = ("unit", "unit_name", "received", "approved", "rejected",
              "median_hours_to_registration", "median_hours_to_answer", "overdue",
              "satisfaction_average", "ratings", "working_days_late")


def csv_rows(report: Report) -> list[tuple[object, ...]]:
    def line(row: Row) -> tuple[object, ...]:
        return (row.unit or "*", row.name, row.received, row.approved, row.rejected,
                _blank(row.median_hours_to_registration), _blank(row.median_hours_to_answer),
                row.overdue, _blank(row.satisfaction), row.ratings, row.days_late)
    return [CSV_HEADER] + [line(r) for r in report.units] + [line(report.total)]


def _blank(value: float | None) -> object:
    return "" if value is None else value
