"""The whole pipeline through HTTP: the citizen's JSON API, the sandbox's scripting API, and
the worker running on its own schedule in between."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.e2e.conftest import POLL_SECONDS, Stack, wait_for

MOBILE = "09121234567"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
FORM = {"applicant_type": "natural", "national_code": "0076229645", "first_name": "زهرا",
        "last_name": "محمدی", "subject": "درخواست تعمیر آسفالت کوچه",
        "body": "کوچه شماره ۳ خیابان بهار چاله‌های بزرگ دارد.", "service": "street-repair"}


def submit(stack: Stack, token: str, org: str = "demo", **over: str) -> str:
    resp = stack.api("POST", f"/orgs/{org}/letters", token, data={**FORM, **over},
                     files=[("attachments", ("نقشه.pdf", PDF, "application/pdf"))])
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["status"] in ("staged", "awaiting_approval")
    assert body["tracking_code"] in body["track_url"]
    return body["tracking_code"]


def in_sandbox(stack: Stack, code: str) -> dict:
    def found():
        rows = stack.oa("GET", "/letters", params={"reference": code}).json()["letters"]
        return rows[0] if rows else None
    return wait_for(found, 10, f"letter {code} in the sandbox")


def status(stack: Stack, token: str, code: str) -> dict:
    resp = stack.api("GET", f"/letters/{code}", token)
    assert resp.status_code == 200, resp.text
    return resp.json()


def until_status(stack: Stack, token: str, code: str, wanted: str) -> dict:
    return wait_for(lambda: (s := status(stack, token, code))["status"] == wanted and s,
                    POLL_SECONDS + 5, f"{code} to be {wanted}")


def sms_list_cli(stack: Stack, mobile: str) -> list[dict]:
    env = {**os.environ, "PISHKHAN_VAR_DIR": str(stack.px.settings.var_dir),
           "PISHKHAN_DATABASE_URL": stack.px.settings.database_url,
           "PISHKHAN_ORGS_DIR": str(stack.px.settings.orgs_dir),
           "PISHKHAN_SANDBOX_URL": stack.px.settings.sandbox_url,
           "PISHKHAN_ENV_FILE": "/nonexistent"}
    out = subprocess.run([sys.executable, "-m", "connector.cli", "sms", "list", "--to", mobile,
                          "--json"], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout)


def test_registered_letter_number_reaches_the_citizen(stack: Stack):
    token = stack.login(MOBILE)
    code = submit(stack, token)
    oa_letter = in_sandbox(stack, code)
    assert oa_letter["status"] == "pending"
    assert [a["name"] for a in oa_letter["attachments"]] == ["نقشه.pdf"]
    assert oa_letter["attachments"][0]["size"] == len(PDF)

    number = stack.oa("POST", f"/letters/{oa_letter['id']}/register", json={}).json()["number"]
    seen = until_status(stack, token, code, "registered")
    assert seen["letter_number"] == number and seen["registered_at"]
    assert [t["kind"] for t in seen["timeline"]][:2] == ["submitted", "delivered"]

    def sms_with_number():
        return [m for m in sms_list_cli(stack, MOBILE) if number in m["text"]]
    sms = wait_for(sms_with_number, 5, "the registration SMS")
    assert sms[0]["kind"] == "registered" and sms[0]["letter"] == code
    assert any(m["kind"] == "receipt" and code in m["text"] for m in sms_list_cli(stack, MOBILE))


def test_rejection_reason_reaches_the_sms(stack: Stack):
    token = stack.login(MOBILE)
    code = submit(stack, token)
    oa_letter = in_sandbox(stack, code)
    reason = "نشانی کوچه کامل نوشته نشده است."
    assert stack.oa("POST", f"/letters/{oa_letter['id']}/reject",
                    json={"reason": reason}).status_code == 200
    seen = until_status(stack, token, code, "rejected")
    assert seen["rejection_reason"] == reason
    wait_for(lambda: [m for m in stack.sms_to(MOBILE, "rejected") if reason in m["text"]], 5,
             "the rejection SMS")


def test_referral_answer_and_closure(stack: Stack):
    token = stack.login(MOBILE)
    code = submit(stack, token)
    oa_id = in_sandbox(stack, code)["id"]
    stack.oa("POST", f"/letters/{oa_id}/register", json={})
    until_status(stack, token, code, "registered")
    resp = stack.oa("POST", f"/letters/{oa_id}/refer",
                    json={"unit": "CIV", "person": "مهندس کریمی", "instruction": "جهت اقدام"})
    assert resp.status_code == 200, resp.text
    seen = until_status(stack, token, code, "in_progress")
    assert seen["handler"] == "مهندس کریمی" and seen["unit"] == "واحد خدمات شهری"
    assert "واحد خدمات شهری" in seen["timeline"][-1]["text"]
    wait_for(lambda: stack.sms_to(MOBILE, "referred"), 5, "the referral SMS")
    stack.oa("POST", f"/letters/{oa_id}/answer", json={"text": "تعمیر در برنامه هفته بعد است."})
    assert until_status(stack, token, code, "answered")["reply_available"] is True
    reply = stack.api("GET", f"/letters/{code}/reply", token)
    assert reply.status_code == 200, reply.text
    assert "attachment" in reply.headers["Content-Disposition"]
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "تعمیر در برنامه هفته بعد است." in reply.content.decode("utf-8")
    other = stack.login("09351112233")
    assert stack.api("GET", f"/letters/{code}/reply", other).status_code == 404
    stack.oa("POST", f"/letters/{oa_id}/close", json={})
    until_status(stack, token, code, "closed")
    resp = stack.api("POST", f"/letters/{code}/survey", token,
                     json={"score": 5, "comment": "ممنون"})
    assert resp.status_code in (200, 201), resp.text


def test_portal_approval_mode(stack: Stack):
    import re

    import requests

    token = stack.login(MOBILE)
    approved = submit(stack, token, org="demo-portal")
    rejected = submit(stack, token, org="demo-portal")
    assert status(stack, token, approved)["status"] == "awaiting_approval"
    # Nothing reaches the system before a controller decides.
    rows = stack.oa("GET", "/letters", params={"reference": approved}).json()["letters"]
    assert rows == []

    from connector.people.staff import add_user
    add_user(stack.px, "controller1", "controller-pass")
    web = requests.Session()
    page = web.get(f"{stack.portal}/console/login", timeout=10).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = web.post(f"{stack.portal}/console/login", data={
        "csrf_token": csrf, "username": "controller1", "password": "controller-pass"}, timeout=10)
    assert resp.status_code == 200 and "controller1" in resp.text or "خروج" in resp.text

    def decide(code: str, action: str, **data: str) -> None:
        page = web.get(f"{stack.portal}/console/demo-portal", timeout=10).text
        assert code in page
        token_ = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        r = web.post(f"{stack.portal}/console/demo-portal/letters/{code}/{action}",
                     data={"csrf_token": token_, **data}, timeout=10)
        assert r.status_code == 200, r.text[:500]

    decide(approved, "approve")
    decide(rejected, "reject", reason="این درخواست به این اداره مربوط نیست.")
    seen = until_status(stack, token, approved, "registered")
    oa_letter = in_sandbox(stack, approved)
    assert oa_letter["number"] == seen["letter_number"] and oa_letter["status"] == "registered"
    assert status(stack, token, rejected)["rejection_reason"].startswith("این درخواست")
    wait_for(lambda: [m for m in stack.sms_to(MOBILE, "registered")
                      if seen["letter_number"] in m["text"]], 5, "the registration SMS")
    assert stack.oa("GET", "/letters", params={"reference": rejected}).json()["letters"] == []
