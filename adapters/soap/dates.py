"""Jalali date strings, as Iranian systems send and expect them ("1403/07/15 14:30")."""
from __future__ import annotations

from typing import Any

import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone

from persiantools.digits import ar_to_fa, fa_to_en
from persiantools.jdatetime import JalaliDate, JalaliDateTime

from connector.domain.clock import TEHRAN

from ..options import naive_utc

_JALALI = re.compile(r"^\s*(\d{4})[/-](\d{1,2})[/-](\d{1,2})"
                     r"(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$")


def to_jalali(value: datetime | date) -> str:
    """The Jalali date in Iran of a naive-UTC (or aware) time, or of a calendar date."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        value = aware.astimezone(TEHRAN).date()
    return JalaliDate(value).strftime("%Y/%m/%d")


def parse_jalali(text: str) -> datetime | None:
    """A Jalali date (and time, Iran local) as naive UTC; None if it is not one. Persian and
    Arabic-Indic digits are accepted."""
    match = _JALALI.match(fa_to_en(ar_to_fa(text)))
    if match is None:
        return None
    y, m, d, hh, mm, ss = (int(g) if g else 0 for g in match.groups())
    try:
        local = JalaliDateTime(y, m, d, hh, mm, ss).to_gregorian()
    except ValueError:
        return None
    return local.replace(tzinfo=TEHRAN).astimezone(timezone.utc).replace(tzinfo=None)


def iran_days(since: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Iran's calendar days from ``since`` to ``until`` (naive UTC), each as its first and last
    second in naive UTC — the days such systems' Jalali date filters mean."""
    day = since.replace(tzinfo=timezone.utc).astimezone(TEHRAN).date()
    last = until.replace(tzinfo=timezone.utc).astimezone(TEHRAN).date()
    while day <= last:
        start = datetime.combine(day, time.min, TEHRAN).astimezone(timezone.utc).replace(
            tzinfo=None)
        yield start, min(until, start + timedelta(days=1, seconds=-1))
        day += timedelta(days=1)


def answer_time(value: Any, jalali: bool) -> datetime | None:
    """A time from an answer as naive UTC: zeep's datetimes, ISO strings, or Jalali strings
    where the profile says the system writes them."""
    if isinstance(value, str) and value.strip():
        if jalali:
            return parse_jalali(value)
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    return naive_utc(value)
