"""Letter states change through ORM objects, where the audit listener sees them, or through the
lifecycle's own statements, each written with its bookkeeping (lifecycle.moving_picked and
picked_moved, moving and one_moved: the delivery's hottest changes). A bulk
``update(Letter)`` or raw SQL on ``letters`` anywhere else would move letters without an audit
record."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIFECYCLE = ROOT / "connector" / "letters" / "lifecycle.py"
BULK = re.compile(r"update\(\s*(?:models\.)?Letter\b|UPDATE\s+letters\b", re.I)


def test_no_bulk_updates_of_letters_bypass_the_audit():
    offenders = [f"{path.relative_to(ROOT)}:{n}"
                 for package in ("connector", "portal", "adapters", "sms")
                 for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts and path != LIFECYCLE
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if BULK.search(line)]
    assert offenders == []
