"""The sandbox served by several processes on one PostgreSQL database, as bench/push.py runs
it so that the office-automation side is not the bottleneck: the processes start together and
each creates the schema, one at a time, and accept each other's login tickets."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
import zeep
from sqlalchemy import create_engine, func, select

from sandbox.db import oa_sessions, oa_units, open_database
from sandbox.session import EXPIRED
from sandbox.state import Sessions
from tests.sandbox_server import PASSWORD, USERNAME, serve_in_processes

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


def test_a_login_ticket_holds_in_every_process_of_the_system(pg_url: str, tmp_path) -> None:
    """The session dialect's tickets live in the system's database, so the sandbox can run in
    several processes (bench/push.py) and a ticket one issued is good in another, until it is
    logged out or the system ends every session."""
    first, stop_first = serve_in_processes(pg_url, control_dir=str(tmp_path))
    second, stop_second = serve_in_processes(pg_url, control_dir=str(tmp_path))
    try:
        one, other = (zeep.Client(f"{base}/soap/session?wsdl").service
                      for base in (first, second))
        ticket = one.Login(UserName=USERNAME, Password=PASSWORD).Ticket
        assert other.GetServerTime(Ticket=ticket).Result.Code == 0
        assert other.GetServerTime(Ticket="not-a-ticket").Result.Code == EXPIRED
        with create_engine(pg_url).connect() as conn:  # kept by its hash only
            kept = list(conn.execute(select(oa_sessions.c.ticket_hash)).scalars())
        assert len(kept) == 1 and ticket not in kept[0]

        requests.post(f"{second}/api/sessions/expire", timeout=5).raise_for_status()
        assert one.GetServerTime(Ticket=ticket).Result.Code == EXPIRED

        ticket = other.Login(UserName=USERNAME, Password=PASSWORD).Ticket
        assert one.GetServerTime(Ticket=ticket).Result.Code == 0
        one.Logout(Ticket=ticket)
        assert other.GetServerTime(Ticket=ticket).Result.Code == EXPIRED
    finally:
        stop_first()
        stop_second()


@pytest.mark.parametrize("database", ["pg_url", "maria_url"])
def test_logins_at_once_each_get_a_ticket(database: str, request) -> None:
    """32 logins at once on a database server, over a table holding expired tickets (which a
    login clears): none fails. On MariaDB the clearing and the insert in one transaction
    deadlocked on each other's gap locks."""
    engine = open_database(request.getfixturevalue(database))
    try:
        sessions = Sessions(engine, 0.01)
        for _ in range(8):
            sessions.login()  # soon expired, to be cleared by the logins below
        time.sleep(0.05)
        sessions.lifetime = timedelta(seconds=600)
        together = threading.Barrier(32)

        def login(_: int) -> str:
            together.wait()
            return sessions.login()

        for _ in range(3):
            with ThreadPoolExecutor(32) as pool:
                tickets = list(pool.map(login, range(32)))
            assert all(sessions.valid(ticket) for ticket in tickets)
    finally:
        engine.dispose()
