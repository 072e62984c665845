"""Delivery throughput against the sandbox with added latency, next to its bound.

    .venv/bin/python bench/push.py [--latency-ms 100] [--letters-per-worker 8]
                                   [--concurrency 1,4,16,64] [--sandbox-workers 1]

First, per concurrency, demo-portal's throughput through the worker's dispatcher alone and
while a second organization, whose system (a second sandbox) takes 5 s a call, has letters
due at the same time: the fast one should keep >= 90 % (issue 12). Then the table below.

For each delivery concurrency (the per-organization setting ``delivery_concurrency``) letters
are staged for the demo organization and one delivery tick pushes them all into the sandbox,
which answers every SOAP call after ``latency_ms``. The bound is concurrency ÷ (calls per letter
× latency): what the workers could do if nothing but the latency counted. Target: 80 % of it.
The `legacy` rows deliver in five calls per letter (letter, two files, assignment, number), the
`session` rows in four (letter, two files, number; one login per worker process besides).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.bootstrap import bootstrap  # noqa: E402
from connector.config.settings import Settings, load_settings  # noqa: E402
from connector.delivery import dispatcher as dispatcher_mod  # noqa: E402
from connector.delivery import push as delivery  # noqa: E402
from connector.domain.letter import ApplicantType, OutgoingAttachment, OutgoingLetter  # noqa: E402
from connector.letters import usecases as letters  # noqa: E402
from connector.letters.files import Upload  # noqa: E402
from connector.store.db import upgrade  # noqa: E402

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")
# organization, calls per letter, attachments per letter
CASES = (("demo-portal", 1, 1), ("demo-legacy", 5, 2), ("demo-session", 4, 2))


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def pg_database(name: str) -> str:
    """A fresh PostgreSQL database (dropped first if a previous run left it)."""
    import psycopg
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg_databases(names: list[str]) -> None:
    import psycopg
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def serve_sandbox(database_url: str, latency_ms: float, workers: int = 1,
                  threads: int = 32) -> tuple[str, Callable[[], None]]:
    """The sandbox in its own processes, as `make run` serves it, so its CPU does not compete
    with the worker's for one interpreter lock; enough threads that its latency is spent
    waiting side by side, not queueing."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SANDBOX_DATABASE_URL": database_url,
           "SANDBOX_USERNAME": "pishkhan", "SANDBOX_PASSWORD": "sandbox-secret",
           "SANDBOX_FAULTS": json.dumps({"latency_ms": latency_ms})}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
         str(workers), "--threads", str(threads), "--log-level", "warning",
         # Its own control socket: gunicorn's default path is shared by every server.
         "--control-socket", os.path.join(tempfile.gettempdir(), f"bench-sandbox-{port}.ctl"),
         "sandbox.wsgi:app"],
        env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{base}/api/health", timeout=1).raise_for_status()
            break
        except requests.RequestException:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise SystemExit("the sandbox did not start")
            time.sleep(0.2)

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)

    return base, stop


def run(slug: str, files: int, concurrency: int, count: int, base: str, folder: Path,
        store_url: str) -> float:
    """Seconds one delivery tick takes to push `count` letters at `concurrency`."""
    orgs = folder / "orgs"
    shutil.copytree(ROOT / "config" / "organizations", orgs)
    path = orgs / f"{slug}.toml"
    path.write_text(re.sub(r"(?m)^delivery_concurrency = .*$",
                           f"delivery_concurrency = {concurrency}",
                           path.read_text("utf-8")), "utf-8")
    settings = _settings(folder, base, store_url, orgs)
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        uploads = [Upload("نامه.pdf", PDF), Upload("عکس.png", PNG)][:files]
        for i in range(count):
            form = letters.LetterForm(
                applicant_type="natural", national_code="0076229645", first_name="مریم",
                last_name="احمدی", subject=f"نامه {i}", body="متن", service="general")
            code = letters.submit(px, slug, form, uploads, "09121234567").tracking_code
            letters.approve(px, code, "bench")
        px.adapter(slug).ping()  # load the WSDL outside the timing
        started = time.perf_counter()
        done = delivery.run_once(px, limit=count)
        elapsed = time.perf_counter() - started
        states = {letters.get(px, c.tracking_code).state for c in letters.queue_for(px, slug)}
        assert done == count, (done, count, states)
        return elapsed
    finally:
        px.close()


def adapter_alone(px_slug: str, files: int, concurrency: int, count: int, base: str,
                  folder: Path) -> float:
    """Seconds the organization's adapter alone takes for `count` deliveries from
    `concurrency` threads: the same calls without the core's claiming and bookkeeping. The
    baseline that shows how much of the gap to the bound is the machine (CPU for XML on both
    sides, the sandbox's database) rather than the pipeline."""
    settings = _settings(folder, base, f"sqlite:///{folder / 'unused.db'}",
                         ROOT / "config" / "organizations")
    px = bootstrap(settings)
    try:
        adapter = px.adapter(px_slug)
        register = px.org(px_slug).approval == "portal"
        adapter.ping()
        attachments = tuple(OutgoingAttachment(name, ctype, data) for name, ctype, data in
                            (("نامه.pdf", "application/pdf", PDF), ("عکس.png", "image/png", PNG))
                            )[:files]

        def one(i: int) -> None:
            letter = OutgoingLetter(
                tracking_code=f"B{concurrency:02d}{i:06d}", subject="نامه", body="متن",
                sender_name="مریم احمدی", sender_national_code="0076229645",
                sender_mobile="09121234567", applicant_type=ApplicantType.NATURAL,
                unit_code="SEC", attachments=attachments)
            receipt = adapter.deliver(letter)
            assert receipt.letter_number or not register

        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(one, range(count)))
        return time.perf_counter() - started
    finally:
        px.close()


def mixed(concurrency: int, count: int, base: str, slow_base: str | None, folder: Path,
          store_url: str) -> float:
    """Letters/s of demo-portal at ``concurrency`` through the worker's dispatcher, alone or
    while a second organization whose system takes 5 s a call has letters due (``slow_base``)."""
    orgs = folder / "orgs"
    shutil.copytree(ROOT / "config" / "organizations", orgs)
    fast = orgs / "demo-portal.toml"
    text = re.sub(r"(?m)^delivery_concurrency = .*$", f"delivery_concurrency = {concurrency}",
                  fast.read_text("utf-8"))
    fast.write_text(text, "utf-8")
    if slow_base:
        slow = text.replace('slug = "demo-portal"', 'slug = "slow"').replace(
            "${PISHKHAN_SANDBOX_URL}", slow_base)
        (orgs / "slow.toml").write_text(slow, "utf-8")
    settings = _settings(folder, base, store_url, orgs)
    upgrade(settings.database_url)
    px = bootstrap(settings)
    dispatcher = dispatcher_mod.Dispatcher(px)
    try:
        form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                                  first_name="مریم", last_name="احمدی", subject="نامه",
                                  body="متن", service="general")
        for slug in ("demo-portal", "slow") if slow_base else ("demo-portal",):
            for _ in range(count):
                code = letters.submit(px, slug, form, [Upload("نامه.pdf", PDF)],
                                      "09121234567").tracking_code
                letters.approve(px, code, "bench")
            px.adapter(slug).ping()
        started = time.perf_counter()
        dispatcher.pump()
        while letters_done(px, "demo-portal") < count:
            time.sleep(0.02)
            dispatcher.pump()  # the tick, as often as the bench looks
        return count / (time.perf_counter() - started)
    finally:
        dispatcher.close()
        px.close()


def letters_done(px, slug: str) -> int:
    from sqlalchemy import func, select

    from connector.store.models import Letter
    with px.sessions() as s:
        return s.scalar(select(func.count()).select_from(Letter).where(
            Letter.org == slug, Letter.state.in_(("delivered", "registered")))) or 0


def _settings(folder: Path, base: str, store_url: str, orgs: Path) -> Settings:
    return load_settings({
        "PISHKHAN_VAR_DIR": str(folder / "var"), "PISHKHAN_ORGS_DIR": str(orgs),
        "PISHKHAN_SECRET_KEY": "bench", "PISHKHAN_SANDBOX_URL": base,
        "PISHKHAN_DATABASE_URL": store_url,
        "PISHKHAN_DEMO_OA_USERNAME": "pishkhan", "PISHKHAN_DEMO_OA_PASSWORD": "sandbox-secret",
        "PISHKHAN_ENV_FILE": str(folder / "none.env")})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency-ms", type=float, default=100)
    parser.add_argument("--letters-per-worker", type=int, default=8)
    parser.add_argument("--concurrency", default="1,4,16,64")
    parser.add_argument("--sandbox-workers", type=int, default=1,
                        help="more than one needs sticky sessions for the legacy dialect")
    parser.add_argument("--sqlite", action="store_true",
                        help="SQLite for the staging store and the sandbox (the embedded "
                             "setup) instead of PostgreSQL (the setup for several workers)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    latency = args.latency_ms / 1000
    rows = []
    mixed_rows: list[tuple[int, int, float, float]] = []
    databases: list[str] = []
    load_before = os.getloadavg()[0]

    def database(folder: Path, name: str) -> str:
        if args.sqlite:
            return f"sqlite:///{folder / name}.db"
        databases.append(f"pishkhan_bench_{name}")
        return pg_database(databases[-1])

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base, stop = serve_sandbox(database(folder, "sandbox"), args.latency_ms,
                                   args.sandbox_workers, 64)
        slow_base, stop_slow = serve_sandbox(database(folder, "sandbox_slow"), 5000, 1, 64)
        try:
            for concurrency in [int(c) for c in args.concurrency.split(",")]:
                count = args.letters_per_worker * concurrency
                pair = []
                for name, slow in (("alone", None), ("with slow", slow_base)):
                    run_dir = folder / f"mixed-{concurrency}-{name.replace(' ', '-')}"
                    run_dir.mkdir()
                    store = database(run_dir, f"mixed_{concurrency}_{len(pair)}")
                    pair.append(mixed(concurrency, count, base, slow, run_dir, store))
                mixed_rows.append((concurrency, count, *pair))
            for slug, calls, files in CASES:
                for concurrency in [int(c) for c in args.concurrency.split(",")]:
                    count = args.letters_per_worker * concurrency
                    run_dir = folder / f"{slug}-{concurrency}"
                    run_dir.mkdir()
                    store = database(run_dir, f"{slug}_{concurrency}".replace("-", "_"))
                    alone = count / adapter_alone(slug, files, concurrency, count, base,
                                                  run_dir)
                    seconds = run(slug, files, concurrency, count, base, run_dir, store)
                    rate = count / seconds
                    bound = concurrency / (calls * latency)
                    rows.append((slug, calls, concurrency, count, bound, alone, rate))
        finally:
            stop()
            stop_slow()
            if databases:
                drop_pg_databases(databases)
    print(f"delivery throughput, sandbox latency {args.latency_ms:g} ms per call, "
          f"{'SQLite' if args.sqlite else 'PostgreSQL'} store and sandbox database; load "
          f"average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after "
          f"({os.cpu_count()} CPUs)")
    print("letters/s: bound = workers / (calls per letter x latency); adapter alone = the same "
          "calls from as many threads, without the core (baseline); pipeline = delivery ticks")
    print(f"{'organization':<13}{'calls':>6}{'workers':>8}{'letters':>8}{'bound':>8}"
          f"{'adapter alone':>15}{'pipeline':>10}{'of bound':>10}{'of alone':>10}")
    for slug, calls, concurrency, count, bound, alone, rate in rows:
        print(f"{slug:<13}{calls:>6}{concurrency:>8}{count:>8}{bound:>8.1f}{alone:>15.1f}"
              f"{rate:>10.1f}{rate / bound:>10.0%}{rate / alone:>10.0%}")
    print("\none organization's system at 5 s a call: demo-portal's letters/s through the "
          "dispatcher, alone (baseline) and while the slow one has letters due")
    print(f"{'workers':>8}{'letters':>8}{'bound':>8}{'alone':>8}{'with slow':>11}{'kept':>7}")
    for concurrency, count, alone, with_slow in mixed_rows:
        print(f"{concurrency:>8}{count:>8}{concurrency / latency:>8.1f}{alone:>8.1f}"
              f"{with_slow:>11.1f}{with_slow / alone:>7.0%}")


if __name__ == "__main__":
    main()
