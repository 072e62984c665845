"""SMS dispatch throughput against a fake Kavenegar on loopback that answers after 50 ms.

For each concurrency the outbox sends N queued messages (claim, call, settle — the real path,
on a real database) and is compared in the same run with the bound: ``concurrency / latency``
messages a second, which no sender could beat, and with the bare gateway calls in a thread pool
(no database) as the baseline. Target: at least 80 % of the bound.

    .venv/bin/python bench/sms.py [--latency 0.05] [--messages 200] [--postgres URL]
"""
from __future__ import annotations

import argparse
import multiprocessing
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
        # A claim of a few rounds' worth: the pool stays full and the tail is short.
        sent += sms_outbox.dispatch_due(px, limit=concurrency * 16, concurrency=concurrency)
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
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server database URL "
                        "such as postgresql+psycopg://postgres@127.0.0.1:5432/test; a fresh "
                        "database is made there and dropped (default: SQLite)")
    args = parser.parse_args()
    with (tempfile.TemporaryDirectory() as tmp, provider_process(args.latency) as url,
          database(args.postgres) as db):
        print(f"fake provider latency {args.latency * 1000:.0f} ms, {args.messages} messages "
              f"per run, database {db.rsplit('/', 1)[-1] if db else 'SQLite'}")
        print(f"{'concurrency':>11} {'bound/s':>8} {'bare/s':>8} {'outbox/s':>9} "
              f"{'of bound':>9} {'of bare':>8}  {'result':<6}")
        px = make_px(Path(tmp), url, db)
        ok = True
        for concurrency in (1, 8):
            count = args.messages if concurrency > 1 else max(20, args.messages // 4)
            bound = concurrency / args.latency
            bare = count / bare_run(px, count, concurrency)
            rate = count / outbox_run(px, count, concurrency)
            passed = rate >= 0.8 * bound
            ok &= passed
            print(f"{concurrency:>11} {bound:>8.1f} {bare:>8.1f} {rate:>9.1f} "
                  f"{rate / bound:>8.0%} {rate / bare:>8.0%}  {'ok' if passed else 'BELOW':<6}")
        px.close()
    print("target: outbox ≥ 80 % of the bound —", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
