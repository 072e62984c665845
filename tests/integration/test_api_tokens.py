"""Bearer tokens: revoked by POST /api/v1/logout, dead after their time, and made only for the
API (a web sign-in keeps the mobile in its own session)."""
from __future__ import annotations

from sqlalchemy import func, select, update

from connector.domain.clock import now
from connector.store.models import ApiToken
from tests.integration.test_portal_api import assert_error, auth, token_for
from tests.integration.test_portal_pages import web_login


def _tokens(px) -> int:
    with px.sessions() as s:
        return s.scalar(select(func.count()).select_from(ApiToken))


def test_logout_revokes_the_token(client, px):
    token = token_for(client, px)
    assert client.get("/api/v1/letters/123456789012", headers=auth(token)).status_code == 404
    r = client.post("/api/v1/logout", headers=auth(token))
    assert r.status_code == 204
    assert_error(client.get("/api/v1/letters/123456789012", headers=auth(token)), 401,
                 "unauthorized")
    assert_error(client.post("/api/v1/logout", headers=auth(token)), 401, "unauthorized")
    with px.sessions() as s:  # revoked, not forgotten: the hash stays for the audit of use
        assert s.scalar(select(ApiToken.revoked_at)) is not None


def test_an_expired_token_is_refused(client, px):
    token = token_for(client, px)
    with px.engine.begin() as conn:
        conn.execute(update(ApiToken).values(expires_at=now()))
    assert_error(client.get("/api/v1/letters/123456789012", headers=auth(token)), 401,
                 "unauthorized")


def test_a_web_sign_in_makes_no_api_token(client, px):
    r = web_login(client, px)
    assert r.status_code == 302
    assert _tokens(px) == 0


def test_a_token_revoked_by_another_process_is_refused_at_once(client, px, settings):
    """Each web process keeps the tokens it has seen; a revocation made by another one (its
    own container, its own memory, the same var folder) must still answer 401 at once."""
    from connector.bootstrap import bootstrap
    from connector.people import citizens

    token = token_for(client, px)
    assert client.get("/api/v1/letters/123456789012", headers=auth(token)).status_code == 404
    assert citizens.mobile_for_token(px, token)  # now answered from this process's memory
    other = bootstrap(settings)
    try:
        assert citizens.revoke_token(other, token)
    finally:
        other.close()
    assert citizens.mobile_for_token(px, token) is None
    assert_error(client.get("/api/v1/letters/123456789012", headers=auth(token)), 401,
                 "unauthorized")


def test_a_cached_token_still_dies_at_its_expiry(client, px):
    from datetime import timedelta

    from connector.domain import clock
    from connector.people import citizens

    token = token_for(client, px)
    assert citizens.mobile_for_token(px, token)  # cached, with the expiry it had
    later = clock.ManualClock(now() + timedelta(seconds=px.settings.token_ttl + 1))
    with clock.use(later):
        assert citizens.mobile_for_token(px, token) is None
