"""The front desk: a staff member hands in a walk-in citizen's letter with scanned papers."""
from __future__ import annotations

import io
import re

from connector.letters import usecases as letters
from connector.outbox import sms as sms_outbox
from connector.people import staff
from connector.store import audit
from tests.conftest import csrf_of, staff_login, staff_logout

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
FORM = {"applicant_type": "natural", "national_code": "۰۰۷۶۲۲۹۶۴۵", "first_name": "رضا",
        "last_name": "احمدی", "subject": "درخواست تعمیر آسفالت", "body": "کوچه خراب است.",
        "service": "street-repair", "mobile": "۰۹۱۲ ۱۲۳ ۴۵۶۷"}


def test_desk_staff_hand_in_a_letter_and_print_the_receipt(px, client):
    staff.add_user(px, "desk1", "long-enough-1", role="desk", orgs=["demo"],
                   display_name="خانم رضایی")
    staff_login(client, "desk1")
    page = client.get("/desk/", follow_redirects=True).get_data(as_text=True)
    assert "ثبت نامه حضوری" in page
    resp = client.post("/desk/demo/new", data={
        **FORM, "csrf_token": csrf_of(page),
        "attachments": [(io.BytesIO(PDF), "scan-1.pdf")]},
        content_type="multipart/form-data")
    assert resp.status_code == 302
    code = re.search(r"/letters/(\d+)/receipt", resp.headers["Location"]).group(1)
    receipt = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "خانم رضایی" in receipt and "0912***4567" not in receipt  # Persian digits on paper
    assert "۰۹۱۲***۴۵۶۷" in receipt and "data-print" in receipt and "print.js" in receipt
    letter = letters.get(px, code)
    assert letter.channel == "desk" and letter.mobile == "09121234567"
    assert letter.state == "staged" and [a.name for a in letter.attachments] == ["scan-1.pdf"]
    assert [n["kind"] for n in sms_outbox.listing(px, to="09121234567")] == ["receipt"]
    records = audit.search(px, audit.Filters(letter=code))
    assert {(r.action, r.actor) for r in records} == {("letter.state", "staff:desk1"),
                                                     ("letter.hand_in", "staff:desk1")}


def test_mistakes_are_explained_and_nothing_typed_is_lost(px, client):
    staff.add_user(px, "desk1", "long-enough-1", role="desk")
    staff_login(client, "desk1")
    page = client.get("/desk/demo/new").get_data(as_text=True)
    resp = client.post("/desk/demo/new", data={**FORM, "mobile": "12345", "subject": "",
                                               "csrf_token": csrf_of(page)})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "شماره همراه متقاضی را درست بنویسید" in body and "موضوع نامه را بنویسید" in body
    assert 'value="12345"' in body and "کوچه خراب است." in body and 'value="رضا"' in body


def test_scans_that_passed_are_kept_when_the_form_comes_back(px, client):
    staff.add_user(px, "desk1", "long-enough-1", role="desk")
    staff_login(client, "desk1")
    page = client.get("/desk/demo/new").get_data(as_text=True)
    resp = client.post("/desk/demo/new", data={
        **FORM, "mobile": "0912", "csrf_token": csrf_of(page),
        "attachments": [(io.BytesIO(PDF), "scan-1.pdf")]}, content_type="multipart/form-data")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "scan-1.pdf" in body
    keep = re.search(r'name="keep" value="([0-9a-f]{64})"', body).group(1)
    resp = client.post("/desk/demo/new", data={**FORM, "keep": keep, "csrf_token": csrf_of(body)})
    assert resp.status_code == 302
    code = re.search(r"/letters/(\d+)/receipt", resp.headers["Location"]).group(1)
    assert [a.name for a in letters.get(px, code).attachments] == ["scan-1.pdf"]


def test_only_desk_staff_and_admins_use_the_desk(px, client):
    staff.add_user(px, "ctl", "long-enough-1")
    staff.add_user(px, "desk2", "long-enough-1", role="desk", orgs=["demo-portal"])
    staff_login(client, "ctl")
    assert client.get("/desk/").status_code == 404
    staff_logout(client)
    staff_login(client, "desk2")
    assert client.get("/desk/demo/new").status_code == 404
    assert client.get("/admin/").status_code == 404
    assert client.get("/desk/").status_code == 302  # straight to their one organization


def test_desk_takes_an_email_and_the_channel_and_prints_the_promised_date(px, client):
    from connector.outbox import mail as mail_outbox
    staff.add_user(px, "desk2", "long-enough-1", role="desk", orgs=["demo"])
    staff_login(client, "desk2")
    page = client.get("/desk/demo/new").get_data(as_text=True)
    assert 'name="email"' in page and 'name="notify_by"' in page
    resp = client.post("/desk/demo/new", data={
        **FORM, "csrf_token": csrf_of(page), "email": "reza@example.com", "notify_by": "both"},
        content_type="multipart/form-data")
    assert resp.status_code == 302
    receipt = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "تاریخ پایان کار" in receipt and "۱۵ روز کاری" in receipt
    assert [m["kind"] for m in mail_outbox.listing(px, to="reza@example.com")] == ["receipt"]
    assert [n["kind"] for n in sms_outbox.listing(px, to="09121234567")] == ["receipt"]
