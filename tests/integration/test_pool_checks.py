"""Pooled PostgreSQL connections are checked with a round trip only after sitting idle: one
the server dropped while idle is replaced before use; one it dropped right after its last use
fails the statement sent on it once, and the pool is renewed."""
from __future__ import annotations

import html
import re
import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from connector.letters import usecases as letters
from connector.store.db import make_engine
from tests.conftest import _pg_admin


def backend(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def drop(pid: int) -> None:
    """The server ends this connection, as a restart or an idle timeout would."""
    with _pg_admin() as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        for _ in range(100):  # gone from the server's list once the backend has exited
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                 (pid,)).fetchone():
                return
            time.sleep(0.02)


def test_a_connection_dropped_while_idle_is_replaced_before_use(pg_url):
    engine = make_engine(pg_url, ping_after_idle=0.2, pool_size=1)
    try:
        first = backend(engine)
        drop(first)
        time.sleep(0.3)  # idle past the threshold: checked before use
        assert backend(engine) != first
    finally:
        engine.dispose()


def test_a_connection_dropped_right_after_use_fails_once_then_the_pool_is_renewed(pg_url):
    engine = make_engine(pg_url, ping_after_idle=60, pool_size=2)
    try:
        # Two connections in the pool, both used a moment ago.
        with engine.connect() as a, engine.connect() as b:
            pids = [int(c.execute(text("SELECT pg_backend_pid()")).scalar_one())
                    for c in (a, b)]
        for pid in pids:
            drop(pid)
        with pytest.raises(DBAPIError) as failed:  # not checked: used within the minute
            backend(engine)
        assert failed.value.connection_invalidated
        # The failure renewed the whole pool: the other dropped connection is not used again.
        assert backend(engine) not in pids
        assert backend(engine) not in pids
    finally:
        engine.dispose()


@pytest.fixture
def pg_portal(tmp_path, pg_url):
    from connector.bootstrap import bootstrap
    from connector.store.db import upgrade
    from portal import create_app
    from tests.conftest import make_settings

    upgrade(pg_url)
    px = bootstrap(make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url))
    yield px, create_app(px, {"TESTING": True}).test_client()
    px.close()


def restart(pg_url: str) -> None:
    """The server drops the store's connections (a restart), within a second of their use."""
    with _pg_admin() as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (pg_url.rsplit("/", 1)[1],))


def test_a_request_whose_database_connection_was_lost_is_a_503_and_the_next_one_works(
        pg_portal, pg_url):
    _, client = pg_portal
    for mobile in ("09121111111", "09122222222"):  # every pooled connection just used
        assert client.post("/api/v1/otp", json={"mobile": mobile}).status_code == 202
    restart(pg_url)
    r = client.post("/api/v1/otp", json={"mobile": "09123333333"})
    assert r.status_code == 503 and r.json["error"]["code"] == "busy"
    assert r.headers["Retry-After"] and "دوباره امتحان کنید" in r.json["error"]["message"]
    assert client.post("/api/v1/otp", json={"mobile": "09123333333"}).status_code == 202


def test_a_letter_whose_sending_meets_a_lost_connection_comes_back_whole(pg_portal, pg_url):
    import io

    from tests.integration.test_portal_pages import PDF, csrf, letter_data, page, web_login

    px, client = pg_portal
    web_login(client, px)
    token = csrf(client, "/o/demo/letter")
    data = {**letter_data(token, subject="چراغ کوچه خاموش است"),
            "attachments": [(io.BytesIO(PDF), "عکس.pdf")]}
    restart(pg_url)
    r = client.post("/o/demo/letter", data=data, content_type="multipart/form-data")
    assert r.status_code == 503
    text = page(r)
    assert "نامه هنوز فرستاده نشده است" in text and "چراغ کوچه خاموش است" in text
    assert "عکس.pdf" in text and 'name="keep"' in text  # the file is held, ready to send
    # Sent again from that page, it goes.
    again = {name: html.unescape(value) for name, value in
             re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', text)}
    again["keep"] = re.findall(r'name="keep" value="([^"]+)"', text)
    again["action"] = "send"
    r = client.post("/o/demo/letter", data=again)
    assert r.status_code == 302, page(r)
    sent = letters.get(px, r.headers["Location"].rsplit("/", 1)[-1])
    assert sent.subject == "چراغ کوچه خاموش است" and len(sent.attachments) == 1
