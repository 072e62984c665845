"""Time and the Jalali calendar.

Times are stored as naive UTC everywhere, because SQLite and MariaDB drop time zones and the
ODBC adapters must read the same values on every backend. Iranian local time only matters for
the Jalali year of a letter number and for the cartable pages.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from persiantools.digits import en_to_fa, fa_to_en
from persiantools.jdatetime import JalaliDateTime


@functools.cache
def _iran() -> tzinfo:
    try:
        return ZoneInfo("Asia/Tehran")
    except ZoneInfoNotFoundError:
        # Iran has kept +03:30 all year since 2022: a fixed offset is right where tzdata is absent.
        return timezone(timedelta(hours=3, minutes=30), "IRST")


def iran() -> tzinfo:
    """Iran's time zone (for dialects that read and write Iranian local times)."""
    return _iran()


def utcnow() -> datetime:
    """Now, as the naive UTC value the tables store."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def as_utc(value: datetime) -> datetime:
    """A stored (naive UTC) or aware time as an aware UTC time."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def jalali_year(value: datetime) -> int:
    """The Jalali year in Iran at the given time."""
    return JalaliDateTime.to_jalali(as_utc(value).astimezone(_iran())).year


def format_jalali(value: datetime | None, with_time: bool = True) -> str:
    """A time as Iranians read it: Jalali date in Iran's time zone, Persian digits."""
    if value is None:
        return ""
    local = JalaliDateTime.to_jalali(as_utc(value).astimezone(_iran()))
    return en_to_fa(local.strftime("%Y/%m/%d %H:%M" if with_time else "%Y/%m/%d"))


def jalali_day_start(text: str) -> datetime:
    """The naive UTC time at which a Jalali day ("1403/07/15", any digits) begins in Iran."""
    parts = fa_to_en(text.strip()).replace("-", "/").split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{text!r} is not a Jalali date like 1403/07/15")
    local = JalaliDateTime(int(parts[0]), int(parts[1]), int(parts[2])).to_gregorian()
    return local.replace(tzinfo=_iran()).astimezone(timezone.utc).replace(tzinfo=None)


def jalali_text(value: datetime | None, with_time: bool = True) -> str:
    """A stored time as a Latin-digit Jalali string in Iran's time, as legacy systems send it."""
    if value is None:
        return ""
    local = JalaliDateTime.to_jalali(as_utc(value).astimezone(_iran()))
    return local.strftime("%Y/%m/%d %H:%M:%S" if with_time else "%Y/%m/%d")
