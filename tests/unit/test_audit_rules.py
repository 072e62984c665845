"""Letter states change only through ORM objects, where the audit listener sees them: a bulk
``update(Letter)`` or raw SQL on ``letters`` would move letters without an audit record."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BULK = re.compile(r"update\(\s*(?:models\.)?Letter\b|UPDATE\s+letters\b", re.I)


def test_no_bulk_updates_of_letters_bypass_the_audit():
    offenders = [f"{path.relative_to(ROOT)}:{n}"
                 for package in ("connector", "portal", "adapters", "sms")
                 for path in (ROOT / package).rglob("*.py") if "migrations" not in path.parts
                 for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if BULK.search(line)]
    assert offenders == []
