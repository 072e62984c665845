"""What bench/push.py and bench/push_fairness.py share: the sandbox in its own processes, fresh
PostgreSQL databases, the settings of a bench run and the files a letter carries."""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connector.config.settings import Settings, load_settings  # noqa: E402
from tests.sandbox_server import serve_in_processes  # noqa: E402

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
    with the worker's for one interpreter lock (tests/sandbox_server.serve_in_processes).
    Connections are kept open 30 s, as a production web server keeps them, not gunicorn's 2 s:
    on a loaded machine a connection left idle about 2 s between runs was closed by the
    sandbox just as the adapter reused it, and the adapter-alone baseline, which has no
    look-up to recover with, stopped the benchmark on that ambiguous call."""
    return serve_in_processes(database_url, latency_ms, workers, threads, keep_alive=30)


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
