"""Pausing an organization whose worker state row does not exist yet: the admin's insert can
meet the worker's (or another admin's); the loser updates the row the winner created instead
of answering 500. 32 at once on PostgreSQL, where the insert waits for the winner's commit."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from connector.bootstrap import bootstrap
from connector.operations import dashboard
from connector.store import audit
from connector.store.db import upgrade
from connector.store.models import OrgState
from tests.conftest import make_settings


@pytest.mark.postgres
def test_32_admins_pausing_at_once_keep_one_row_and_all_succeed(tmp_path, pg_url):
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url)
    upgrade(pg_url)
    px = bootstrap(settings)
    try:
        start = threading.Barrier(32)

        def pause(_: int) -> None:
            start.wait(30)
            dashboard.set_paused(px, "demo", True)

        with ThreadPoolExecutor(32) as pool:
            list(pool.map(pause, range(32)))  # any exception fails the test here
        with px.sessions() as s:
            assert s.scalar(select(func.count()).select_from(OrgState)) == 1
            assert s.get(OrgState, "demo").paused is True
        actions = [r.action for r in audit.search(px, audit.Filters(org="demo"))]
        assert actions.count("org.pause") == 32
    finally:
        px.close()
