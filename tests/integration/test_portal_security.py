"""Rate limits (in memory and shared through Redis), cookie flags, the Content-Security-Policy,
tracking codes that can't be probed, and files only for their owner and the organization's
staff."""
from __future__ import annotations

import secrets
import uuid

import pytest

from connector.bootstrap import bootstrap
from connector.domain import tracking
from connector.people import staff
from tests.conftest import make_settings
from tests.integration.test_portal_pages import MOBILE, OTHER, csrf, page, submit_letter, web_login

REDIS = "redis://127.0.0.1:6379/0"


def addr() -> str:
    # A client address of its own per test, so counters in a shared Redis never collide.
    return f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def client_at(app, address: str | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address or addr()
    return client


def test_tracking_probes_are_rate_limited_per_address(app):
    client = client_at(app)
    codes = [tracking.new_code() for _ in range(61)]
    answers = [client.get("/track", query_string={"code": c}).status_code for c in codes]
    assert answers[:60] == [302] * 60 and answers[60] == 429
    r = client.get("/track", query_string={"code": codes[0]})
    assert r.status_code == 429 and "درخواست‌ها زیاد بوده است" in page(r)
    assert int(r.headers["Retry-After"]) > 0
    # Another address is not affected.
    other = client_at(app)
    assert other.get("/track", query_string={"code": codes[0]}).status_code == 302


def test_otp_requests_are_limited_per_address_across_mobiles(app):
    client = client_at(app)
    statuses = [client.post("/api/v1/otp", json={"mobile": f"0912{i:07d}"}).status_code
                for i in range(21)]
    assert statuses[:20] == [202] * 20 and statuses[20] == 429
    r = client.post("/api/v1/otp", json={"mobile": "09120000999"})
    assert r.json["error"]["code"] == "rate_limited"


def test_redis_storage_shares_counters_between_web_processes(tmp_path):
    import redis

    from portal import create_app

    assert redis.Redis.from_url(REDIS, socket_timeout=2).ping()
    settings = make_settings(tmp_path, PISHKHAN_RATELIMIT_STORAGE=REDIS)
    from connector.store.db import upgrade
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        # Two apps stand for two machines behind one load balancer.
        first, second = (create_app(px, {"TESTING": True}) for _ in range(2))
        where = addr()
        a, b = client_at(first, where), client_at(second, where)
        code = tracking.new_code()
        for i in range(60):
            assert (a if i % 2 else b).get("/track", query_string={"code": code}
                                             ).status_code == 302
        assert a.get("/track", query_string={"code": code}).status_code == 429
        assert b.get("/track", query_string={"code": code}).status_code == 429
        keys = redis.Redis.from_url(REDIS).keys(f"*{where}*")
        assert keys  # the counters really are in Redis
    finally:
        px.close()


def test_session_cookie_flags_on_https(tmp_path):
    from connector.store.db import upgrade
    from portal import create_app
    settings = make_settings(tmp_path, PISHKHAN_PUBLIC_URL="https://portal.example.ir")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        client = create_app(px, {"TESTING": True}).test_client()
        r = client.get("/login")
        cookie = r.headers["Set-Cookie"]
        assert cookie.startswith("__Host-pishkhan=")
        for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
            assert flag in cookie, flag
        assert "Domain" not in cookie
        assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    finally:
        px.close()


def test_pages_and_files_carry_a_tight_policy(client, px):
    r = client.get("/login")
    csp = r.headers["Content-Security-Policy"]
    for part in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                 "form-action 'self'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert part in csp, part
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "HttpOnly" in r.headers["Set-Cookie"] and "SameSite=Lax" in r.headers["Set-Cookie"]
    assert r.headers["Cache-Control"] == "no-store"
    web_login(client, px)
    code = submit_letter(client, px)
    pdf = client.get(f"/api/v1/letters/{code}/receipt.pdf")
    assert pdf.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert "script-src" not in pdf.headers["Content-Security-Policy"]
    assert pdf.headers["Cache-Control"] == "no-store"


def test_an_unknown_code_and_someone_elses_code_look_the_same(app, client, px):
    web_login(client, px)
    code = submit_letter(client, px)
    stranger = app.test_client()
    web_login(stranger, px, OTHER)
    unknown = tracking.new_code()
    for path in ("/t/{}", "/api/v1/letters/{}/receipt.pdf", "/t/{}/attachments/0"):
        mine, nobody = stranger.get(path.format(code)), stranger.get(path.format(unknown))
        assert mine.status_code == nobody.status_code == 404, path
        assert mine.data.replace(code.encode(), b"") == nobody.data.replace(unknown.encode(), b"")


def staff_client(app, px, username: str, orgs: list[str]):
    staff.add_user(px, username, "long-enough-1", orgs=orgs)
    client = app.test_client()
    token = csrf(client, "/console/login")
    client.post("/console/login", data={"csrf_token": token, "username": username,
                                        "password": "long-enough-1"})
    return client


def test_staff_of_the_organization_may_read_receipts_and_attachments(app, client, px):
    web_login(client, px, MOBILE)
    code = submit_letter(client, px)  # to "demo"
    ours = staff_client(app, px, "demo-staff", ["demo"])
    assert ours.get(f"/api/v1/letters/{code}/receipt.pdf").status_code == 200
    assert ours.get(f"/api/v1/letters/{code}/attachments/0").data.startswith(b"%PDF")
    theirs = staff_client(app, px, "other-staff", ["demo-portal"])
    assert theirs.get(f"/api/v1/letters/{code}/receipt.pdf").status_code == 404
    assert theirs.get(f"/api/v1/letters/{code}/attachments/0").status_code == 404
    assert app.test_client().get(f"/api/v1/letters/{code}/attachments/0").status_code == 401


@pytest.mark.parametrize("step", ["mobile", "code"])
def test_login_posts_are_limited_per_address(app, step):
    client = client_at(app)
    token = csrf(client, "/login")
    # A new mobile each time, so the core's own per-mobile limit never trips first.
    statuses = [client.post("/login", data={
        "csrf_token": token, "step": step, "mobile": f"0935{uuid.uuid4().int % 10**7:07d}",
        "code": "00000"}).status_code for _ in range(21)]
    assert statuses[-1] == 429 and 429 not in statuses[:20]


def test_reply_download_when_the_system_is_down_is_a_plain_503(client, px):
    from sqlalchemy import select

    from connector.store.db import transaction
    from connector.store.models import Letter
    web_login(client, px)
    code = submit_letter(client, px)
    assert client.get(f"/api/v1/letters/{code}/reply").status_code == 404  # no reply yet
    with transaction(px.sessions) as s:
        letter = s.scalars(select(Letter).where(Letter.tracking_code == code)).one()
        letter.reply_available, letter.external_id = True, "1"
    # The demo organization's system address is a closed port in these tests.
    r = client.get(f"/api/v1/letters/{code}/reply")
    assert r.status_code == 503 and r.json["error"]["code"] == "unavailable"
    assert "سامانه سازمان" in r.json["error"]["message"] and r.headers["Retry-After"]
