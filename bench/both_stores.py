"""What several benchmarks share: run one measurement on SQLite and on a fresh PostgreSQL
database (dropped afterwards), then print each workload's time per item beside its baseline."""
from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

Row = tuple[str, str, int, float]  # database, workload, items, seconds
PG_DEFAULT = os.environ.get("PISHKHAN_BENCH_PG_URL",
                            "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def on_both(run: Callable[[str, str, int, Path], list[Row]], n: int, pg: str) -> list[Row]:
    results: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        results += run("sqlite", f"sqlite:///{tmp}/bench.db", n, Path(tmp) / "a")
    if not pg:
        return results
    import psycopg
    admin = pg.replace("postgresql+psycopg", "postgresql")
    db = f"pishkhan_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
    except psycopg.Error as exc:
        print(f"(PostgreSQL skipped: {exc})")
        return results
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results += run("postgresql", pg.rsplit("/", 1)[0] + "/" + db, n, Path(tmp))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return results


def print_table(results: list[Row], baseline: str, items: str, width: int = 14) -> None:
    totals: dict[tuple[str, str], tuple[int, float]] = {}
    for name, mode, n, seconds in results:
        count, total = totals.get((name, mode), (0, 0.0))
        totals[(name, mode)] = (count + n, total + seconds)
    print(f"{'database':<11} {'workload':<{width}} {items:>9} {'seconds':>8} {'ms each':>8} "
          f"{'vs baseline':>11}")
    for (name, mode), (n, seconds) in totals.items():
        base_n, base_s = totals[(name, baseline)]
        ratio = (seconds / n) / (base_s / base_n)
        print(f"{name:<11} {mode:<{width}} {n:>9} {seconds:>8.2f} {1000 * seconds / n:>8.2f} "
              f"{ratio:>10.2f}x")
