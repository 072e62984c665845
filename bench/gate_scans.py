"""What a gate scan costs: the decision (one conditional UPDATE), the scan record, the audit
record and the host's SMS in one transaction — against the baseline of only finding the visit
by its pass code's hash, in the same run on the same data. Also 32 readers at once, on distinct
passes and all on one pass (where anti-passback makes them wait for each other).

    .venv/bin/python bench/gate_scans.py [--scans 200] [--pg postgresql+psycopg://...]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.both_stores import PG_DEFAULT, on_both, print_table  # noqa: E402
from connector.bootstrap import bootstrap  # noqa: E402
from connector.config.settings import load_settings  # noqa: E402
from connector.people import staff  # noqa: E402
from connector.store.db import upgrade  # noqa: E402
from connector.visits import gates, hosts  # noqa: E402
from connector.visits import usecases as visits  # noqa: E402
from connector.visits.people import Identity  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
THREADS = 32


def _px(tmp: Path, url: str):
    orgs = tmp / "orgs"
    shutil.copytree(ROOT / "config" / "organizations", orgs)
    settings = load_settings({"PISHKHAN_VAR_DIR": str(tmp / "var"),
                              "PISHKHAN_ORGS_DIR": str(orgs), "PISHKHAN_SECRET_KEY": "b",
                              "PISHKHAN_DATABASE_URL": url, "PISHKHAN_ARGON2_TIME_COST": "1",
                              "PISHKHAN_ARGON2_MEMORY_KIB": "8192",
                              "PISHKHAN_ENV_FILE": str(tmp / "none.env")})
    upgrade(url)
    return bootstrap(settings)


def _passes(px, n: int) -> list[str]:
    who = Identity(national_code="0076229645", first_name="علی", last_name="کریمی")
    return [visits.register(px, "demo", who, host="host", purpose="بنچ").pass_code or ""
            for _ in range(n)]


def _timed(fn, items) -> float:
    start = time.perf_counter()
    fn(items)
    return time.perf_counter() - start


def run(name: str, url: str, n: int, tmp: Path) -> list[tuple[str, str, int, float]]:
    px = _px(tmp, url)
    try:
        staff.add_user(px, "host", "long-enough-1", role="host", orgs=["demo"])
        hosts.set_profile(px, "host", mobile="09350000001")
        gate, _ = gates.add(px, "demo", "bench-gate")
        rows = []
        for _ in range(2):  # alternate, so a warming cache favours neither side
            codes = _passes(px, n)
            rows.append((name, "find pass only (baseline)", n, _timed(
                lambda cs: [visits.by_pass(px, "demo", c) for c in cs], codes)))
            rows.append((name, "scan in, sequential", n, _timed(
                lambda cs: [gates.scan(px, gate, c, "in") for c in cs], codes)))
            rows.append((name, "scan out, sequential", n, _timed(
                lambda cs: [gates.scan(px, gate, c, "out") for c in cs], codes)))
        if name == "postgresql":
            codes = _passes(px, n)
            with ThreadPoolExecutor(THREADS) as pool:
                rows.append((name, f"scan in, {THREADS} threads, distinct passes", n, _timed(
                    lambda cs: list(pool.map(lambda c: gates.scan(px, gate, c, "in"), cs)),
                    codes)))
                one = _passes(px, 1)[0]
                results: list[gates.Decision] = []
                rows.append((name, f"scan in, {THREADS} threads, one pass", n, _timed(
                    lambda _: results.extend(pool.map(
                        lambda c: gates.scan(px, gate, c, "in"), [one] * n)), None)))
                allowed = sum(r.allowed for r in results)
                assert allowed == 1, f"{allowed} scans of one pass were allowed"
        return rows
    finally:
        px.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scans", type=int, default=200)
    parser.add_argument("--pg", default=PG_DEFAULT)
    args = parser.parse_args()
    results = on_both(run, args.scans, args.pg)
    print_table(results, "find pass only (baseline)", "scans", 38)

if __name__ == "__main__":
    main()
