"""Visit reports over a period: visits per day, per host and unit, per category, the average
stay, overstays and refused scans — counted over visits whose window starts in the period."""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from connector.domain.clock import local, now
from connector.store.visits import GateScan, Visit

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan


@dataclass
class HostRow:
    host: str
    unit: str
    visits: int = 0
    overstays: int = 0
    _stays: list[float] = field(default_factory=list, repr=False)

    @property
    def average_stay_minutes(self) -> float | None:
        return round(statistics.fmean(self._stays), 1) if self._stays else None


@dataclass
class VisitReport:
    days: list[tuple[date, int, int]]  # day (Tehran), visits, refused scans
    hosts: list[HostRow]
    categories: dict[int, int]
    total: HostRow
    refused_scans: int


def _overstayed(v: Visit, at: datetime) -> bool:
    if v.left_at is not None:
        return v.left_at > v.window_end
    return v.state == "inside" and v.window_end < at


def build(px: Pishkhan, org: str, since: datetime, until: datetime) -> VisitReport:
    """``since``/``until``: naive UTC bounds (Tehran midnights, from the page)."""
    at = now()
    with px.sessions() as s:
        rows = list(s.scalars(select(Visit).where(Visit.org == org,
                                                  Visit.window_start >= since,
                                                  Visit.window_start < until)))
        scans = list(s.execute(select(GateScan.at).where(
            GateScan.org == org, GateScan.decision == "deny", GateScan.at >= since,
            GateScan.at < until)).scalars())
        refused = s.scalar(select(func.count()).select_from(GateScan).where(
            GateScan.org == org, GateScan.decision == "deny", GateScan.at >= since,
            GateScan.at < until)) or 0
    per_day: Counter[date] = Counter(local(v.window_start).date() for v in rows)
    denied_day: Counter[date] = Counter(local(t).date() for t in scans)
    hosts: dict[tuple[str, str], HostRow] = defaultdict(lambda: HostRow("", ""))
    total = HostRow("*", "")  # the total row; the page names it
    for v in rows:
        key = (v.host_name or "—", v.unit_code)
        row = hosts.setdefault(key, HostRow(*key))
        for r in (row, total):
            r.visits += 1
            if v.entered_at and v.left_at:
                r._stays.append((v.left_at - v.entered_at).total_seconds() / 60)
            if _overstayed(v, at):
                r.overstays += 1
    days = sorted(set(per_day) | set(denied_day))
    return VisitReport(days=[(d, per_day[d], denied_day[d]) for d in days],
                       hosts=sorted(hosts.values(), key=lambda r: -r.visits),
                       categories=dict(sorted(Counter(v.category for v in rows).items())),
                       total=total, refused_scans=refused)


def csv_rows(report: VisitReport) -> list[list[str]]:
    out = [["host", "unit", "visits", "average_stay_minutes", "overstays"]]
    for r in [*report.hosts, report.total]:
        out.append(["(all)" if r is report.total else r.host, r.unit, str(r.visits), "" if r.average_stay_minutes is None
                    else str(r.average_stay_minutes), str(r.overstays)])
    out.append([])
    out.append(["day", "visits", "refused_scans"])
    out += [[d.isoformat(), str(n), str(refused)] for d, n, refused in report.days]
    out.append([])
    out.append(["category", "visits"])
    out += [[str(c), str(n)] for c, n in report.categories.items()]
    return out
