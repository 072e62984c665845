"""The holiday calendar as data: the shipped file (holidays.toml next to this module) and an
optional file named by PISHKHAN_HOLIDAYS_FILE whose years replace the shipped ones, so a newly
announced year or a corrected lunar date needs no release."""
from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from connector.domain.calendar import THURSDAY_MODES, WorkCalendar, jalali, parse_jalali

SHIPPED = Path(__file__).with_name("holidays.toml")


@dataclass(frozen=True)
class Holiday:
    day: date
    title: str
    estimated: bool = False


def _year(year: str, table: Any, source: Path) -> list[Holiday]:
    if not year.isdigit() or not isinstance(table, dict) \
            or not isinstance(table.get("holidays"), list):
        raise ValueError(f"{source}: [{year}] must be a year with holidays = [...]")
    out = []
    for item in table["holidays"]:
        try:
            month, day = (int(p) for p in str(item["date"]).split("-"))
            out.append(Holiday(jalali(int(year), month, day), str(item.get("title", "")),
                               bool(item.get("estimated", False))))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{source}: [{year}] {item!r}: write "
                             f'{{ date = "MM-DD", title = "..." }} ({exc})') from None
    return out


def read(path: Path) -> dict[int, list[Holiday]]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {int(y): _year(y, t, path) for y, t in data.items()}


def load(env: Mapping[str, str]) -> tuple[WorkCalendar, dict[int, list[Holiday]]]:
    """The platform's calendar (ValueError naming the file and the entry on bad data)."""
    years = read(SHIPPED)
    extra = env.get("PISHKHAN_HOLIDAYS_FILE", "")
    if extra:
        years.update(read(Path(extra)))
    days = frozenset(h.day for hs in years.values() for h in hs)
    return WorkCalendar(holidays=days, known_years=frozenset(years)), years


@dataclass(frozen=True)
class OrgCalendar:
    """An organization's ``[calendar]`` table: its own closed days and its Thursday rule."""

    closures: tuple[date, ...] = ()
    thursday: str = "full"

    def apply(self, base: WorkCalendar) -> WorkCalendar:
        return base.with_closures(self.closures, self.thursday)


def parse_org_calendar(raw: Any) -> tuple[OrgCalendar, list[tuple[str, str, str]]]:
    """``[calendar]`` of an organization file, with (key, message, fix) for each problem.
    Kept apart from the rest of the file's parsing so the two change independently."""
    problems: list[tuple[str, str, str]] = []
    if raw is None:
        return OrgCalendar(), problems
    if not isinstance(raw, dict):
        return OrgCalendar(), [("calendar", "must be a table",
                                'write [calendar] with closures = ["1405-02-10"]')]
    thursday = raw.get("thursday", "full")
    if thursday not in THURSDAY_MODES:
        problems.append(("calendar.thursday", f"is {thursday!r}",
                         f"use one of: {', '.join(THURSDAY_MODES)}"))
        thursday = "full"
    closures: list[date] = []
    listed = raw.get("closures", [])
    if not isinstance(listed, list):
        problems.append(("calendar.closures", "must be a list",
                         'write closures = ["1405-02-10", "1405-02-11"]'))
        listed = []
    for item in listed:
        try:
            closures.append(parse_jalali(str(item)))
        except ValueError:
            problems.append(("calendar.closures", f"{item!r} is not a Jalali date",
                             'write each day as "1405-02-10" (year-month-day)'))
    for key in set(raw) - {"thursday", "closures"}:
        problems.append((f"calendar.{key}", "is not a known key",
                         "use closures and thursday"))
    return OrgCalendar(tuple(closures), thursday), problems
