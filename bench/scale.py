"""What the pages and ticks that look at history cost as history grows.

    .venv/bin/python bench/scale.py [--sizes 1000,100000,1000000] [--pg] [--repeats 15]

Each size gets its own store, seeded in bulk (one event, one SMS and one audit record per
letter): the active work is the same in all (the first thousand letters: awaiting approval,
delivered, registered, failed) and what the larger ones add is closed history, as in a real
office. After seeding, the counts are folded and the planner's statistics refreshed (as the
worker does); on PostgreSQL the tables are vacuumed and a checkpoint taken, which autovacuum
and the checkpointer do after a bulk load in the background, so the timings measure the store
at that size, not the write-back of the seeding. Then each operation is timed on every store
in turn, ``--repeats`` rounds, so all sizes run under the same load of the shared machine: a
routing poll tick that records one change, an organization's dashboard, the overview of all
organizations, the first audit page with its action list, and ``GET /metrics``. The baseline
is the same operation on the smallest store, in the same rounds. The ratios use the fastest
of the repeats (other processes can only add time); the medians are printed too. Target
(issue 12): poll tick, dashboard and /metrics <= 2x their 1k cost at 1M.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from push import drop_pg_databases, pg_database  # noqa: E402  (bench/push.py)
from sqlalchemy import func, insert, select, update  # noqa: E402

from connector.bootstrap import bootstrap  # noqa: E402
from connector.config.settings import load_settings  # noqa: E402
from connector.delivery import polling  # noqa: E402
from connector.domain.letter import ChangeKind, RoutingChange  # noqa: E402
from connector.operations import dashboard  # noqa: E402
from connector.store import audit, tallies  # noqa: E402
from connector.store.db import upgrade  # noqa: E402
from connector.store import planner_stats  # noqa: E402
from connector.store.models import (  # noqa: E402
    AuditHead,
    AuditRecord,
    Event,
    Letter,
    LetterTally,
    Notification,
)
from tests.fakes import FakeSystem, RecordingGateway  # noqa: E402

OPERATIONS = ("poll tick", "dashboard", "overview", "audit page", "/metrics")
ORGS = ("demo", "demo-portal", "demo-legacy", "demo-odbc")
ACTIVE = (("awaiting_approval", 100), ("delivered", 300), ("registered", 300),
          ("delivery_failed", 50), ("dead", 10))
CHUNK = 5000


def _rows(start: int, count: int, first: bool) -> tuple[list[dict], list[dict]]:
    """Letters ``start..start+count`` and the (org, state) counts they add."""
    old = datetime(2025, 1, 1)
    states: list[str] = []
    if first:
        for state, n in ACTIVE:
            states += [state] * n
    letters, counts = [], {}
    for i in range(start, start + count):
        state = states[i - start] if i - start < len(states) else "closed"
        org = ORGS[i % len(ORGS)]
        at = old + timedelta(minutes=i % 500_000)
        counts[(org, state)] = counts.get((org, state), 0) + 1
        letters.append({
            "id": i + 1, "tracking_code": f"{i + 1:013d}", "org": org,
            "service_code": "general", "unit_code": "sec", "channel": "portal",
            "subject": "درخواست", "body": "متن نامه", "applicant_type": "natural",
            "national_code": "0076229645", "national_id": "", "company_name": "",
            "first_name": "علی", "last_name": "کریمی", "mobile": "09121234567",
            "state": state, "external_id": f"x{i + 1}" if state != "awaiting_approval" else None,
            "attempts": 1, "needs_reconcile": False, "reply_available": False,
            "created_at": at, "updated_at": at})
    return letters, [{"org": o, "state": s, "delta": n} for (o, s), n in counts.items()]


def seed(px, start: int, end: int) -> None:
    """Letters start..end with one event, one SMS and one sealed audit record each."""
    with px.engine.begin() as conn:
        head = conn.execute(select(AuditHead.seq)).scalar() or 0
        for lo in range(start, end, CHUNK):
            n = min(CHUNK, end - lo)
            letters, counts = _rows(lo, n, first=lo == 0)
            conn.execute(insert(Letter), letters)
            conn.execute(insert(LetterTally), counts)
            conn.execute(insert(Event), [
                {"letter_id": r["id"], "source_id": "pishkhan:submitted:0", "kind": "submitted",
                 "at": r["created_at"], "data": {}, "created_at": r["created_at"]}
                for r in letters])
            conn.execute(insert(Notification), [
                {"org": r["org"], "letter_id": r["id"], "to": r["mobile"], "kind": "receipt",
                 "text": "نامه شما رسید", "segments": 1, "state": "delivered", "gateway": "file",
                 "client_reference": f"c{r['id']}", "attempts": 1, "checks": 0,
                 "created_at": r["created_at"], "updated_at": r["created_at"]}
                for r in letters])
            conn.execute(insert(AuditRecord), [
                {"seq": head + j + 1, "at": r["created_at"], "actor": "system",
                 "action": "letter.state", "org": r["org"], "letter": r["tracking_code"],
                 "detail": {"from": None, "to": r["state"]}, "prev_hash": "0" * 64,
                 "hash": "0" * 64} for j, r in enumerate(letters)])
            head += n
        conn.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=head))
    # What the worker does every 10 s and every hour: fold the counts (the SMS triggers wrote
    # one row per seeded SMS) and refresh the planner's statistics.
    tallies.fold(px)
    planner_stats.refresh(px.engine)
    if px.engine.dialect.name == "postgresql":
        with px.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
            conn.exec_driver_sql("CHECKPOINT")


def operations(px, client, system: FakeSystem):
    registered = iter(range(1, 10**9))
    with px.sessions() as s:
        codes = list(s.scalars(select(Letter.tracking_code).where(
            Letter.org == "demo", Letter.state == "registered")))
    random.shuffle(codes)

    def poll() -> None:
        code = codes.pop()
        system.feed.append(RoutingChange(
            source_id=f"bench:{next(registered)}", kind=ChangeKind.REFERRED,
            at=datetime.now(timezone.utc), external_id=f"x{int(code)}", reference=code,
            unit="مالی"))
        assert polling.poll_org(px, "demo") == 1

    def metrics_page() -> None:
        r = client.get("/metrics")
        assert r.status_code == 200, r.status_code

    return {
        "poll tick": poll,
        "dashboard": lambda: dashboard.dashboard(px, "demo"),
        "overview": lambda: dashboard.overview(px, list(ORGS)),
        "audit page": lambda: (audit.search(px, audit.Filters(), limit=100),
                               audit.actions(px)),
        "/metrics": metrics_page,
    }


def store(name: str, url: str, size: int, folder: Path):
    """A store seeded with ``size`` letters, and the operations to time on it."""
    orgs = folder / "orgs"
    if not orgs.exists():
        shutil.copytree(ROOT / "config" / "organizations", orgs)
    settings = load_settings({
        "PISHKHAN_VAR_DIR": str(folder / f"var-{name}-{size}"), "PISHKHAN_ORGS_DIR": str(orgs),
        "PISHKHAN_SECRET_KEY": "bench", "PISHKHAN_DATABASE_URL": url,
        "PISHKHAN_ENV_FILE": str(folder / "none.env"), "PISHKHAN_LOG_LEVEL": "WARNING"})
    upgrade(url)
    system, gateway = FakeSystem(), RecordingGateway()
    px = bootstrap(settings, adapters={slug: system for slug in ORGS},
                   gateways={"": gateway, **{slug: gateway for slug in ORGS}})
    from portal import create_app
    client = create_app(px, {"TESTING": True}).test_client()
    t0 = time.perf_counter()
    seed(px, 0, size)
    with px.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Letter)) == size
    print(f"  {name} {size:>9,} letters seeded in {time.perf_counter() - t0:.0f} s; load "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    return px, operations(px, client, system)


def run(name: str, urls: dict[int, str], repeats: int, folder: Path) -> dict:
    """One store per size, then every operation timed on each store in turn, ``repeats``
    rounds: all sizes are measured under the same load of the (shared) machine."""
    stores = {size: store(name, url, size, folder) for size, url in urls.items()}
    try:
        for _, ops in stores.values():
            for fn in ops.values():
                fn()  # warm the caches the same way at every size
        samples: dict[int, dict[str, list[float]]] = {size: {} for size in stores}
        for _ in range(repeats):
            for op in OPERATIONS:
                for size, (_, ops) in stores.items():
                    t0 = time.perf_counter()
                    ops[op]()
                    samples[size].setdefault(op, []).append(time.perf_counter() - t0)
        return {size: {op: (min(v), statistics.median(v)) for op, v in by_op.items()}
                for size, by_op in samples.items()}
    finally:
        for px, _ in stores.values():
            px.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--pg", action="store_true", help="PostgreSQL too")
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    load_before = os.getloadavg()[0]
    tables = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tables["sqlite"] = run("sqlite", {n: f"sqlite:///{folder / f'scale-{n}.db'}"
                                          for n in sizes}, args.repeats, folder)
        if args.pg:
            names = {n: f"pishkhan_bench_scale_{os.getpid()}_{n}" for n in sizes}
            try:
                tables["postgresql"] = run("postgresql", {n: pg_database(name) for n, name in
                                                          names.items()}, args.repeats, folder)
            finally:
                drop_pg_databases(list(names.values()))
    head = "".join(f"{size:>18,}" for size in sizes)
    for which, label in ((0, "fastest"), (1, "median")):
        print(f"\nscale: {label} of {args.repeats}, ms (ratio to the {sizes[0]:,} cost); load "
              f"average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
              f"({os.cpu_count()} CPUs)")
        for db, results in tables.items():
            print(f"{db:<12}{'operation':<12}{head}")
            for op in results[sizes[0]]:
                base = results[sizes[0]][op][which]
                cells = "".join(f"{results[n][op][which] * 1000:>10.2f} "
                                f"({results[n][op][which] / base:>4.1f}x)" for n in sizes)
                print(f"{'':<12}{op:<12}{cells}")
    worst = {(db, op): results[sizes[-1]][op][0] / results[sizes[0]][op][0]
             for db, results in tables.items() for op in results[sizes[0]]}
    targets = {key: v for key, v in worst.items() if key[1] in ("poll tick", "dashboard",
                                                                 "/metrics")}
    (db, op), ratio = max(targets.items(), key=lambda kv: kv[1])
    (adb, aop), audit_ratio = max(((k, v) for k, v in worst.items() if k[1] == "audit page"),
                                  key=lambda kv: kv[1])
    print(f"scale: worst of poll tick, dashboard, /metrics at {sizes[-1]:,} letters = "
          f"{ratio:.1f}x the {sizes[0]:,} cost ({op}, {db}; target <= 2x); audit page "
          f"{audit_ratio:.1f}x ({adb})")


if __name__ == "__main__":
    main()
