"""Behind nginx (PISHKHAN_PROXY_FIX=1) each client is counted by the address the proxy forwards;
without it the forwarded header is ignored, so a client cannot choose its own address."""
from __future__ import annotations

import pytest

from connector.bootstrap import bootstrap
from connector.domain import tracking
from connector.store.db import upgrade
from tests.conftest import make_settings

PROXY = "127.0.0.1"  # every request reaches the portal from nginx on the same machine


@pytest.fixture
def app_with(tmp_path):
    made = []

    def make(**env: str):
        from portal import create_app
        settings = make_settings(tmp_path, **env)
        upgrade(settings.database_url)
        px = bootstrap(settings)
        made.append(px)
        return create_app(px, {"TESTING": True})
    yield make
    for px in made:
        px.close()


def _track(app, forwarded_for: str) -> list[int]:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = PROXY
    return [client.get("/track", query_string={"code": tracking.new_code()},
                       headers={"X-Forwarded-For": forwarded_for}).status_code
            for _ in range(61)]


def test_behind_one_proxy_each_forwarded_client_has_its_own_counter(app_with):
    app = app_with(PISHKHAN_PROXY_FIX="1")
    assert _track(app, "5.6.7.8")[-2:] == [302, 429]
    # Another citizen behind the same nginx is not held up by the first one's requests...
    assert _track(app, "9.9.9.9")[0] == 302
    # ... and the first cannot slip out by prepending an address of its own: one hop is
    # trusted, so the address nginx appended (the last) is the one that counts.
    assert _track(app, "1.1.1.1, 5.6.7.8")[0] == 429


def test_without_proxy_fix_the_forwarded_header_is_ignored(app_with):
    app = app_with()
    assert _track(app, "5.6.7.8")[-1] == 429
    assert _track(app, "9.9.9.9")[0] == 429  # one counter: the proxy's own address


def test_the_forwarded_scheme_and_host_are_trusted_behind_the_proxy(app_with):
    from flask import request
    app = app_with(PISHKHAN_PROXY_FIX="1")
    seen = {}

    @app.get("/_probe")  # what a view sees of the request, through the whole WSGI stack
    def probe():
        seen.update(addr=request.remote_addr, scheme=request.scheme, host=request.host)
        return "ok"
    app.test_client().get("/_probe", environ_base={"REMOTE_ADDR": PROXY}, headers={
        "X-Forwarded-For": "5.6.7.8", "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "portal.example.ir"})
    assert seen == {"addr": "5.6.7.8", "scheme": "https", "host": "portal.example.ir"}
