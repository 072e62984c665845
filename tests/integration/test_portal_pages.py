"""Citizen pages and the operator console, through Flask's test client (no JavaScript)."""
from __future__ import annotations

import html
import io
import re
from typing import Any

from connector.domain.normalize import to_persian_digits
from connector.letters import usecases as letters
from connector.outbox import sms as sms_outbox
from connector.people import staff
from messages import render

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
MOBILE = "09121234567"
OTHER = "09351112233"
NATIONAL_CODE = "0076229645"


def page(response: Any) -> str:
    return html.unescape(response.get_data(as_text=True))


def csrf(client: Any, url: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True)
                     ).group(1)


def otp_code(px: Any, mobile: str) -> str:
    from tests.phone import otp_code as code_on_phone
    return code_on_phone(px, mobile)


def web_login(client: Any, px: Any, mobile: str = MOBILE, next_url: str = "/") -> Any:
    token = csrf(client, "/login")
    r = client.post("/login", data={"csrf_token": token, "step": "mobile", "mobile": mobile,
                                    "next": next_url})
    assert r.status_code == 200
    return client.post("/login", data={"csrf_token": token, "step": "code", "mobile": mobile,
                                       "code": otp_code(px, mobile), "next": next_url})


def letter_data(token: str, **overrides: Any) -> dict[str, Any]:
    data = {"csrf_token": token, "action": "send", "applicant_type": "natural",
            "national_code": NATIONAL_CODE,
            "first_name": "مریم", "last_name": "احمدی", "subject": "خرابی کوچه ۱۲",
            "body": "کوچه ما\nآسفالت ندارد.", "service": "street-repair"}
    data.update(overrides)
    return data


def submit_letter(client: Any, px: Any, org: str = "demo", with_pdf: bool = True) -> str:
    token = csrf(client, f"/o/{org}/letter")
    data = letter_data(token)
    if with_pdf:
        data["attachments"] = [(io.BytesIO(PDF), "مدرک.pdf")]
    r = client.post(f"/o/{org}/letter", data=data, content_type="multipart/form-data")
    assert r.status_code == 302, page(r)
    return r.headers["Location"].rsplit("/", 1)[-1]


# --- public pages -----------------------------------------------------------------------------

def test_home_and_catalog_are_persian_rtl_pages(client):
    home = page(client.get("/"))
    assert '<html lang="fa" dir="rtl">' in home
    assert "شهرداری نمونه" in home and "/o/demo" in home
    catalog = page(client.get("/o/demo"))
    for text in ("درخواست تعمیر معبر و آسفالت", "مراحل کار", "مدارک لازم", "رایگان",
                 "معاون خدمات شهری", "چقدر طول می‌کشد؟", "۱۵ روز"):
        assert text in catalog, text
    assert "/o/demo/letter?service=street-repair" in catalog
    assert client.get("/o/nowhere").status_code == 404
    # No external assets: only our own stylesheet.
    head = home.split("<body>")[0]
    assert "http" not in head and "/static/pishkhan.css" in head


def test_static_css_is_served(client):
    r = client.get("/static/pishkhan.css")
    assert r.status_code == 200 and b"Tahoma" in r.data


# --- signing in -------------------------------------------------------------------------------

def test_login_in_two_steps_with_errors_next_to_the_field(client, px):
    token = csrf(client, "/login?next=/my")
    r = client.post("/login", data={"csrf_token": token, "step": "mobile", "mobile": "۰۹۱۲"})
    assert r.status_code == 400
    body = page(r)
    assert 'id="mobile-error"' in body and 'value="۰۹۱۲"' in body

    r = client.post("/login", data={"csrf_token": token, "step": "mobile",
                                    "mobile": "۰۹۱۲۱۲۳۴۵۶۷", "next": "/my"})
    body = page(r)
    assert r.status_code == 200 and 'name="code"' in body and f'value="{MOBILE}"' in body

    code = otp_code(px, MOBILE)
    wrong = "00000" if code != "00000" else "11111"
    r = client.post("/login", data={"csrf_token": token, "step": "code", "mobile": MOBILE,
                                    "code": wrong, "next": "/my"})
    body = page(r)
    assert r.status_code == 400
    assert 'id="code-error"' in body and "کد درست نیست" in body and f'value="{wrong}"' in body

    r = client.post("/login", data={"csrf_token": token, "step": "code", "mobile": MOBILE,
                                    "code": to_persian_digits(code), "next": "/my"})
    assert r.status_code == 302 and r.headers["Location"] == "/my"
    assert client.get("/my").status_code == 200


def test_login_refuses_to_redirect_off_site(client, px):
    r = web_login(client, px, next_url="https://evil.example/")
    assert r.headers["Location"] == "/"


def test_login_rate_limit_is_shown_on_the_page(client, px):
    token = csrf(client, "/login")
    for _ in range(3):
        client.post("/login", data={"csrf_token": token, "step": "mobile", "mobile": MOBILE})
    r = client.post("/login", data={"csrf_token": token, "step": "mobile", "mobile": MOBILE})
    assert r.status_code == 429
    assert "ثانیه دیگر دوباره امتحان کنید" in page(r)


def test_forms_without_the_csrf_token_are_refused(client, px):
    r = client.post("/login", data={"step": "mobile", "mobile": MOBILE})
    assert r.status_code == 400
    assert sms_outbox.listing(px, to=MOBILE) == []
    r = client.post("/login", data={"csrf_token": "forged", "step": "mobile", "mobile": MOBILE})
    assert r.status_code == 400
    web_login(client, px)
    r = client.post("/o/demo/letter", data=letter_data(""), content_type="multipart/form-data")
    assert r.status_code == 400
    assert letters.for_mobile(px, MOBILE) == []
    assert client.post("/console/login", data={"username": "x", "password": "y"}
                       ).status_code == 400


# --- the whole citizen journey ----------------------------------------------------------------

def test_citizen_journey(client, px, app):
    r = client.get("/o/demo/letter?service=general")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")
    r = web_login(client, px, next_url="/o/demo/letter?service=general")
    assert r.headers["Location"] == "/o/demo/letter?service=general"

    form = page(client.get("/o/demo/letter?service=general"))
    assert '<option value="general" selected>' in form
    assert 'type="file" name="attachments"' in form and form.count('name="attachments"') == 5

    # A bad national code: the form comes back with everything typed and the message beside it.
    token = csrf(client, "/o/demo/letter")
    data = letter_data(token, national_code="1234567890")
    data["attachments"] = [(io.BytesIO(PDF), "مدرک.pdf")]
    r = client.post("/o/demo/letter", data=data, content_type="multipart/form-data")
    assert r.status_code == 400
    body = page(r)
    assert render(letters.MSG["national_code"]) in body and 'id="national_code-error"' in body
    for value in ('value="1234567890"', 'value="مریم"', 'value="احمدی"', 'value="خرابی کوچه ۱۲"',
                  '<option value="street-repair" selected>', "کوچه ما\nآسفالت ندارد."):
        assert value in body, value
    # The attachment is held: listed with a ticked box, one file input fewer.
    assert "مدرک.pdf" in body and 'name="keep"' in body and "checked" in body
    assert body.count('type="file" name="attachments"') == 4

    code = submit_letter(client, px)
    receipt = page(client.get(f"/r/{code}"))
    persian = to_persian_digits(code)
    assert " ".join(persian[i:i + 4] for i in range(0, 12, 4)) in receipt
    assert "بعد چه می‌شود؟" in receipt

    tracking_page = page(client.get(f"/t/{code}"))
    assert "نامه شما ثبت شد و کد رهگیری گرفت." in tracking_page
    assert "رسید؛ به‌زودی به دبیرخانه فرستاده می‌شود" in tracking_page
    assert re.search("[۱-۹][۰-۹]? [آ-ی]+ ۱۴[۰-۹]{2}، ساعت [۰-۹]{2}:[۰-۹]{2}", tracking_page)
    assert "مدرک.pdf" in tracking_page and "پس گرفتن نامه" in tracking_page
    download = client.get(f"/t/{code}/attachments/0")
    assert download.data == PDF and download.headers["X-Content-Type-Options"] == "nosniff"

    my = page(client.get("/my"))
    assert "خرابی کوچه ۱۲" in my and f"/t/{code}" in my

    # Someone else: not signed in sees only a sign-in prompt; another mobile sees nothing.
    stranger = app.test_client()
    prompt = page(stranger.get(f"/t/{code}"))
    assert "خرابی کوچه ۱۲" not in prompt and "ورود با شماره همراه" in prompt
    assert stranger.get(f"/r/{code}").status_code == 302
    web_login(stranger, px, OTHER)
    for url in (f"/t/{code}", f"/r/{code}", f"/t/{code}/attachments/0"):
        r = stranger.get(url)
        assert r.status_code == 404 and "خرابی کوچه" not in page(r), url


def test_track_form_accepts_both_digit_scripts(client, px):
    web_login(client, px)
    code = submit_letter(client, px, with_pdf=False)
    r = client.get("/track", query_string={"code": to_persian_digits(code[:6]) + " " + code[6:]})
    assert r.status_code == 302 and r.headers["Location"] == f"/t/{code}"
    typo = code[:-1] + str((int(code[-1]) + 1) % 10)
    r = client.get("/track", query_string={"code": typo})
    assert r.status_code == 400 and "کد رهگیری درست نیست" in page(r)


def test_withdraw_from_the_tracking_page(client, px):
    web_login(client, px)
    code = submit_letter(client, px, with_pdf=False)
    confirm = page(client.get(f"/t/{code}/withdraw"))
    assert "مطمئن" in confirm
    token = csrf(client, f"/t/{code}/withdraw")
    r = client.post(f"/t/{code}/withdraw", data={"csrf_token": token})
    assert r.status_code == 302
    body = page(client.get(f"/t/{code}"))
    assert "پس گرفته شد" in body and "شما نامه را پس گرفتید." in body
    assert f"/t/{code}/withdraw" not in body
    r = client.post(f"/t/{code}/withdraw", data={"csrf_token": token})
    assert r.status_code == 409 and "دیگر پس گرفته نمی‌شود" in page(r)


def test_citizen_logout(client, px):
    web_login(client, px)
    token = csrf(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/my").status_code == 302


# --- operator console -------------------------------------------------------------------------

def console_login(client: Any, username: str = "op", password: str = "password123") -> Any:
    return client.post("/console/login", data={"csrf_token": csrf(client, "/console/login"),
                                                "username": username, "password": password})


def portal_letter(app: Any, px: Any) -> str:
    citizen = app.test_client()
    web_login(citizen, px)
    return submit_letter(citizen, px, org="demo-portal")


def test_console_needs_a_staff_login(client, px):
    staff.add_user(px, "op", "password123")
    assert client.get("/console/").headers["Location"].startswith("/console/login")
    r = console_login(client, password="wrong-password")
    assert r.status_code == 401 and "نام کاربری یا رمز درست نیست" in page(r)
    assert 'value="op"' in page(r)
    r = console_login(client)
    assert r.status_code == 302 and r.headers["Location"] == "/console/"
    index = page(client.get("/console/"))
    assert '"/console/demo-portal"' in index and '"/console/demo"' not in index
    # The staff login is not a citizen login.
    assert client.get("/my").status_code == 302


def test_console_approve(client, px, app):
    staff.add_user(px, "op", "password123")
    code = portal_letter(app, px)
    console_login(client)
    queue = page(client.get("/console/demo-portal"))
    for text in ("خرابی کوچه ۱۲", "کوچه ما\nآسفالت ندارد.", "مریم احمدی", "مدرک.pdf",
                 "مدارک لازم پیوست نشده است."):
        assert text in queue, text
    inline = client.get(f"/console/demo-portal/letters/{code}/attachments/0")
    assert inline.data == PDF and inline.headers["Content-Disposition"].startswith("inline")
    download = client.get(f"/console/demo-portal/letters/{code}/attachments/0?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment")

    token = csrf(client, "/console/demo-portal")
    # Only through the console of the letter's own organization.
    assert client.post(f"/console/demo/letters/{code}/approve",
                       data={"csrf_token": token}).status_code == 404
    r = client.post(f"/console/demo-portal/letters/{code}/approve", data={"csrf_token": token})
    assert r.status_code == 302
    stored = letters.get(px, code)
    assert (stored.state, stored.decided_by) == ("approved", "op")
    assert code not in page(client.get("/console/demo-portal"))
    # A second decision on the same letter is refused politely.
    client.post(f"/console/demo-portal/letters/{code}/approve", data={"csrf_token": token})
    assert "پیش‌تر بررسی شده" in page(client.get("/console/demo-portal"))


def test_console_reject_needs_a_reason_that_reaches_the_citizen(client, px, app):
    staff.add_user(px, "op", "password123")
    code = portal_letter(app, px)
    console_login(client)
    token = csrf(client, "/console/demo-portal")
    r = client.post(f"/console/demo-portal/letters/{code}/reject",
                    data={"csrf_token": token, "reason_choice": "", "reason": "  "})
    assert r.status_code == 400 and render(letters.MSG["reason"]) in page(r)
    assert letters.get(px, code).state == "awaiting_approval"

    reason = "مدارک لازم پیوست نشده است."
    r = client.post(f"/console/demo-portal/letters/{code}/reject",
                    data={"csrf_token": token, "reason_choice": reason, "reason": ""})
    assert r.status_code == 302
    stored = letters.get(px, code)
    assert (stored.state, stored.rejection_reason) == ("rejected", reason)
    sms = [n for n in sms_outbox.listing(px, to=MOBILE) if n["kind"] == "rejected"]
    assert len(sms) == 1 and reason in sms[0]["text"] and sms[0]["letter"] == code

    # The citizen sees the reason on the tracking page.
    citizen = app.test_client()
    web_login(citizen, px)
    body = page(citizen.get(f"/t/{code}"))
    assert "پذیرفته نشد" in body and reason in body


def test_console_written_reason_wins(client, px, app):
    staff.add_user(px, "op", "password123")
    code = portal_letter(app, px)
    console_login(client)
    token = csrf(client, "/console/demo-portal")
    client.post(f"/console/demo-portal/letters/{code}/reject",
                data={"csrf_token": token, "reason_choice": "متن نامه ناخوانا یا ناقص است.",
                      "reason": "نشانی محل را ننوشته‌اید."})
    assert letters.get(px, code).rejection_reason == "نشانی محل را ننوشته‌اید."


def test_console_only_for_the_users_portal_orgs(client, px, app):
    staff.add_user(px, "other", "password123", orgs=["demo"])
    code = portal_letter(app, px)
    console_login(client, "other")
    assert "/console/demo-portal" not in page(client.get("/console/"))
    assert client.get("/console/demo-portal").status_code == 404
    assert client.get("/console/demo").status_code == 404  # inbox approval: not decided here
    token = csrf(client, "/console/")
    assert client.post(f"/console/demo-portal/letters/{code}/approve",
                       data={"csrf_token": token}).status_code == 404
    assert client.get(f"/console/demo-portal/letters/{code}/attachments/0").status_code == 404
    assert letters.get(px, code).state == "awaiting_approval"


def test_staff_and_citizen_logouts_are_separate(client, px):
    staff.add_user(px, "op", "password123")
    web_login(client, px)
    console_login(client)
    client.post("/console/logout", data={"csrf_token": csrf(client, "/")})
    assert client.get("/my").status_code == 200
    assert client.get("/console/").status_code == 302


def test_opening_the_form_again_before_sending_keeps_the_previewed_files(client, px):
    from connector.letters import usecases as letters
    web_login(client, px)
    token = csrf(client, "/o/demo/letter")
    preview = client.post("/o/demo/letter", data={**letter_data(token, action="preview"),
                                                  "attachments": [(io.BytesIO(PDF), "مدرک.pdf")]},
                          content_type="multipart/form-data")
    keep = re.search(r'name="keep" value="([0-9a-f]{64})"', page(preview)).group(1)
    client.get("/o/demo/letter?service=street-repair")  # a second tab, or the back button
    sent = client.post("/o/demo/letter", data={**letter_data(token), "keep": keep})
    assert sent.status_code == 302
    code = sent.headers["Location"].rsplit("/", 1)[-1]
    assert [a.name for a in letters.get(px, code).attachments] == ["مدرک.pdf"]


def test_a_ticked_file_that_is_no_longer_held_stops_the_letter(client, px):
    web_login(client, px)
    token = csrf(client, "/o/demo/letter")
    resp = client.post("/o/demo/letter", data={**letter_data(token), "keep": "ab" * 32})
    assert resp.status_code == 400 and "دوباره انتخابشان کنید" in page(resp)
