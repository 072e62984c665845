"""The visits pages as staff use them: a host pre-registers, the security desk admits with a
photo and prints the pass (checked as a person would: the PDF as an image, its QR read by
zbarimg), the gate API lets the visitor in once and out once, the blacklist alerts the desk."""
from __future__ import annotations

import io
import re
import subprocess

import pytest
from PIL import Image

from connector.outbox import sms as sms_outbox
from connector.people import staff
from connector.store import audit
from connector.visits import gates, hosts
from tests.conftest import csrf_of, staff_login
from tests.integration.test_portal_receipt_pdf import logical, pdf_text, shaped

HOST_MOBILE = "09351112233"
VISITOR = {"kind": "iranian", "national_code": "۰۰۷۶۲۲۹۶۴۵", "first_name": "علی",
           "last_name": "رضایی", "father_name": "حسن", "mobile": "09121234567",
           "purpose": "جلسه پروژه", "day": "", "start": "00:00", "end": "23:59"}


# The visits here run from 00:00 to 23:59 of today: the clock is moved to Tehran's midday.
pytestmark = pytest.mark.usefixtures("midday")


def staff_logout(client) -> None:
    page = client.get("/visits/", follow_redirects=True).get_data(as_text=True)
    client.post("/console/logout", data={"csrf_token": csrf_of(page)})


def jpeg(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (60, 80), color).save(out, "JPEG")
    return out.getvalue()


def people(px) -> None:
    staff.add_user(px, "host1", "long-enough-1", role="host", orgs=["demo"],
                   display_name="مهندس کریمی")
    hosts.set_profile(px, "host1", mobile=HOST_MOBILE)
    staff.add_user(px, "guard1", "long-enough-1", role="security", orgs=["demo"])


def pre_register(client) -> int:
    staff_login(client, "host1")
    page = client.get("/visits/", follow_redirects=True).get_data(as_text=True)
    assert "مهمان‌های من" in page
    form = client.get("/visits/demo/new").get_data(as_text=True)
    r = client.post("/visits/demo/new", data={**VISITOR, "csrf_token": csrf_of(form)})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "ملاقات ثبت شد" in body, body
    staff_logout(client)
    return int(re.search(r"/visits/demo/v/(\d+)", body).group(1)) if \
        re.search(r"/visits/demo/v/(\d+)", body) else 0


def test_host_to_desk_to_gate(px, client, tmp_path):
    people(px)
    pre_register(client)
    [invite] = sms_outbox.listing(px, to="09121234567")
    assert invite["kind"] == "visit_invite"

    staff_login(client, "guard1")
    desk = client.get("/visits/demo/").get_data(as_text=True)
    assert "علی رضایی" in desk and "مهمان‌های امروز" in desk
    visit_id = int(re.search(r"/visits/demo/v/(\d+)", desk).group(1))
    page = client.get(f"/visits/demo/v/{visit_id}")
    assert "camera=(self)" in page.headers["Permissions-Policy"]
    bad = client.post(f"/visits/demo/v/{visit_id}/admit", data={
        "csrf_token": csrf_of(page.get_data(as_text=True)),
        "photo": (io.BytesIO(b"not a picture"), "x.jpg")}, content_type="multipart/form-data")
    assert bad.status_code == 400 and "JPG یا PNG" in bad.get_data(as_text=True)
    ok = client.post(f"/visits/demo/v/{visit_id}/admit", data={
        "csrf_token": csrf_of(page.get_data(as_text=True)),
        "photo": (io.BytesIO(jpeg()), "camera.jpg")}, content_type="multipart/form-data")
    assert ok.status_code == 302
    shown = client.get(f"/visits/demo/v/{visit_id}").get_data(as_text=True)
    photo_url = re.search(r'src="(/visits/demo/visitors/\d+/photo)"', shown).group(1)
    assert client.get(photo_url).data[:3] == b"\xff\xd8\xff"

    r = client.post(f"/visits/demo/v/{visit_id}/pass", data={"csrf_token": csrf_of(shown),
                                                             "size": "80mm"})
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    pdf = tmp_path / "pass.pdf"
    pdf.write_bytes(r.data)
    lines = pdf_text(pdf)
    title = next(line for line in lines if logical(line) == "کارت ملاقات")
    assert shaped(title)
    joined = " ".join(logical(line) for line in lines)
    assert "علی رضایی" in joined and "مهندس کریمی" in joined
    subprocess.run(["pdftoppm", "-r", "200", "-png", "-singlefile", str(pdf),
                    str(tmp_path / "pass")], check=True, timeout=60)
    decoded = subprocess.run(["zbarimg", "--quiet", str(tmp_path / "pass.png")],
                             capture_output=True, text=True, timeout=60)
    assert decoded.returncode == 0, decoded.stderr
    found = dict(line.split(":", 1) for line in decoded.stdout.split())
    code = found["QR-Code"]
    assert found["CODE-128"] == code and len(code) == 12  # the barcode carries the same code
    a6 = client.post(f"/visits/demo/v/{visit_id}/pass", data={"csrf_token": csrf_of(shown),
                                                              "size": "a6"})
    assert a6.status_code == 200 and a6.data.startswith(b"%PDF-")
    (tmp_path / "a6.pdf").write_bytes(a6.data)
    out = subprocess.run(["pdfinfo", str(tmp_path / "a6.pdf")], capture_output=True,
                         text=True, check=True).stdout
    assert "297.638 x 419.528 pts" in out  # A6 in points
    code = found["QR-Code"]
    a6_code = subprocess.run(["pdftoppm", "-r", "200", "-png", "-singlefile",
                              str(tmp_path / "a6.pdf"), str(tmp_path / "a6")], timeout=60)
    assert a6_code.returncode == 0
    a6_found = dict(line.split(":", 1) for line in subprocess.run(
        ["zbarimg", "--quiet", str(tmp_path / "a6.png")], capture_output=True, text=True,
        timeout=60).stdout.split())
    new_code = a6_found["QR-Code"]
    assert a6_found["CODE-128"] == new_code  # side by side on the card, both readable
    assert new_code != code  # printing again issued a new code
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert "226.772 x" in info  # 80 mm wide, for a receipt printer

    _, token = gates.add(px, "demo", "main-gate")
    auth = {"Authorization": f"Bearer {token}"}
    old = client.post("/api/v1/gates/main-gate/scan", json={"code": code}, headers=auth)
    assert old.json["decision"] == "deny"  # the first pass stopped working
    inside = client.post("/api/v1/gates/main-gate/scan", json={"code": new_code,
                                                               "direction": "in"}, headers=auth)
    assert inside.status_code == 200, inside.json
    assert inside.json["decision"] == "allow" and inside.json["direction"] == "in"
    assert inside.json["visitor"]["name"] == "علی رضایی"
    photo = inside.json["visitor"]["photo_url"]
    assert client.get(photo.replace(px.settings.public_url, ""),
                      headers=auth).data[:3] == b"\xff\xd8\xff"
    assert client.get(photo.replace(px.settings.public_url, "")).status_code == 401
    again = client.post("/api/v1/gates/main-gate/scan", json={"code": new_code,
                                                              "direction": "in"}, headers=auth)
    assert again.json["decision"] == "deny" and "خارج نشده" in again.json["reason"]
    out = client.post("/api/v1/gates/main-gate/scan", json={"code": new_code,
                                                            "direction": "out"}, headers=auth)
    assert out.json["decision"] == "allow"
    kinds = sorted(n["kind"] for n in sms_outbox.listing(px, to=HOST_MOBILE))
    assert kinds == ["visit_entered", "visit_left"]
    desk = client.get("/visits/demo/").get_data(as_text=True)
    assert "خارج نشده" in desk  # the denied scan is an alert on the desk's page
    actors = {r.actor for r in audit.search(px, audit.Filters()) if r.action == "gate.allow"}
    assert actors == {"gate:demo/main-gate"}


def test_gate_api_refuses_a_wrong_token_and_explains_bad_input(px, client):
    _, token = gates.add(px, "demo", "main-gate")
    r = client.post("/api/v1/gates/main-gate/scan", json={"code": "1"},
                    headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and "توکن" in r.json["error"]["message"]
    r = client.post("/api/v1/gates/other/scan", json={"code": "1"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    r = client.post("/api/v1/gates/main-gate/scan", json={},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 400 and r.json["error"]["fields"]["code"]
    gates.revoke(px, "demo", "main-gate")
    r = client.post("/api/v1/gates/main-gate/scan", json={"code": "1"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401


def test_walk_in_blacklist_and_visitor_file(px, client):
    people(px)
    staff_login(client, "guard1")
    page = client.get("/visits/demo/walk-in").get_data(as_text=True)
    r = client.post("/visits/demo/walk-in", data={
        **VISITOR, "national_code": "123", "first_name": "", "host": "host1", "category": "3",
        "csrf_token": csrf_of(page)}, content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert r.status_code == 400 and "کد ملی درست نیست" in body and "جلسه پروژه" in body
    r = client.post("/visits/demo/walk-in", data={
        **VISITOR, "category": "2", "host": "", "csrf_token": csrf_of(page)},
        content_type="multipart/form-data")
    assert r.status_code == 302
    assert "کارش در میز انجام شد" in client.get(r.headers["Location"]).get_data(as_text=True)

    bl = client.get("/visits/demo/blacklist").get_data(as_text=True)
    r = client.post("/visits/demo/blacklist", data={"national_code": "0076229645",
                                                    "reason": "", "csrf_token": csrf_of(bl)})
    assert r.status_code == 400 and "دلیل را بنویسید" in r.get_data(as_text=True)
    r = client.post("/visits/demo/blacklist", data={"national_code": "0076229645",
                                                    "reason": "درگیری", "until": "1499/01/01",
                                                    "csrf_token": csrf_of(bl)})
    assert r.status_code == 302
    r = client.post("/visits/demo/walk-in", data={
        **VISITOR, "category": "3", "host": "host1", "csrf_token": csrf_of(page)},
        content_type="multipart/form-data")
    assert r.status_code == 400 and "درگیری" in r.get_data(as_text=True)
    desk = client.get("/visits/demo/").get_data(as_text=True)
    assert "ممنوع‌الورود" in desk
    assert client.get("/visits/demo/alerts.json").json["alerts"][0]["kind"] == "blacklisted"

    found = client.get("/visits/demo/search?q=۰۰۷۶۲۲۹۶۴۵").get_data(as_text=True)
    file_url = re.search(r'href="(/visits/demo/visitors/\d+)"', found).group(1)
    file = client.get(file_url).get_data(as_text=True)
    assert "پرونده علی رضایی" in file and "ممنوع‌الورود: درگیری" in file
    again = client.get(f"/visits/demo/walk-in?visitor={file_url.rsplit('/', 1)[1]}")
    assert 'value="علی"' in again.get_data(as_text=True)  # nothing typed twice


def test_roles_keep_to_their_pages(px, client):
    people(px)
    staff.add_user(px, "ctl", "long-enough-1")
    staff_login(client, "ctl")
    assert client.get("/visits/").status_code == 404
    client.post("/console/logout",
                data={"csrf_token": csrf_of(client.get("/console/").get_data(as_text=True))})
    staff_login(client, "host1")
    assert client.get("/visits/demo/walk-in").status_code == 404
    assert client.get("/visits/demo/blacklist").status_code == 404
    assert client.get("/visits/demo-portal/").status_code == 404
    assert client.get("/console/", follow_redirects=False).headers["Location"].endswith(
        "/visits/")


def test_report_counts_visits_stays_and_refused_scans_with_a_csv(px, client):
    people(px)
    from connector.visits import usecases as visits
    from connector.visits.people import Identity
    reg = visits.register(px, "demo", Identity(national_code="0076229645", first_name="علی",
                                               last_name="رضایی"), host="host1", purpose="x")
    visits.register(px, "demo", Identity(national_code="0076229645", first_name="علی",
                                         last_name="رضایی"), host="", purpose="",
                    category=2, admit=True)
    gate, _ = gates.add(px, "demo", "g")
    assert gates.scan(px, gate, reg.pass_code, "in").allowed
    assert not gates.scan(px, gate, reg.pass_code, "in").allowed
    assert gates.scan(px, gate, reg.pass_code, "out").allowed
    staff_login(client, "guard1")
    page = client.get("/visits/demo/report")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "<svg" in body and "مهندس کریمی" in body
    assert "ترددهای ردشده: ۱" in body
    csv_text = client.get("/visits/demo/report.csv").get_data(as_text=True)
    assert csv_text.startswith("\ufeffhost,unit,visits")
    assert "مهندس کریمی,,1,0.0,0" in csv_text and "(all),,2,0.0,0" in csv_text
    assert "\n2,1" in csv_text.replace("\r", "")  # category 2: one visit
    assert client.get("/visits/demo/report?since=bad").status_code == 400


def test_a_host_sees_only_their_own_visitors_photos(px, client):
    people(px)
    staff.add_user(px, "host2", "long-enough-1", role="host", orgs=["demo"])
    from connector.visits import usecases as visits
    from connector.visits.people import Identity
    reg = visits.register(px, "demo", Identity(national_code="0076229645", first_name="علی",
                                               last_name="رضایی"), host="host1", purpose="x",
                          photo=jpeg())
    url = f"/visits/demo/visitors/{reg.visit.visitor_id}/photo"
    staff_login(client, "host2")
    assert client.get(url).status_code == 404
    assert client.get(f"/visits/demo/v/{reg.visit.id}").status_code == 404
    staff_logout(client)
    staff_login(client, "host1")
    assert client.get(url).status_code == 200


def test_the_retention_run_leaves_visitors_photos_alone(px):
    """The retention run deletes attachment blobs no letter refers to; a returning visitor's
    photo lives in a store of its own."""
    from datetime import timedelta

    from connector.domain.clock import now
    from connector.operations import retention
    from connector.visits import images
    from connector.visits import usecases as visits
    from connector.visits.people import Identity
    people(px)
    reg = visits.register(px, "demo", Identity(national_code="0076229645", first_name="علی",
                                               last_name="رضایی"), host="host1", purpose="x",
                          photo=jpeg())
    digest = reg.visit.visitor.photo_sha256
    retention.run(px, at=now() + timedelta(days=3))
    assert images.get(px, digest)[:3] == b"\xff\xd8\xff"


def test_a_pass_scanned_into_the_desks_search_opens_its_visit(px, client):
    people(px)
    from connector.visits import usecases as visits
    from connector.visits.people import Identity
    reg = visits.register(px, "demo", Identity(national_code="0076229645", first_name="علی",
                                               last_name="رضایی"), host="host1", purpose="x")
    staff_login(client, "guard1")
    assert "autofocus" in client.get("/visits/demo/").get_data(as_text=True)
    persian = reg.pass_code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    r = client.get(f"/visits/demo/search?q={persian}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/v/{reg.visit.id}")


def test_the_board_shows_the_organizations_logo(px, client):
    people(px)
    staff_login(client, "guard1")
    board = client.get("/visits/demo/board").get_data(as_text=True)
    assert 'src="/visits/demo/logo.png" alt="نشان شهرداری نمونه"' in board
    assert client.get("/visits/demo/logo.png").data.startswith(b"\x89PNG")
    (px.orgs["demo"].path.with_suffix(".png")).unlink()
    assert "logo.png" not in client.get("/visits/demo/board").get_data(as_text=True)
    assert client.get("/visits/demo/logo.png").status_code == 404
