"""The demo's visits under `make run`: accounts, the gate token printed on the banner works,
two visitors expected today; starting again gives a new token and no duplicate visitors."""
from __future__ import annotations

from connector.bootstrap import bootstrap
from connector.people import staff
from connector.store.db import upgrade
from connector.visits import demo, gates
from connector.visits import usecases as visits
from tests.conftest import make_settings


def test_demo_visits_are_made_once_and_the_token_works(tmp_path):
    settings = make_settings(tmp_path, PISHKHAN_DEMO="true")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        first = demo.ensure(px)
        assert first is not None
        assert staff.login(px, "host", "pishkhan-host").user.role == "host"
        assert staff.login(px, "security", "pishkhan-security").user.role == "security"
        assert gates.by_token(px, "main-gate", first.token).name == "main-gate"
        assert len(visits.listing(px, "demo")) == 2
        second = demo.ensure(px)
        assert second.token != first.token and len(visits.listing(px, "demo")) == 2
        try:
            gates.by_token(px, "main-gate", first.token)
            raise AssertionError("the old token still works")
        except gates.GateUnauthorized:
            pass
    finally:
        px.close()
