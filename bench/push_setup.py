"""What bench/push.py and bench/push_fairness.py share: the sandbox in its own processes, fresh
PostgreSQL databases, the settings of a bench run and the files a letter carries."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.config.settings import Settings, load_settings  # noqa: E402

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")

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


def bench_settings(folder: Path, base: str, store_url: str, orgs: Path) -> Settings:
    return load_settings({
        "PISHKHAN_VAR_DIR": str(folder / "var"), "PISHKHAN_ORGS_DIR": str(orgs),
        "PISHKHAN_SECRET_KEY": "bench", "PISHKHAN_SANDBOX_URL": base,
        "PISHKHAN_DATABASE_URL": store_url,
        "PISHKHAN_DEMO_OA_USERNAME": "pishkhan", "PISHKHAN_DEMO_OA_PASSWORD": "sandbox-secret",
        "PISHKHAN_ENV_FILE": str(folder / "none.env")})


def load() -> str:
    """The machine's 1-minute load average, for the table headers."""
    return f"{os.getloadavg()[0]:.2f}"
