"""The sandbox served by several processes on one PostgreSQL database, as bench/push.py runs
it so that the office-automation side is not the bottleneck: the processes start together and
each creates the schema, one at a time."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from sandbox.db import oa_units, open_database

STARTERS = 8


def test_starting_together_creates_one_schema(pg_url: str) -> None:
    together = threading.Barrier(STARTERS)

    def start(_: int) -> int:
        together.wait()
        engine = open_database(pg_url)
        try:
            with engine.connect() as conn:
                return conn.scalar(select(func.count()).select_from(oa_units)) or 0
        finally:
            engine.dispose()

    with ThreadPoolExecutor(STARTERS) as pool:
        units = list(pool.map(start, range(STARTERS)))
    assert units == [5] * STARTERS

