"""An organization's ``[objections]`` table (issue 14): how many working days after a rejection
a citizen may object, and the unit objections go to. Parsed apart from the rest of the file so
the two change independently."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_WINDOW = 10  # working days


@dataclass(frozen=True)
class Objections:
    window_days: int = DEFAULT_WINDOW  # 0 = objections are not taken
    unit: str = ""  # our unit code; "" = the secretariat


def parse_objections(raw: Any, unit_codes: list[str]
                     ) -> tuple[Objections, list[tuple[str, str, str]]]:
    if raw is None:
        return Objections(), []
    if not isinstance(raw, dict):
        return Objections(), [("objections", "must be a table",
                               "write [objections] with window_days and unit")]
    problems = []
    window = raw.get("window_days", DEFAULT_WINDOW)
    if isinstance(window, bool) or not isinstance(window, int) or not 0 <= window <= 365:
        problems.append(("objections.window_days", f"is {window!r}",
                         "use a number of working days such as 10 (0 turns objections off)"))
        window = DEFAULT_WINDOW
    unit = raw.get("unit", "")
    if not isinstance(unit, str) or (unit and unit_codes and unit not in unit_codes):
        problems.append(("objections.unit", f"{unit!r} is not one of the units",
                         f"use one of: {', '.join(unit_codes)}"))
        unit = ""
    for key in set(raw) - {"window_days", "unit"}:
        problems.append((f"objections.{key}", "is not a known key", "use window_days and unit"))
    return Objections(window, unit), problems
