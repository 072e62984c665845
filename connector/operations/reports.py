"""Reports per organization and unit over a period: letters received, approved and rejected,
median time to registration and to an answer, letters overdue against their service's promised
duration, and the average satisfaction score.

Counted over letters handed in during the period. "Approved" means accepted by the secretariat:
approved in the console or registered in the correspondence system. Durations are calendar days
(the catalog's ``duration_days`` is what citizens are promised; holidays are not subtracted).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from connector.domain.clock import now
from connector.domain.letter import State
from connector.store.models import Event, Letter, Survey

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

    def add(self, other: Row) -> None:
        for name in ("received", "approved", "rejected", "overdue"):
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


def build(px: Pishkhan, slug: str, since: datetime, until: datetime) -> Report:
    org = px.org(slug)
    at = now()
    with px.sessions() as s:
        rows = s.execute(select(Letter.id, Letter.unit_code, Letter.service_code, Letter.state,
                                Letter.created_at)
                         .where(Letter.org == slug, Letter.created_at >= since,
                                Letter.created_at < until)).all()
        ids = [r.id for r in rows]
        firsts: dict[tuple[int, str], datetime] = {}
        scores: dict[int, int] = {}
        # In chunks: some databases limit the number of bound parameters.
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for letter_id, kind, first in s.execute(
                    select(Event.letter_id, Event.kind, func.min(Event.at))
                    .where(Event.letter_id.in_(chunk),
                           Event.kind.in_(("approved", "registered", "rejected")
                                          + ANSWERED_KINDS))
                    .group_by(Event.letter_id, Event.kind)):
                firsts[(letter_id, kind)] = first
            scores.update(s.execute(select(Survey.letter_id, Survey.score)
                                    .where(Survey.letter_id.in_(chunk))).all())
    by_unit: dict[str, Row] = {}
    for r in rows:
        unit = org.unit(r.unit_code)
        row = by_unit.setdefault(r.unit_code, Row(r.unit_code, unit.name if unit else
                                                  r.unit_code))
        row.received += 1
        registered = firsts.get((r.id, "registered"))
        if registered or (r.id, "approved") in firsts:
            row.approved += 1
        if r.state == State.REJECTED.value or (r.id, "rejected") in firsts:
            row.rejected += 1
        if registered:
            row._to_registration.append((registered - r.created_at).total_seconds())
        answered = min((firsts[(r.id, k)] for k in ANSWERED_KINDS if (r.id, k) in firsts),
                       default=None)
        if answered:
            row._to_answer.append((answered - r.created_at).total_seconds())
        service = org.service(r.service_code)
        if service and service.duration_days and r.state not in NOT_PURSUED:
            due = r.created_at + timedelta(days=service.duration_days)
            if (answered or at) > due:
                row.overdue += 1
        if r.id in scores:
            row._scores.append(scores[r.id])
    # Every unit of the organization appears, in the file's order, even with nothing in it.
    units = [by_unit.pop(u.code, Row(u.code, u.name)) for u in org.units]
    units += sorted(by_unit.values(), key=lambda row: row.unit)
    total = Row("", "همه واحدها")
    for row in units:
        total.add(row)
    return Report(slug, since, until, units, total)


CSV_HEADER = ("unit", "unit_name", "received", "approved", "rejected",
              "median_hours_to_registration", "median_hours_to_answer", "overdue",
              "satisfaction_average", "ratings")


def csv_rows(report: Report) -> list[tuple[object, ...]]:
    def line(row: Row) -> tuple[object, ...]:
        return (row.unit or "*", row.name, row.received, row.approved, row.rejected,
                _blank(row.median_hours_to_registration), _blank(row.median_hours_to_answer),
                row.overdue, _blank(row.satisfaction), row.ratings)
    return [CSV_HEADER] + [line(r) for r in report.units] + [line(report.total)]


def _blank(value: float | None) -> object:
    return "" if value is None else value
