"""A crash campaign you can rerun: nothing lost, nothing done twice, however workers die.

    .venv/bin/python bench/chaos.py [--letters 1000] [--workers 3] [--seconds 900] [--quick]

PostgreSQL holds the staging store; the sandbox (its own processes, the SQLite file the
`demo-odbc` organization reads over ODBC) answers with latency, errors and commit-then-timeout.
Letters are handed in across the four demo organizations; the portal-approval ones are approved
or rejected in Pishkhan, the inbox ones registered or rejected in the sandbox as they arrive.
Meanwhile a random worker is killed with SIGKILL every 1–3 s and a new one started. When every
letter has reached its end (or the time is up) the killing stops, one worker drains the outboxes,
and the campaign counts letters lost, duplicated and stuck, and SMS lost and duplicated per
(letter, kind). Exit status 1 if any count is not 0. `--quick` is the short version the test suite
runs (tests/integration/test_chaos.py).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.push import drop_pg_databases, pg_database  # noqa: E402
from connector.bootstrap import bootstrap  # noqa: E402
from connector.config.settings import load_settings  # noqa: E402
from connector.letters import usecases as letters  # noqa: E402
from connector.letters.files import Upload  # noqa: E402
from connector.store.db import upgrade  # noqa: E402
from connector.store.models import Letter, Notification  # noqa: E402
from connector.outbox.sms import FIRST_CHECK, NOT_FOUND_CHECKS  # noqa: E402
from connector.outbox.sms_claim import RECONCILE_AFTER  # noqa: E402

# A worker killed after an SMS's departure was written but before the request left: the message
# is looked up by reference once its claim runs out, and sent again after NOT_FOUND_CHECKS
# look-ups that find nothing, with growing gaps, each on the 15 s status tick. The drain waits
# that long (and only while something is still unsettled), so the campaign counts what the
# product recovers, not what it had no time to.
SMS_RECOVERY = (RECONCILE_AFTER.total_seconds()
                + sum(FIRST_CHECK.total_seconds() * 2 ** i for i in range(1, NOT_FOUND_CHECKS))
                + 15 * (NOT_FOUND_CHECKS + 1) + 30)

ORGS = ("demo", "demo-portal", "demo-legacy", "demo-odbc")
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
MOBILE = "0912{:07d}"
FINAL = {"registered", "rejected"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_sandbox(folder: Path, faults: dict) -> tuple[str, subprocess.Popen]:
    port = free_port()
    env = {**os.environ, "SANDBOX_DATABASE_URL": f"sqlite:///{folder / 'var' / 'sandbox.db'}",
           "SANDBOX_USERNAME": "pishkhan", "SANDBOX_PASSWORD": "sandbox-secret",
           "SANDBOX_FAULTS": json.dumps(faults), "SANDBOX_TIMEOUT_SLEEP": "2"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
         "--threads", "32", "--log-level", "warning", "sandbox.wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if requests.get(f"{base}/api/faults", timeout=1).ok:
                return base, process
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit("the sandbox did not start")


def environment(folder: Path, store_url: str, sandbox: str) -> dict[str, str]:
    orgs = folder / "orgs"
    shutil.copytree(ROOT / "config" / "organizations", orgs)
    for path in orgs.glob("*.toml"):  # poll often: the campaign is minutes, not days
        text = path.read_text(encoding="utf-8").replace("poll_interval = 5", "poll_interval = 1")
        path.write_text(text, encoding="utf-8")
    return {"PISHKHAN_VAR_DIR": str(folder / "var"), "PISHKHAN_ORGS_DIR": str(orgs),
            "PISHKHAN_DATABASE_URL": store_url, "PISHKHAN_SANDBOX_URL": sandbox,
            "PISHKHAN_SECRET_KEY": "chaos", "PISHKHAN_ENV_FILE": str(folder / "none.env"),
            "PISHKHAN_DEMO_OA_USERNAME": "pishkhan",
            "PISHKHAN_DEMO_OA_PASSWORD": "sandbox-secret",
            "PISHKHAN_DELIVERY_INTERVAL": "0.5", "PISHKHAN_SMS_INTERVAL": "0.5",
            "PISHKHAN_RETRY_BASE_SECONDS": "1", "PISHKHAN_RETRY_CAP_SECONDS": "4",
            "PISHKHAN_CALL_RETRY_WAIT": "0", "PISHKHAN_MAX_ATTEMPTS": "1000",
            "PISHKHAN_LOG_LEVEL": "ERROR"}


class Workers:
    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env, self.folder = {**os.environ, **env}, folder
        self.procs: list[subprocess.Popen] = []
        self.kills = 0

    def start(self) -> None:
        log = open(self.folder / "workers.log", "ab")
        self.procs.append(subprocess.Popen([sys.executable, "-m", "connector.cli", "worker"],
                                           cwd=ROOT, env=self.env, stdout=log, stderr=log))

    def kill_one(self, rng: random.Random) -> None:
        victim = self.procs.pop(rng.randrange(len(self.procs)))
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.kills += 1
        self.start()

    def stop(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs = []


def hand_in(px, count: int, rng: random.Random, first: int = 0) -> dict[str, dict]:
    plan: dict[str, dict] = {}
    for i in range(first, first + count):
        org = ORGS[i % len(ORGS)]
        service = px.org(org).services[0].code
        form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                                  first_name="علی", last_name="کریمی", subject=f"نامه {i}",
                                  body="متن آزمایشی", service=service)
        letter = letters.submit(px, org, form, [Upload("a.pdf", PDF)], MOBILE.format(i))
        plan[letter.tracking_code] = {"org": org, "reject": rng.random() < 0.25,
                                      "decided": False}
    return plan


def decide(px, sandbox: str, plan: dict[str, dict]) -> None:
    """What controllers do: decide portal letters in Pishkhan, inbox letters in the sandbox."""
    for code, item in plan.items():
        if item["decided"]:
            continue
        if px.org(item["org"]).approval == "portal":
            if item["reject"]:
                letters.reject(px, code, "chaos", "مدارک کامل نیست.")
            else:
                letters.approve(px, code, "chaos")
            item["decided"] = True
            continue
        try:
            found = requests.get(f"{sandbox}/api/letters", params={"reference": code},
                                 timeout=5).json()["letters"]
        except (requests.RequestException, ValueError):
            continue
        if not found:
            continue
        action = "reject" if item["reject"] else "register"
        body = {"reason": "مدارک کامل نیست."} if item["reject"] else {}
        try:
            if requests.post(f"{sandbox}/api/letters/{found[0]['id']}/{action}", json=body,
                             timeout=5).ok:
                item["decided"] = True
        except requests.RequestException:
            pass


def states(px, codes: list[str]) -> dict[str, Letter]:
    from sqlalchemy import select
    with px.sessions() as s:
        return {row.tracking_code: row for row in
                s.scalars(select(Letter).where(Letter.tracking_code.in_(codes)))}


def count(px, sandbox: str, plan: dict[str, dict], folder: Path) -> dict[str, int]:
    from sqlalchemy import select
    rows = states(px, list(plan))
    result = Counter(letters_lost=0, letters_duplicated=0, letters_stuck=0, sms_lost=0,
                     sms_duplicated=0)
    for code, item in plan.items():
        found = requests.get(f"{sandbox}/api/letters", params={"reference": code},
                             timeout=10).json()["letters"]
        delivered_expected = not (item["reject"] and px.org(item["org"]).approval == "portal")
        if delivered_expected and not found:
            result["letters_lost"] += 1
        if len(found) > 1:
            result["letters_duplicated"] += 1
        if rows[code].state not in FINAL:
            result["letters_stuck"] += 1
        if (delivered_expected and not found) or rows[code].state not in FINAL:
            print(f"  {code} {item['org']}: {rows[code].state}, attempts "
                  f"{rows[code].attempts}, {len(found)} in the sandbox, last error: "
                  f"{rows[code].last_error}")
    sent = Counter()
    outbox = folder / "var" / "sms-outbox.jsonl"
    for line in outbox.read_text(encoding="utf-8").splitlines() if outbox.exists() else []:
        try:
            sent[json.loads(line)["reference"]] += 1
        except (ValueError, KeyError):
            continue  # a line cut by a kill: its message was resent or is counted below
    with px.sessions() as s:
        notes = s.execute(select(Notification.client_reference, Notification.kind,
                                 Letter.tracking_code, Notification.state,
                                 Notification.request_sent_at, Notification.attempts,
                                 Notification.checks, Notification.last_error)
                          .join(Letter, Letter.id == Notification.letter_id)).all()
    by_kind: Counter = Counter()
    delivered: Counter = Counter()
    seen: dict[tuple[str, str], Any] = {}
    for note in notes:
        reference, kind, code = note[:3]
        by_kind[(code, kind)] += 1
        delivered[(code, kind)] += sent[reference]
        seen[(code, kind)] = note
    for code, item in plan.items():
        state = rows[code].state
        for kind in ("receipt", state if state in FINAL else None):
            if kind is None:
                continue
            if delivered[(code, kind)] == 0:
                result["sms_lost"] += 1
                note = seen.get((code, kind))
                print(f"  SMS {kind} of {code} ({item['org']}): " + (
                    "never queued" if note is None else
                    f"{note.state}, departure written: {note.request_sent_at is not None}, "
                    f"attempts {note.attempts}, look-ups {note.checks}, "
                    f"last error: {note.last_error}"))
            if by_kind[(code, kind)] > 1 or delivered[(code, kind)] > 1:
                result["sms_duplicated"] += 1
    return dict(result)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=900, help="give up after this long")
    parser.add_argument("--seed", type=int, default=1405)
    parser.add_argument("--quick", action="store_true", help="40 letters, the suite's version")
    args = parser.parse_args()
    # The quick campaign must really kill workers at work: 40 letters are delivered in a few
    # seconds now, so while fewer kills than this have happened, finished letters are followed
    # by 10 more.
    least_kills = 0
    if args.quick:
        args.letters, args.seconds, least_kills = 40, 240, 5
    rng = random.Random(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="pishkhan-chaos-"))
    (folder / "var").mkdir()
    db = f"pishkhan_chaos_{os.getpid()}"
    store_url = pg_database(db)
    faults = {"latency_ms": 30, "error_rate": 0.1, "commit_then_timeout": 0.1}
    sandbox, sandbox_proc = start_sandbox(folder, {})
    env = environment(folder, store_url, sandbox)
    settings = load_settings({**os.environ, **env})
    upgrade(store_url)
    px = bootstrap(settings)
    workers = Workers(env, folder)
    started = time.monotonic()
    try:
        for _ in range(args.workers):
            workers.start()
        requests.post(f"{sandbox}/api/faults", json=faults, timeout=5)
        plan = hand_in(px, args.letters, rng)
        next_kill = time.monotonic() + rng.uniform(1, 3)
        while time.monotonic() - started < args.seconds:
            decide(px, sandbox, plan)
            if all(r.state in FINAL for r in states(px, list(plan)).values()):
                if workers.kills >= least_kills:
                    break
                plan.update(hand_in(px, 10, rng, first=len(plan)))
            if time.monotonic() >= next_kill:
                workers.kill_one(rng)
                next_kill = time.monotonic() + rng.uniform(1, 3)
            time.sleep(0.3)
        requests.post(f"{sandbox}/api/faults", json={}, timeout=5)
        # Drain: one worker, no more kills, until the outboxes settle.
        while len(workers.procs) > 1:
            workers.procs.pop().send_signal(signal.SIGKILL)
            workers.kills += 1
        drain_until = time.monotonic() + max(120 + args.letters // 5, SMS_RECOVERY)
        while time.monotonic() < drain_until:
            decide(px, sandbox, plan)
            with px.sessions() as s:
                from sqlalchemy import func, select
                busy = s.scalar(select(func.count()).select_from(Notification)
                                .where(Notification.state.in_(("created", "sending"))))
            if not busy and all(r.state in FINAL for r in states(px, list(plan)).values()):
                break
            time.sleep(1)
        elapsed = time.monotonic() - started
        counts = count(px, sandbox, plan, folder)
    finally:
        workers.stop()
        px.close()
        sandbox_proc.terminate()
        sandbox_proc.wait(10)
        drop_pg_databases([db])
    print(f"chaos: {len(plan)} letters over {', '.join(ORGS)}, {args.workers} workers, "
          f"{workers.kills} kills (SIGKILL), {elapsed:.0f} s; sandbox faults {faults}")
    print(f"{'count':<22}{'value':>6}")
    for name, value in counts.items():
        print(f"{name:<22}{value:>6}")
    if any(counts.values()):
        print(f"kept for a look: {folder} (workers.log, var/)")
        return 1
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
