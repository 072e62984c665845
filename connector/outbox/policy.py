"""When and through which gateway an SMS may go: quiet hours for progress texts, rate limits,
and the health of each gateway, by which a failing or slow one is demoted and later restored."""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from connector.domain.clock import local, now, to_naive_utc

# Texts a citizen is waiting for at that moment; they go at any hour: codes, tests, and
# answers to a text the citizen has just sent (tracking by SMS).
URGENT_KINDS = frozenset({"otp", "test", "inquiry_status", "inquiry_unknown", "inquiry_help"})
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class QuietHours:
    """A span of Tehran wall-clock time (minutes from midnight) that may wrap past midnight."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> QuietHours | None:
        """``"22:00-07:00"``; an empty text means no quiet hours. Raises ValueError."""
        if not text.strip():
            return None
        m = _SPAN.match(text)
        if not m:
            raise ValueError(f"{text!r} is not a span like 22:00-07:00")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise ValueError(f"{text!r} is not a time of day")
        return cls(h1 * 60 + m1, h2 * 60 + m2)

    def _inside(self, minute: int) -> bool:
        if self.start <= self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def release_at(self, at: datetime) -> datetime | None:
        """When a text due at ``at`` (naive UTC) may go: None if now, else the end of the quiet
        span as naive UTC."""
        wall = local(at)
        minute = wall.hour * 60 + wall.minute
        if not self._inside(minute):
            return None
        end = wall.replace(hour=self.end // 60, minute=self.end % 60, second=0, microsecond=0)
        if end <= wall:
            end += timedelta(days=1)
        return to_naive_utc(end)


@dataclass(frozen=True)
class GatewayConfig:
    name: str
    type: str
    priority: int
    options: dict[str, object]
    otp_template: str | None = None  # the provider's template (pattern) line for OTP codes


@dataclass(frozen=True)
class SmsPolicy:
    gateways: tuple[GatewayConfig, ...] = ()
    quiet_hours: QuietHours | None = None
    rate_per_minute: int | None = None


@dataclass
class _Health:
    failures: int = 0
    demoted_until: datetime | None = None


@dataclass
class GatewayHealth:
    """Per process: each worker learns on its own which providers are failing. A gateway that
    fails (or answers slower than ``slow_seconds``) is demoted for a cooldown that doubles with
    each failure in a row, up to ``max_cooldown``; after it the gateway is tried again, and one
    good answer restores it."""

    slow_seconds: float = 5.0
    base_cooldown: float = 30.0
    max_cooldown: float = 600.0
    _state: dict[str, _Health] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def order(self, gateways: tuple[GatewayConfig, ...], key: str) -> list[GatewayConfig]:
        """Healthy gateways by priority (1 first), then demoted ones, soonest restored first, as
        a last resort."""
        at = now()
        with self._lock:
            def rank(g: GatewayConfig) -> tuple[int, datetime, int]:
                until = self._state.get(f"{key}/{g.name}", _Health()).demoted_until
                if until is None or until <= at:
                    return (0, datetime.min, g.priority)
                return (1, until, g.priority)
            return sorted(gateways, key=rank)

    def demoted(self, key: str, name: str) -> bool:
        with self._lock:
            until = self._state.get(f"{key}/{name}", _Health()).demoted_until
        return until is not None and until > now()

    def record(self, key: str, name: str, ok: bool, seconds: float) -> None:
        with self._lock:
            h = self._state.setdefault(f"{key}/{name}", _Health())
            if ok and seconds <= self.slow_seconds:
                h.failures, h.demoted_until = 0, None
                return
            h.failures += 1
            cooldown = min(self.max_cooldown, self.base_cooldown * 2 ** (h.failures - 1))
            h.demoted_until = now() + timedelta(seconds=cooldown)
