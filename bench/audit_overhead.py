"""What the audit chain costs: approving letters (one transaction and one state change each)
with the audit listener installed, against the same work on a session factory without it.

    .venv/bin/python bench/audit_overhead.py [--letters 300] [--pg postgresql+psycopg://...]

Prints one row per database and mode; the baseline runs in the same process on the same data.
"""
from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.both_stores import PG_DEFAULT, on_both, print_table  # noqa: E402
from connector.bootstrap import bootstrap  # noqa: E402
from connector.config.settings import load_settings  # noqa: E402
from connector.letters import usecases as letters  # noqa: E402
from connector.letters.files import Upload  # noqa: E402
from connector.store.db import make_session_factory, upgrade  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"


def _px(tmp: Path, url: str):
    orgs = tmp / "orgs"
    shutil.copytree(ROOT / "config" / "organizations", orgs)
    settings = load_settings({"PISHKHAN_VAR_DIR": str(tmp / "var"),
                              "PISHKHAN_ORGS_DIR": str(orgs), "PISHKHAN_SECRET_KEY": "b",
                              "PISHKHAN_DATABASE_URL": url,
                              "PISHKHAN_ENV_FILE": str(tmp / "none.env")})
    upgrade(url)
    return bootstrap(settings)


def _staged(px, n: int) -> list[str]:
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="علی", last_name="کریمی", subject="بنچ",
                              body="متن", service="street-repair")
    return [letters.submit(px, "demo-portal", form, [Upload("a.pdf", PDF)],
                           "09121234567").tracking_code for _ in range(n)]


def _approve_all(px, codes: list[str]) -> float:
    start = time.perf_counter()
    for code in codes:
        letters.approve(px, code, "bench")
    return time.perf_counter() - start


def run(name: str, url: str, n: int, tmp: Path) -> list[tuple[str, str, int, float]]:
    px = _px(tmp, url)
    try:
        plain = dataclasses.replace(px, sessions=make_session_factory(px.engine))
        rows = []
        # Alternate so that a warming cache or a filling disk favours neither side.
        for mode, target in (("without audit", plain), ("with audit", px),
                             ("without audit", plain), ("with audit", px)):
            codes = _staged(px, n // 2)
            rows.append((name, mode, len(codes), _approve_all(target, codes)))
        return rows
    finally:
        px.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--letters", type=int, default=300)
    parser.add_argument("--pg", default=PG_DEFAULT)
    args = parser.parse_args()
    results = on_both(run, args.letters, args.pg)
    print_table(results, "without audit", "approvals", 14)

if __name__ == "__main__":
    main()
