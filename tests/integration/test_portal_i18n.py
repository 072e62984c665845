"""English as the second language: ?lang=en switches, a cookie remembers, Persian stays the
default, and the operator console stays Persian."""
from __future__ import annotations

from tests.integration.test_portal_pages import page


def test_english_is_chosen_and_remembered(client):
    assert '<html lang="fa" dir="rtl">' in page(client.get("/"))
    r = client.get("/?lang=en")
    assert "lang=en" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    home = page(r)
    assert '<html lang="en" dir="ltr">' in home
    assert "Which organization is your letter for?" in home and "Demo Municipality" in home
    catalog = page(client.get("/o/demo"))  # no ?lang: the cookie remembers
    assert "Demo Municipality" in catalog and "Responsible person" in catalog
    assert "At most 15 working days" in catalog  # Latin digits on English pages
    r = client.get("/track", query_string={"code": "123"})
    assert "The tracking code is not right" in page(r)
    assert '<html lang="fa" dir="rtl">' in page(client.get("/?lang=fa"))
    assert '<html lang="fa" dir="rtl">' in page(client.get("/o/demo"))


def test_unknown_language_and_the_console_stay_persian(client):
    assert '<html lang="fa" dir="rtl">' in page(client.get("/?lang=xx"))
    client.get("/?lang=en")
    assert '<html lang="fa" dir="rtl">' in page(client.get("/console/login"))


def test_every_template_string_has_an_english_entry():
    import re
    from pathlib import Path

    from portal.i18n import EN
    root = Path(__file__).resolve().parents[2] / "portal" / "templates"
    files = [root / "base.html", root / "error.html", root / "_fields.html",
             *sorted((root / "citizen").glob("*.html"))]
    missing = {m for f in files for m in re.findall(r'_\("([^"]+)"', f.read_text("utf-8"))
               if m not in EN}
    assert not missing, missing


def test_the_cores_messages_and_the_timeline_read_in_english(client, px):
    from tests.integration.test_portal_pages import csrf, submit_letter, web_login
    client.get("/?lang=en")
    token = csrf(client, "/login")
    r = client.post("/login", data={"csrf_token": token, "step": "mobile", "mobile": "0912"})
    assert "The mobile number is not right. Enter 11 digits like 09123456789." in page(r)
    web_login(client, px)
    code = submit_letter(client, px)
    client.get("/?lang=en")
    letter = page(client.get(f"/t/{code}"))
    assert "Your letter was received and got a tracking code." in letter
    assert "Received; going to the secretariat soon" in letter
    client.get("/?lang=fa")
    assert "نامه شما ثبت شد و کد رهگیری گرفت." in page(client.get(f"/t/{code}"))
