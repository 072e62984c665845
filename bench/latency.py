"""How long a citizen waits: approval -> delivered, and a change in the office-automation
system -> the citizen's SMS queued.

    .venv/bin/python bench/latency.py [--letters 40]

Real processes on PostgreSQL: the sandbox under gunicorn, ``pishkhan worker``, and this
script approving letters of the ``demo-portal`` organization one by one (at random moments,
so they do not fall in step with the tick) and watching the store until each is delivered.
The baseline is the same worker with wake-ups off (``PISHKHAN_DELIVERY_LISTEN=false``): the
2 s tick alone, as before issue 12. Then, with wake-ups on, letters are referred to a unit in
the sandbox and the time until the ``referred`` SMS is queued is measured; that path is set by
the organization's ``poll_interval`` (5 s in the demo), since the system tells nobody.
Targets (issue 12): approval -> delivered p95 <= 0.5 s on PostgreSQL.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from push import drop_pg_databases, pg_database, serve_sandbox  # noqa: E402
from sqlalchemy import select  # noqa: E402

from connector.bootstrap import bootstrap  # noqa: E402
from connector.config.settings import load_settings  # noqa: E402
from connector.letters import usecases as letters  # noqa: E402
from connector.store.db import upgrade  # noqa: E402
from connector.store.models import Letter, Notification  # noqa: E402

FORM = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                          first_name="مریم", last_name="احمدی", subject="درخواست",
                          body="متن", service="general")
DONE = ("delivered", "registered")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def wait_for(check, timeout: float = 30.0) -> float:
    start = time.perf_counter()
    while not check():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out waiting")
        time.sleep(0.005)
    return time.perf_counter()


def state_of(px, code: str) -> str:
    with px.sessions() as s:
        return s.scalar(select(Letter.state).where(Letter.tracking_code == code))


def approvals(px, n: int) -> list[float]:
    out = []
    for _ in range(n):
        code = letters.submit(px, "demo-portal", FORM, [], "09121234567").tracking_code
        time.sleep(random.uniform(0.1, 1.0))
        t0 = time.perf_counter()
        letters.approve(px, code, "bench")
        out.append(wait_for(lambda: state_of(px, code) in DONE) - t0)
    return out


def referrals(px, base: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        code = letters.submit(px, "demo-portal", FORM, [], "09121234567").tracking_code
        letters.approve(px, code, "bench")
        wait_for(lambda: state_of(px, code) in DONE)
        found = requests.get(f"{base}/api/letters", params={"reference": code}, timeout=10)
        sandbox_id = found.json()["letters"][0]["id"]
        time.sleep(random.uniform(0.1, 1.0))
        t0 = time.perf_counter()
        requests.post(f"{base}/api/letters/{sandbox_id}/refer", json={"unit": "FIN"},
                      timeout=10).raise_for_status()

        def queued() -> bool:
            with px.sessions() as s:
                return bool(s.scalar(select(Notification.id).join(Letter).where(
                    Letter.tracking_code == code, Notification.kind == "referred")))
        out.append(wait_for(queued, 60) - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--letters", type=int, default=40)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    names = [f"pishkhan_bench_lat_{os.getpid()}"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        base, stop_sandbox = serve_sandbox(f"sqlite:///{folder / 'sandbox.db'}", 0)
        url = pg_database(names[0])
        orgs = folder / "orgs"
        shutil.copytree(ROOT / "config" / "organizations", orgs)
        env = {"PISHKHAN_VAR_DIR": str(folder / "var"), "PISHKHAN_ORGS_DIR": str(orgs),
               "PISHKHAN_SECRET_KEY": "bench", "PISHKHAN_DATABASE_URL": url,
               "PISHKHAN_SANDBOX_URL": base, "PISHKHAN_DEMO_OA_USERNAME": "pishkhan",
               "PISHKHAN_DEMO_OA_PASSWORD": "sandbox-secret", "PISHKHAN_LOG_LEVEL": "WARNING",
               "PISHKHAN_ENV_FILE": str(folder / "none.env")}
        upgrade(url)
        px = bootstrap(load_settings(env))
        try:
            for mode, listen in (("tick only (baseline)", "false"), ("wake-ups", "true")):
                worker = subprocess.Popen(
                    [sys.executable, "-m", "connector.cli", "worker"], cwd=ROOT,
                    env={**os.environ, **env, "PISHKHAN_DELIVERY_LISTEN": listen},
                    stdout=subprocess.DEVNULL, stderr=open(folder / f"worker-{listen}.log", "w"))
                try:
                    time.sleep(3)  # started, WSDL loaded, LISTEN in place
                    approvals(px, 3)  # warm
                    values = approvals(px, args.letters)
                    rows.append((f"approval -> delivered, {mode}", values))
                    if listen == "true":
                        rows.append(("OA referral -> SMS queued",
                                     referrals(px, base, max(5, args.letters // 4))))
                finally:
                    worker.terminate()
                    worker.wait(timeout=30)
        finally:
            px.close()
            stop_sandbox()
            drop_pg_databases(names)
    print(f"\nlatency as the citizen sees it, PostgreSQL, seconds; load average "
          f"{load_before:.2f} before, {os.getloadavg()[0]:.2f} after ({os.cpu_count()} CPUs)")
    print(f"{'path':<46}{'n':>5}{'p50':>8}{'p95':>8}{'max':>8}")
    for name, values in rows:
        print(f"{name:<46}{len(values):>5}{statistics.median(values):>8.3f}"
              f"{pct(values, 0.95):>8.3f}{max(values):>8.3f}")
    wake = next(v for n, v in rows if "wake-ups" in n)
    print(f"latency: approval -> delivered p95 {pct(wake, 0.95):.3f} s (target <= 0.5 s)")


if __name__ == "__main__":
    main()
