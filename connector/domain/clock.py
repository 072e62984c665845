"""Time in one place: naive UTC in the database, Asia/Tehran only on display.

The source of "now" can be replaced (``use``), so that behaviour tied to the time of day — quiet
hours, backoff, the 72-hour sweeper — is tested by moving the clock rather than by sleeping."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

TEHRAN = ZoneInfo("Asia/Tehran")


def _system() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


_source: Callable[[], datetime] = _system


def now() -> datetime:
    return _source()


def timestamp() -> float:
    """Seconds since the epoch on the same clock (for cookies and other wire formats)."""
    return now().replace(tzinfo=timezone.utc).timestamp()


def to_naive_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def local(value: datetime) -> datetime:
    """A naive UTC time as the wall-clock time in Tehran."""
    return value.replace(tzinfo=timezone.utc).astimezone(TEHRAN)


class ManualClock:
    """A clock that stands still until moved; for tests and benchmarks."""

    def __init__(self, start: datetime) -> None:
        self.value = to_naive_utc(start)

    def __call__(self) -> datetime:
        return self.value

    def advance(self, **delta: float) -> datetime:
        self.value += timedelta(**delta)
        return self.value


@contextmanager
def use(source: Callable[[], datetime]) -> Iterator[Callable[[], datetime]]:
    """Read the time from ``source`` inside the block."""
    global _source
    previous, _source = _source, source
    try:
        yield source
    finally:
        _source = previous
