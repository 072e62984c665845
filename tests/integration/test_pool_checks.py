"""Pooled PostgreSQL connections are checked with a round trip only after sitting idle: one
the server dropped while idle is replaced before use; one it dropped right after its last use
fails the statement sent on it once, and the pool is renewed."""
from __future__ import annotations

import html
import io
import re
import time

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from connector.letters import usecases as letters
from connector.store.db import make_engine, store_unavailable
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


# What psycopg 3 raised, once in a full run, when the server's farewell arrived while the
# next statement was being sent: the connection still read as open.
FAREWELL_WHILE_SENDING = ("sending query failed: terminating connection due to administrator "
                          "command\nanother command is already in progress")


def test_the_servers_farewell_met_while_sending_is_a_disconnect_and_renews_the_pool(pg_url):
    from sqlalchemy import event

    engine = make_engine(pg_url, ping_after_idle=60, pool_size=2)
    try:
        first = backend(engine)
        failures = [psycopg.OperationalError(FAREWELL_WHILE_SENDING)]

        @event.listens_for(engine, "before_cursor_execute")
        def _farewell(*_args):
            if failures:
                raise failures.pop()

        with pytest.raises(DBAPIError) as failed:
            backend(engine)
        assert failed.value.connection_invalidated
        assert backend(engine) != first
        # A failure of the statement itself is not taken for one.
        with pytest.raises(DBAPIError) as wrong, engine.connect() as conn:
            conn.execute(text("SELECT no_such_column FROM pg_class"))
        assert not wrong.value.connection_invalidated
    finally:
        engine.dispose()


@pytest.fixture
def pg_portal(tmp_path, pg_url):
    from connector.bootstrap import bootstrap
    from connector.store.db import upgrade
    from portal import create_app
    from tests.conftest import make_settings

    upgrade(pg_url)
    # Checked only after a minute idle: the connections dropped below are surely used unchecked.
    px = bootstrap(make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url,
                                 PISHKHAN_DB_PING_AFTER_IDLE="60"))
    yield px, create_app(px, {"TESTING": True}).test_client()
    px.close()


def restart(pg_url: str) -> None:
    """The server drops the store's connections (a restart)."""
    with _pg_admin() as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (pg_url.rsplit("/", 1)[1],))


def test_a_request_whose_database_connection_was_lost_is_a_503_and_the_next_one_works(
        pg_portal, pg_url):
    _, client = pg_portal
    assert client.post("/api/v1/otp", json={"mobile": "09121111111"}).status_code == 202
    restart(pg_url)
    r = client.post("/api/v1/otp", json={"mobile": "09123333333"})
    assert r.status_code == 503 and r.json["error"]["code"] == "busy"
    assert r.headers["Retry-After"] and "دوباره امتحان کنید" in r.json["error"]["message"]
    assert client.post("/api/v1/otp", json={"mobile": "09123333333"}).status_code == 202


def test_a_letter_whose_sending_meets_a_lost_connection_comes_back_whole(pg_portal, pg_url):
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
    assert "دوباره «فرستادن» را بزنید" in text and "نامه دوم ساخته نمی‌شود" in text
    assert "چراغ کوچه خاموش است" in text
    assert "عکس.pdf" in text and 'name="keep"' in text  # the file is held, ready to send
    # Sent again from that page, it goes.
    again = {name: html.unescape(value) for name, value in
             re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', text)}
    again["keep"] = re.findall(r'name="keep" value="([^"]+)"', text)
    again["action"] = "send"
    assert again["resend_key"]  # the page came back as one submission
    r = client.post("/o/demo/letter", data=again)
    assert r.status_code == 302, page(r)
    sent = letters.get(px, r.headers["Location"].rsplit("/", 1)[-1])
    assert sent.subject == "چراغ کوچه خاموش است" and len(sent.attachments) == 1
    # Sent once more from the same page (it did not seem to go), it is still that letter.
    assert client.post("/o/demo/letter", data=again).headers["Location"] == r.headers["Location"]
    assert len(letters.for_mobile(px, sent.mobile)) == 1


def test_a_letter_whose_one_statement_meets_a_lost_connection_is_a_503_then_goes(
        pg_portal, pg_url):
    """The letter's statement is sent straight on the driver (connector/store/db.execute_alone):
    the lost connection still comes out as the 503 «busy», not a 500, and renews the whole
    pool, so the next letter does not meet the other dropped connections."""
    from sqlalchemy import func, select

    from connector.store.models import Letter
    from tests.integration.test_portal_api import PDF, submit, token_for

    px, client = pg_portal
    token = token_for(client, px)  # looked up now and kept: the letter is the first statement
    assert submit(client, token, files=[(PDF, "a.pdf")]).status_code == 201
    with px.engine.connect() as a, px.engine.connect() as b:  # two idle in the pool
        a.execute(text("SELECT 1")), b.execute(text("SELECT 1"))
    restart(pg_url)
    r = submit(client, token, files=[(PDF + b"2", "b.pdf")])
    assert r.status_code == 503 and r.json["error"]["code"] == "busy", r.json
    r = submit(client, token, files=[(PDF + b"3", "c.pdf")], subject="دوباره")
    assert r.status_code == 201, r.json
    with px.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Letter)) == 2


def test_a_desk_letter_that_cannot_be_stored_now_keeps_what_was_typed(tmp_path, pg_url):
    """The letters table is locked past the store's lock timeout (a long migration, say)."""
    from connector.bootstrap import bootstrap
    from connector.people import staff
    from connector.store.db import upgrade
    from portal import create_app
    from tests.conftest import csrf_of, make_settings, staff_login
    from tests.integration.test_desk import FORM, PDF

    upgrade(pg_url)
    px = bootstrap(make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url +
                                 "?options=-c%20lock_timeout%3D300"))
    try:
        client = create_app(px, {"TESTING": True}).test_client()
        staff.add_user(px, "desk1", "long-enough-1", role="desk", orgs=["demo"])
        staff_login(client, "desk1")
        form = client.get("/desk/demo/new").get_data(as_text=True)
        with psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql")) as holder:
            holder.execute("LOCK TABLE letters IN ACCESS EXCLUSIVE MODE")
            key = re.search(r'name="resend_key" value="([^"]+)"', form).group(1)
            r = client.post("/desk/demo/new", data={
                **FORM, "subject": "پروانه ساختمان", "csrf_token": csrf_of(form),
                "resend_key": key,
                "attachments": [(io.BytesIO(PDF), "scan-1.pdf")]},
                content_type="multipart/form-data")
        assert r.status_code == 503
        text = r.get_data(as_text=True)
        assert "نامه دوم ساخته نمی‌شود" in text and 'value="پروانه ساختمان"' in text
        assert f'name="resend_key" value="{key}"' in text  # sent again, still one submission
        assert "scan-1.pdf" in text and 'value="رضا"' in text
    finally:
        px.close()


def test_only_a_database_that_cannot_answer_now_is_unavailable(tmp_path):
    """A server that refuses connections is 'try again'; a missing table is our own fault."""
    gone = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/test",
                       connect_args={"connect_timeout": 2})
    with pytest.raises(OperationalError) as refused:
        gone.connect()
    assert store_unavailable(refused.value)
    local = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(OperationalError) as missing, local.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    assert not store_unavailable(missing.value)
