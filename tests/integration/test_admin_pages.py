"""Admin pages through the Flask test client: who may see what, masked secrets, the audit viewer's
filters and scope, the connection test against an address where nothing listens."""
from __future__ import annotations

import re

from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.people import staff
from connector.store import audit
from tests.conftest import csrf_of, staff_login, staff_logout

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"


def _letter(px, org):
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="علی", last_name="کریمی", subject="تعمیر",
                              body="متن", service="street-repair")
    return letters.submit(px, org, form, [Upload("a.pdf", PDF)], "09121234567")


def test_only_admins_of_the_organization_see_its_pages(px, client):
    staff.add_user(px, "ctl", "long-enough-1")
    staff.add_user(px, "adm", "long-enough-1", role="org_admin", orgs=["demo"])
    staff_login(client, "ctl")
    assert client.get("/admin/").status_code == 404
    assert client.get("/admin/demo").status_code == 404
    staff_logout(client)
    staff_login(client, "adm")
    assert client.get("/admin/demo").status_code == 200
    assert client.get("/admin/demo-portal").status_code == 404
    assert client.get("/admin/demo-portal/settings").status_code == 404
    index = client.get("/admin/").get_data(as_text=True)
    assert "/admin/demo\"" in index and "/admin/demo-portal\"" not in index


def test_org_view_masks_secrets_and_reports_a_failed_connection(px, client):
    staff.add_user(px, "root", "long-enough-1", role="platform_admin")
    staff_login(client, "root")
    page = client.get("/admin/demo/settings").get_data(as_text=True)
    assert "PISHKHAN_DEMO_OA_PASSWORD" in page and "sandbox-secret" not in page
    assert 'id="config-ok"' in page and "street-repair" in page
    resp = client.post("/admin/demo/test-connection", data={"csrf_token": csrf_of(page)})
    check = re.search(r'<div id="connection-check".*?</div>', resp.get_data(as_text=True),
                      re.S).group(0)
    assert "اتصال برقرار نشد" in check and ("transient" in check or "configuration" in check)
    assert audit.search(px, audit.Filters(action="org.test_connection"))[0].detail == {
        "ok": False}


def test_audit_viewer_filters_and_keeps_an_org_admin_to_their_organizations(px, client):
    a = _letter(px, "demo")
    b = _letter(px, "demo-portal")
    staff.add_user(px, "adm", "long-enough-1", role="org_admin", orgs=["demo"])
    staff_login(client, "adm")
    page = client.get("/admin/audit").get_data(as_text=True)
    assert a.tracking_code in page and b.tracking_code not in page
    assert "staff:adm" not in page  # sign-ins belong to no organization
    page = client.get("/admin/audit", query_string={"org": "demo-portal"}).get_data(
        as_text=True)
    assert b.tracking_code not in page
    page = client.get("/admin/audit", query_string={"since": "۱۳۹۰/۰۱/۰۱",
                                                    "until": "۱۳۹۰/۰۱/۰۲"}).get_data(as_text=True)
    assert a.tracking_code not in page and "رویدادی با این شرط‌ها پیدا نشد" in page
    page = client.get("/admin/audit", query_string={"since": "فردا"}).get_data(as_text=True)
    assert "روز را به شکل" in page


def test_platform_admin_sees_sign_ins(px, client):
    staff.add_user(px, "root", "long-enough-1", role="platform_admin")
    staff_login(client, "root")
    page = client.get("/admin/audit", query_string={"action": "staff.login"}).get_data(
        as_text=True)
    assert "staff:root" in page


def test_the_approval_queue_narrows_to_one_unit_and_stays_there(px, client):
    civil = _letter(px, "demo-portal")  # street-repair: the civil unit
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="علی", last_name="کریمی", subject="عوارض",
                              body="متن", service="fee-objection")
    finance = letters.submit(px, "demo-portal", form, [Upload("a.pdf", PDF)], "09121234567")
    staff.add_user(px, "ctl", "long-enough-1", orgs=["demo-portal"])
    staff_login(client, "ctl")
    page = client.get("/console/demo-portal", query_string={"unit": "finance"}).get_data(
        as_text=True)
    assert finance.tracking_code in page and civil.tracking_code not in page
    assert "امور مالی (۱)" in page and "همه واحدها (۲)" in page
    resp = client.post(f"/console/demo-portal/letters/{finance.tracking_code}/approve",
                       data={"csrf_token": csrf_of(page), "unit": "finance"})
    assert resp.headers["Location"].endswith("/console/demo-portal?unit=finance")
