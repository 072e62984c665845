"""Fault injection for the SOAP service: the misbehaviour Pishkhan must survive in the field."""

from __future__ import annotations

import dataclasses
import json
import random
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, TypeVar

T = TypeVar("T")

# Every fault but latency is a share of calls; true and false stand for 1 and 0.
_RATES = ("error_rate", "down", "commit_then_timeout", "duplicate_events", "reorder_events",
          "commit_then_fault", "session_expiry")


class InvalidFaults(ValueError):
    pass


@dataclass(frozen=True)
class FaultSettings:
    latency_ms: float = 0
    error_rate: float | bool = 0
    down: float | bool = False
    commit_then_timeout: float | bool = 0
    duplicate_events: float | bool = 0
    reorder_events: float | bool = False
    # A write commits, then the answer is a soap:Server fault (as WCF services do on an error
    # after their transaction): the client cannot tell it from a failure before the commit.
    commit_then_fault: float | bool = 0
    # The session dialect: before a call, every login ticket expires (the system restarted or
    # dropped its sessions), so the call is refused with "session expired".
    session_expiry: float | bool = 0

    @classmethod
    def from_json(cls, data: Any) -> FaultSettings:
        """Settings from a `POST /api/faults` body (or SANDBOX_FAULTS); absent keys are off."""
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data or "{}")
            except ValueError as exc:
                raise InvalidFaults(f"faults are not JSON: {exc}") from None
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise InvalidFaults("faults must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidFaults(f"unknown faults: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if name == "latency_ms":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise InvalidFaults("latency_ms must be a number of milliseconds, 0 or more")
            elif not isinstance(value, bool) and (
                not isinstance(value, (int, float)) or not 0 <= value <= 1
            ):
                raise InvalidFaults(f"{name} must be true, false or a rate from 0 to 1")
            values[name] = value
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class FaultInjector:
    """The faults in force, swapped whole by the scripting API while requests read them."""

    def __init__(self, settings: FaultSettings | None = None, rng: random.Random | None = None):
        self._settings = settings or FaultSettings()
        self._rng = rng or random.Random()

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    @settings.setter
    def settings(self, value: FaultSettings) -> None:
        # A single reference swap: a request sees either the old settings or the new ones.
        self._settings = value

    def strikes(self, settings: FaultSettings, name: str) -> bool:
        """Whether the fault `name` hits this call."""
        if name not in _RATES:
            raise KeyError(name)
        rate = float(getattr(settings, name))
        return rate > 0 and self._rng.random() < rate

    def disturb_feed(self, settings: FaultSettings, items: Sequence[T]) -> list[T]:
        """A GetChanges page as a careless vendor would send it: repeated and/or reversed."""
        page: list[T] = []
        for item in items:
            page.append(item)
            if self.strikes(settings, "duplicate_events"):
                page.append(item)
        if self.strikes(settings, "reorder_events"):
            page.reverse()
        return page
