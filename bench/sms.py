"""SMS dispatch throughput against a fake Kavenegar on loopback that answers after 50 ms.

For each concurrency the outbox sends ``--rounds`` × concurrency queued messages (claim, call,
settle — the real path, on a real database) and is compared in the same run with the bound,
``concurrency / latency`` messages a second, which no sender could beat, and with the baseline:
the bare gateway calls in a thread pool (no database), the same number of them. Runs are
interleaved (baseline, outbox, baseline, outbox, …) and each figure is the median of
``--repeats``. Target (issue 12): the outbox at least 90 % of the bound at 8 and 32.

    .venv/bin/python bench/sms.py [--latency 0.05] [--concurrency 8,32] [--rounds 25]
                                  [--repeats 3] [--postgres URL]
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.bootstrap import bootstrap  # noqa: E402
from connector.config.settings import load_settings  # noqa: E402
from connector.outbox import sms as sms_outbox  # noqa: E402
from connector.store.db import transaction, upgrade  # noqa: E402
from connector.store.models import Notification  # noqa: E402
from tests.smsfakes import kavenegar, serve  # noqa: E402

ORG = """slug = "bench"
name = "سازمان آزمایش"
approval = "portal"
[adapter]
type = "soap"
wsdl = "http://127.0.0.1:9/soap?wsdl"
wsse = "none"
[sms]
rate_per_minute = 1000000
[[sms.gateways]]
type = "kavenegar"
api_key_env = "KAVENEGAR_API_KEY"
sender = "10004346"
url = "{url}"
[[units]]
code = "sec"
name = "دبیرخانه"
[[services]]
code = "x"
title = "نامه"
"""


def _provider(latency: float, conn) -> None:
    import logging
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    fake = kavenegar.FakeKavenegar()
    fake.delay = latency
    with serve(fake) as url:
        conn.send(url)
        conn.recv()  # until the benchmark is done


@contextmanager
def provider_process(latency: float):
    """The fake provider in its own process, as a real one is: it does not share our GIL."""
    ours, theirs = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=_provider, args=(latency, theirs), daemon=True)
    proc.start()
    try:
        yield ours.recv()
    finally:
        ours.send("stop")
        proc.join(5)


@contextmanager
def database(postgres: str | None):
    """SQLite in the temp folder, or a fresh database on a PostgreSQL server, dropped after."""
    if not postgres:
        yield None
        return
    import psycopg
    name = f"pishkhan_bench_{uuid.uuid4().hex[:8]}"
    admin = postgres.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_px(tmp: Path, url: str, database: str | None):
    (tmp / "orgs").mkdir(exist_ok=True)
    (tmp / "orgs" / "bench.toml").write_text(ORG.format(url=url), encoding="utf-8")
    env = {"PISHKHAN_VAR_DIR": str(tmp / "var"), "PISHKHAN_ORGS_DIR": str(tmp / "orgs"),
           "PISHKHAN_SECRET_KEY": "bench", "PISHKHAN_ENV_FILE": str(tmp / "none.env"),
           "KAVENEGAR_API_KEY": kavenegar.KEY, "PISHKHAN_LOG_LEVEL": "WARNING"}
    if database:
        env["PISHKHAN_DATABASE_URL"] = database
    settings = load_settings(env)
    upgrade(settings.database_url)
    px = bootstrap(settings)
    if px.problems:
        raise SystemExit("\n".join(map(str, px.problems)))
    return px


def outbox_run(px, count: int, concurrency: int) -> float:
    with transaction(px.sessions) as s:
        s.query(Notification).delete()
        for _ in range(count):
            sms_outbox.queue(s, px, "referred", "09121234567",
                                {"tracking_code": "K7P2QX", "unit": "امور شهری"}, org="bench")
    started = time.perf_counter()
    sent = 0
    while sent < count:
        # As the worker's tick starts a run: no limit, the whole queue in one run.
        sent += sms_outbox.dispatch_due(px, concurrency=concurrency)
    return time.perf_counter() - started


def bare_run(px, count: int, concurrency: int) -> float:
    gateway = px.gateway("bench")
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(lambda i: gateway.send("09121234567", "آزمایش", f"{i:032x}"),
                      range(count)))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", default="8,32")
    parser.add_argument("--rounds", type=int, default=25,
                        help="messages per run = rounds x concurrency (whole rounds: a last "
                             "round half full would lower every sender's figure alike)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--target", type=float, default=0.9)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server database URL "
                        "such as postgresql+psycopg://postgres@127.0.0.1:5432/test; a fresh "
                        "database is made there and dropped (default: SQLite)")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rows = []
    with (tempfile.TemporaryDirectory() as tmp, provider_process(args.latency) as url,
          database(args.postgres) as db):
        px = make_px(Path(tmp), url, db)
        for concurrency in [int(c) for c in args.concurrency.split(",")]:
            count = args.rounds * concurrency
            bare, outbox = [], []
            for _ in range(args.repeats):
                bare.append(count / bare_run(px, count, concurrency))
                outbox.append(count / outbox_run(px, count, concurrency))
            rows.append((concurrency, count, concurrency / args.latency,
                         statistics.median(bare), statistics.median(outbox)))
        px.close()
    store = db.rsplit("/", 1)[-1] if db else "SQLite"
    print(f"SMS dispatch: fake provider latency {args.latency * 1000:.0f} ms, database {store}, "
          f"median of {args.repeats}; load average {load_before:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after ({os.cpu_count()} CPUs)")
    print("messages/s: bound = concurrency / latency; baseline = the bare gateway calls from as "
          "many threads, no database")
    print(f"{'concurrency':>11} {'messages':>8} {'bound':>8} {'baseline':>9} {'outbox':>8} "
          f"{'of bound':>9} {'baseline of bound':>18} {'of baseline':>12}")
    for concurrency, count, bound, bare, rate in rows:
        print(f"{concurrency:>11} {count:>8} {bound:>8.1f} {bare:>9.1f} {rate:>8.1f} "
              f"{rate / bound:>9.0%} {bare / bound:>18.0%} {rate / bare:>12.0%}")
    worst = min(rows, key=lambda r: r[4] / r[2])
    met = all(rate >= args.target * bound for _, _, bound, _, rate in rows)
    print(f"sms: worst {worst[4] / worst[2]:.0%} of the bound at concurrency {worst[0]} "
          f"(baseline {worst[3] / worst[2]:.0%}, outbox {worst[4] / worst[3]:.0%} of baseline); "
          f"target >= {args.target:.0%} of the bound {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
