"""Intake throughput: the product's letter intake against a bare handler doing the minimum.

    .venv/bin/python bench/intake.py [--quick] [--repeats 5] [--seconds 6] [--sqlite-only]
                                     [--postgresql-only]

Both run under gunicorn with the settings ``pishkhan web`` uses (2 workers x 4 threads), side
by side on the same store; each request hands in one 200 KB PDF (made unique per request, so
the blob store can't skip the write). For 1, 10 and 50 clients the two alternate, repeated and
interleaved, and the table gives medians of the repeats: requests per second, p50 and p99
latency, the product's share of the baseline, and the CPU each letter cost the web server's
processes and PostgreSQL (the steadier measure on a busy machine). ``--quick``: the default
SQLite store only, 2 repeats of 3 s (well under 5 minutes). Targets (issue 12): >= 60 % of the baseline at every
client count on both databases; p99 <= 1.5x the baseline's at 50 clients.
"""
from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from push import drop_pg_databases, pg_database  # noqa: E402

from connector.cli.processes import _web_cmd  # noqa: E402
from connector.config.settings import load_settings  # noqa: E402
from connector.domain.clock import now  # noqa: E402
from connector.people.credentials import digest, new_token  # noqa: E402
from connector.store.db import make_engine, make_session_factory, transaction, upgrade  # noqa: E402
from connector.store.models import ApiToken  # noqa: E402

MOBILE = "09121234567"
CLIENTS = (1, 10, 50)
FIRST_FAILURE: list[str] = []
MARK = b"UNIQUE-0123456789abcdef0123456789"  # replaced per request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def multipart(pdf_kb: int) -> tuple[bytes, bytes, str]:
    """The form of one letter, split around the marker that makes each file unique."""
    boundary = uuid.uuid4().hex
    fields = {"applicant_type": "natural", "national_code": "0076229645",
              "first_name": "علی", "last_name": "کریمی", "subject": "درخواست تعمیر آسفالت",
              "body": "کوچه ما خراب است. " * 20, "service": "street-repair"}
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
             .encode() for k, v in fields.items()]
    pdf = b"%PDF-1.4\n" + MARK + b"\n" + os.urandom(pdf_kb * 1024) + b"\n%%EOF\n"
    head = b"".join(parts) + (
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachments"; '
        f'filename="nameh.pdf"\r\nContent-Type: application/pdf\r\n\r\n').encode()
    before, after = (head + pdf + f"\r\n--{boundary}--\r\n".encode()).split(MARK)
    return before, after, f"multipart/form-data; boundary={boundary}"


def serve(app: str, env: dict[str, str], settings, port: int, log: Path) -> subprocess.Popen:
    cmd = _web_cmd(settings)
    cmd[cmd.index("portal.wsgi:app")] = app
    cmd[cmd.index("--bind") + 1] = f"127.0.0.1:{port}"
    process = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log.open("ab"),
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"{app} did not start; see {log}")
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"{app} did not start in time; see {log}")


TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    """User + system CPU seconds of one process (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def tree_cpu(pid: int) -> float:
    """CPU seconds of a server and its workers (gunicorn's master and the processes it forked)."""
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        total += _cpu_of(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                stack += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
    return total


def postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process on the machine (the runs take turns, so a run's
    difference is its own)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text:
            total += _cpu_of(int(stat.parent.name))
    return total


def hammer(port: int, clients: int, seconds: float, body: tuple[bytes, bytes, str],
           token: str) -> tuple[float, list[float], int]:
    """Requests/s, latencies and failures of ``clients`` keep-alive clients for ``seconds``."""
    before, after, ctype = body
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine: list[float] = []
        bad = 0
        start.wait()
        while time.perf_counter() < stop_at[0]:
            payload = before + uuid.uuid4().hex.encode()[:len(MARK)].ljust(len(MARK), b"0") \
                + after
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/orgs/demo/letters", body=payload,
                             headers={"Content-Type": ctype, "Authorization": f"Bearer {token}"})
                resp = conn.getresponse()
                answer = resp.read()
                ok = resp.status == 201
                if not ok and not FIRST_FAILURE:
                    FIRST_FAILURE.append(f"{resp.status} {answer[:300]!r}")
            except (OSError, http.client.HTTPException) as exc:
                ok = False
                if not FIRST_FAILURE:
                    FIRST_FAILURE.append(repr(exc))
                time.sleep(0.05)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            if ok:
                mine.append(time.perf_counter() - t0)
            else:
                bad += 1
        conn.close()
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    begun = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - begun
    return len(latencies) / elapsed, latencies, failures[0]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def database_run(name: str, url: str, folder: Path, args: argparse.Namespace,
                 body: tuple[bytes, bytes, str]) -> list[dict]:
    orgs = folder / "orgs"
    if not orgs.exists():
        shutil.copytree(ROOT / "config" / "organizations", orgs)
    env = {**os.environ, "PISHKHAN_VAR_DIR": str(folder / f"var-{name}"),
           "PISHKHAN_ORGS_DIR": str(orgs), "PISHKHAN_SECRET_KEY": "bench",
           "PISHKHAN_DATABASE_URL": url, "PISHKHAN_ENV_FILE": str(folder / "none.env"),
           "PISHKHAN_LOG_LEVEL": "WARNING", "BARE_FILES": str(folder / f"bare-{name}")}
    settings = load_settings({k: v for k, v in env.items() if k.startswith("PISHKHAN_")})
    upgrade(url)
    engine = make_engine(url)
    from intake_app import BARE
    BARE.create_all(engine)
    token = new_token()
    with transaction(make_session_factory(engine)) as s:
        s.add(ApiToken(token_hash=digest(token, "bench"), mobile=MOBILE,
                       expires_at=now() + timedelta(days=1)))
    engine.dispose()
    ports = {"baseline": free_port(), "product": free_port()}
    log = folder / f"servers-{name}.log"
    servers = [serve("bench.intake_app:bare()", env, settings, ports["baseline"], log),
               serve("bench.intake_app:product()", env, settings, ports["product"], log)]
    try:
        for side in ports:  # warm both: imports, connections, the first blob folders
            hammer(ports[side], 2, 1.0, body, token)
        pids = dict(zip(ports, (p.pid for p in servers)))
        db_cpu = postgres_cpu if name == "postgresql" else (lambda: 0.0)
        samples: dict[tuple[int, str], list[tuple[float, list[float], int, float, float]]] = {}
        for r in range(args.repeats):
            for clients in CLIENTS:
                order = ("baseline", "product") if r % 2 == 0 else ("product", "baseline")
                for side in order:
                    cpu0, db0 = tree_cpu(pids[side]), db_cpu()
                    rate, latencies, failures = hammer(ports[side], clients, args.seconds,
                                                       body, token)
                    done = max(1, len(latencies))
                    samples.setdefault((clients, side), []).append(
                        (rate, latencies, failures, (tree_cpu(pids[side]) - cpu0) / done,
                         (db_cpu() - db0) / done))
    finally:
        for p in servers:
            p.terminate()
        for p in servers:
            p.wait(timeout=30)
    rows = []
    for clients in CLIENTS:
        row = {"db": name, "clients": clients}
        for side in ("baseline", "product"):
            runs = samples[(clients, side)]
            row[side] = (statistics.median(r[0] for r in runs),
                         statistics.median(pct(r[1], 0.5) for r in runs),
                         statistics.median(pct(r[1], 0.99) for r in runs),
                         sum(r[2] for r in runs),
                         statistics.median(r[3] for r in runs),
                         statistics.median(r[4] for r in runs))
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgresql-only", action="store_true")
    parser.add_argument("--pdf-kb", type=int, default=200)
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.seconds, args.sqlite_only = 2, 3.0, True
    body = multipart(args.pdf_kb)
    rows: list[dict] = []
    load_before = os.getloadavg()
    pg_names: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if not args.postgresql_only:
            rows += database_run("sqlite", f"sqlite:///{folder / 'store.db'}", folder, args,
                                 body)
        if not args.sqlite_only:
            pg_names.append(f"pishkhan_bench_intake_{os.getpid()}")
            try:
                rows += database_run("postgresql", pg_database(pg_names[0]), folder, args, body)
            finally:
                drop_pg_databases(pg_names)
    load_after = os.getloadavg()
    print(f"\nintake, one {args.pdf_kb} KB PDF per letter; medians of {args.repeats} "
          f"interleaved runs of {args.seconds:g} s; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after ({os.cpu_count()} CPUs)")
    print(f"{'db':<11}{'clients':>8} | {'base req/s':>10}{'p50 ms':>8}{'p99 ms':>8} | "
          f"{'prod req/s':>10}{'p50 ms':>8}{'p99 ms':>8} | {'share':>6}{'p99 x':>7}{'errors':>7} | "
          f"{'web CPU ms b/p':>15}{'db CPU ms b/p':>15}")
    shares, p99_ratio = [], 0.0
    for row in rows:
        b, p = row["baseline"], row["product"]
        share = 100 * p[0] / b[0] if b[0] else 0.0
        ratio = p[2] / b[2] if b[2] else float("inf")
        shares.append(share)
        if row["clients"] == 50:
            p99_ratio = max(p99_ratio, ratio)
        print(f"{row['db']:<11}{row['clients']:>8} | {b[0]:>10.1f}{b[1] * 1000:>8.0f}"
              f"{b[2] * 1000:>8.0f} | {p[0]:>10.1f}{p[1] * 1000:>8.0f}{p[2] * 1000:>8.0f} | "
              f"{share:>5.0f}%{ratio:>6.2f}x{b[3] + p[3]:>7} | "
              f"{b[4] * 1000:>7.2f}/{p[4] * 1000:<7.2f}{b[5] * 1000:>7.2f}/{p[5] * 1000:<7.2f}")
    if FIRST_FAILURE:
        print(f"first failure: {FIRST_FAILURE[0]}")
    print("web CPU: the server's processes (gunicorn and its workers), user + system, per letter; "
          "db CPU: every PostgreSQL process's, per letter (SQLite's is in the web's)")
    print(f"intake: {min(shares):.0f}% of baseline, p99 {p99_ratio:.2f}x baseline at 50 clients")


if __name__ == "__main__":
    main()
