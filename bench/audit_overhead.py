"""What the audit chain costs: approving letters (one transaction and one state change each)
with the audit listener installed, against the same work on a session factory without it.

    .venv/bin/python bench/audit_overhead.py [--letters 300] [--pg postgresql+psycopg://...]

Prints one row per database and mode; the baseline runs in the same process on the same data.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
    parser.add_argument("--pg", default=os.environ.get(
        "PISHKHAN_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    results: list[tuple[str, str, int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        results += run("sqlite", f"sqlite:///{tmp}/bench.db", args.letters, Path(tmp) / "a")
    if args.pg:
        import psycopg
        admin = args.pg.replace("postgresql+psycopg", "postgresql")
        db = f"pishkhan_bench_{uuid.uuid4().hex[:8]}"
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{db}"')
        except psycopg.Error as exc:
            print(f"(PostgreSQL skipped: {exc})")
        else:
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    results += run("postgresql", args.pg.rsplit("/", 1)[0] + "/" + db,
                                   args.letters, Path(tmp))
            finally:
                with psycopg.connect(admin, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    totals: dict[tuple[str, str], tuple[int, float]] = {}
    for name, mode, n, seconds in results:
        count, total = totals.get((name, mode), (0, 0.0))
        totals[(name, mode)] = (count + n, total + seconds)
    print(f"{'database':<11} {'mode':<14} {'approvals':>9} {'seconds':>8} {'ms each':>8} "
          f"{'vs baseline':>11}")
    for (name, mode), (n, seconds) in totals.items():
        base_n, base_s = totals[(name, "without audit")]
        ratio = (seconds / n) / (base_s / base_n)
        print(f"{name:<11} {mode:<14} {n:>9} {seconds:>8.2f} {1000 * seconds / n:>8.2f} "
              f"{ratio:>10.2f}x")


if __name__ == "__main__":
    main()
