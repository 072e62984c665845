"""Working days on the Jalali calendar: the promised completion date (تاریخ پایان کار) and how
late a letter is, both counted in working days.

A day is closed when it is a Friday, an official holiday (shipped as data, see
connector/config/holidays.py) or one of the organization's own closures. An organization that
works Thursday mornings counts a Thursday as half a day; one closed on Thursdays skips them.

Counting starts the day after submission: a letter handed in on Wednesday for a 10-working-day
service is due on the 10th working day after that Wednesday, whatever the hour it came in.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from persiantools.jdatetime import JalaliDate

FRIDAY, THURSDAY = 4, 3  # date.weekday()
THURSDAY_MODES = ("full", "half", "closed")
# A promise longer than this is a configuration mistake, not a plan (guards the loops below).
MAX_DAYS = 2000


def jalali(year: int, month: int, day: int) -> date:
    """The Gregorian date of a Jalali one (ValueError for a day that does not exist)."""
    return JalaliDate(year, month, day).to_gregorian()


def parse_jalali(text: str) -> date:
    """``1405-02-10`` or ``1405/2/10`` as a date."""
    parts = text.replace("/", "-").split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not a Jalali date like 1405-02-10")
    return jalali(*(int(p) for p in parts))


def jalali_text(value: date) -> str:
    """``1405/09/20``: the form used in letters and SMS (Latin digits; callers localize)."""
    j = JalaliDate(value)
    return f"{j.year:04d}/{j.month:02d}/{j.day:02d}"


@dataclass(frozen=True)
class WorkCalendar:
    holidays: frozenset[date] = frozenset()
    thursday: str = "full"
    # The years the holiday data covers; outside them only Fridays (and closures) are known.
    known_years: frozenset[int] = field(default_factory=frozenset)

    def with_closures(self, closures: Iterable[date], thursday: str | None = None
                      ) -> WorkCalendar:
        """The same calendar plus an organization's own closed days and Thursday rule."""
        return WorkCalendar(self.holidays | frozenset(closures), thursday or self.thursday,
                            self.known_years)

    def weight(self, day: date) -> float:
        """How much of a working day ``day`` is: 1, 0.5 (a Thursday morning) or 0."""
        if day.weekday() == FRIDAY or day in self.holidays:
            return 0.0
        if day.weekday() == THURSDAY:
            return {"full": 1.0, "half": 0.5, "closed": 0.0}[self.thursday]
        return 1.0

    def is_working(self, day: date) -> bool:
        return self.weight(day) > 0

    def add(self, start: date, days: float) -> date:
        """The day on which ``days`` working days after ``start`` are complete."""
        if days <= 0:
            return start
        if days > MAX_DAYS:
            raise ValueError(f"{days} working days is more than {MAX_DAYS}")
        done, day = 0.0, start
        while done < days:
            day += timedelta(days=1)
            done += self.weight(day)
        return day

    def between(self, start: date, end: date) -> float:
        """Working days after ``start`` up to and including ``end`` (negative if end < start)."""
        if end < start:
            return -self.between(end, start)
        if (end - start).days > MAX_DAYS * 2:
            raise ValueError("the span is too long to count day by day")
        return sum(self.weight(start + timedelta(days=i))
                   for i in range(1, (end - start).days + 1))

    def late_by(self, due: date, finished: date) -> float:
        """Working days past the promise (0 when on time)."""
        return max(0.0, self.between(due, finished))

    def shift(self, due: date, paused_from: date, paused_to: date) -> date:
        """The promise moved by the working days spent waiting for the citizen (the pause
        starts the day after ``paused_from`` and ends with ``paused_to``)."""
        return self.add(due, self.between(paused_from, paused_to))
