"""Signing in with an SMS code: the resend timer, and the lockout after repeated wrong codes
(counted in the core, so the page and the API lock together)."""
from __future__ import annotations

import re

from connector.outbox import sms as sms_outbox
from tests.integration.test_portal_api import age_codes
from tests.integration.test_portal_pages import MOBILE, csrf, otp_code, page


def ask(client, token: str, step: str = "mobile"):
    return client.post("/login", data={"csrf_token": token, "step": step, "mobile": MOBILE})


def test_the_code_page_counts_down_to_a_resend(client, px):
    token = csrf(client, "/login")
    body = page(ask(client, token))
    wait = int(re.search(r'data-wait="(\d+)"', body).group(1))
    assert 50 <= wait <= 60
    assert "ثانیه دیگر می‌توانید کد تازه بگیرید" in body and "/static/resend.js" in body

    # Too early (no JavaScript to stop the click): the message sits by the button.
    r = ask(client, token, "resend")
    assert r.status_code == 429
    body = page(r)
    assert 'id="resend-error"' in body and "ثانیه دیگر دوباره امتحان کنید" in body
    assert 'name="code"' in body  # still on the code step

    age_codes(px, MOBILE, 61)
    r = ask(client, token, "resend")
    assert r.status_code == 200
    assert 50 <= int(re.search(r'data-wait="(\d+)"', page(r)).group(1)) <= 60
    assert len(sms_outbox.listing(px, to=MOBILE)) == 2


def wrong(client, token: str):
    return client.post("/login", data={"csrf_token": token, "step": "code", "mobile": MOBILE,
                                       "code": "00000"})


def test_repeated_wrong_codes_lock_the_mobile(client, px, app):
    token = csrf(client, "/login")
    ask(client, token)
    messages = [page(wrong(client, token)) for _ in range(4)]
    assert "۴ بار دیگر می‌توانید امتحان کنید" in messages[0]
    assert "۱ بار دیگر" in messages[3]
    assert wrong(client, token).status_code == 400  # fifth: this code is spent
    age_codes(px, MOBILE, 61)
    ask(client, token)
    for _ in range(2):
        assert wrong(client, token).status_code == 400
    r = wrong(client, token)  # the eighth wrong code within the hour
    assert r.status_code == 429
    assert "ورود با این شماره تا" in page(r) and 'id="code-error"' in page(r)

    # Locked everywhere: even the right code, a new code, and the JSON API.
    right = otp_code(px, MOBILE)
    r = client.post("/login", data={"csrf_token": token, "step": "code", "mobile": MOBILE,
                                    "code": right})
    assert r.status_code == 429
    age_codes(px, MOBILE, 61)
    assert ask(client, token).status_code == 429
    api = app.test_client().post("/api/v1/otp/verify", json={"mobile": MOBILE, "code": right})
    assert api.status_code == 429 and int(api.headers["Retry-After"]) > 60 * 50

    # An hour later the old tries no longer count.
    age_codes(px, MOBILE, 3600)
    assert ask(client, token).status_code == 200
