"""Reports per organization and unit, against a real store and the fake system."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from connector.delivery import polling
from connector.delivery import push as delivery
from connector.domain.calendar import WorkCalendar
from connector.domain.clock import local, now
from connector.domain.letter import ChangeKind
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.operations import reports
from connector.people import staff
from connector.store.models import Letter

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
MOBILE = "09121234567"


@pytest.fixture
def rpx(fake_px):
    # Fridays only, so how late a letter is does not depend on the holidays near today.
    fake_px[0].holidays = WorkCalendar()
    return fake_px


def _submit(px, service):
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="علی", last_name="کریمی", subject="نامه",
                              body="متن", service=service)
    return letters.submit(px, "demo", form, [Upload("a.pdf", PDF)], MOBILE).tracking_code


def _age(px, code, **delta):
    """As if handed in ``delta`` ago: the promise moves back with the submission."""
    with px.sessions() as s, s.begin():
        letter = s.query(Letter).filter_by(tracking_code=code).one()
        created = now() - timedelta(**delta)
        days = px.org("demo").service(letter.service_code).duration_days
        s.execute(update(Letter).where(Letter.tracking_code == code).values(
            created_at=created, due_date=px.calendar("demo").add(local(created).date(), days)))


@pytest.fixture
def history(rpx):
    px, system = rpx
    late = _submit(px, "street-repair")      # civil, 15 days promised
    quick = _submit(px, "street-repair")
    refused = _submit(px, "general")         # sec, 10 days promised
    delivery.run_once(px)
    waiting = _submit(px, "general")         # never delivered: still open
    old = _submit(px, "general")
    system.emit(late, ChangeKind.REGISTERED, number="1405/1")
    system.emit(quick, ChangeKind.REGISTERED, number="1405/2")
    system.emit(refused, ChangeKind.REJECTED, reason="نامربوط")
    system.emit(late, ChangeKind.ANSWERED, text="انجام شد")
    system.emit(late, ChangeKind.CLOSED)
    polling.poll_org(px, "demo")
    letters.save_survey(px, late, MOBILE, 4, "")
    _age(px, late, days=20)
    _age(px, quick, hours=2)
    _age(px, refused, days=11)
    _age(px, waiting, days=14)  # 12 working days or more: past its 10
    _age(px, old, days=40)  # outside the default period
    return px


def test_counts_medians_overdue_and_satisfaction_per_unit(history):
    px = history
    report = reports.build(px, "demo", now() - timedelta(days=30), now() + timedelta(hours=1))
    civil = next(r for r in report.units if r.unit == "civil")
    sec = next(r for r in report.units if r.unit == "sec")
    assert (civil.received, civil.approved, civil.rejected, civil.overdue) == (2, 2, 0, 1)
    assert civil.median_hours_to_registration == pytest.approx((20 * 24 + 2) / 2, abs=0.2)
    assert civil.median_hours_to_answer == pytest.approx(20 * 24, abs=0.2)
    assert civil.satisfaction == 4 and civil.ratings == 1
    # The rejected letter is not overdue; the one still waiting past its 10 days is.
    assert (sec.received, sec.approved, sec.rejected, sec.overdue) == (2, 0, 1, 1)
    assert sec.median_hours_to_registration is None and sec.satisfaction is None
    assert report.total.received == 4 and report.total.overdue == 2
    # Late in working days: 20 days hold 17 or 18 working days (Fridays only here), 15 promised.
    assert civil.days_late in (2, 3) and civil.average_days_late == civil.days_late
    assert sec.days_late >= 2  # 14 days, 12 or more working days, 10 promised
    finance = next(r for r in report.units if r.unit == "finance")
    assert finance.received == 0  # every unit is listed


def test_report_page_chart_and_csv(history, tmp_path):
    from portal import create_app
    px = history
    staff.add_user(px, "adm", "long-enough-1", role="org_admin", orgs=["demo"])
    client = create_app(px, {"TESTING": True}).test_client()
    page = client.get("/console/login").get_data(as_text=True)
    client.post("/console/login", data={"csrf_token": re.search(
        r'name="csrf_token" value="([^"]+)"', page).group(1), "username": "adm",
        "password": "long-enough-1"})
    page = client.get("/reports/demo").get_data(as_text=True)
    assert '<svg class="chart"' in page and "<script" not in page.split("<main")[1]
    row = re.search(r'<tr data-unit="civil">(.*?)</tr>', page, re.S).group(1)
    assert "<td class=\"num\">۲</td>" in row and "۴ (۱ نظر)" in row
    resp = client.get("/reports/demo.csv")
    assert resp.headers["Content-Type"].startswith("text/csv")
    text = resp.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == list(reports.CSV_HEADER)
    civil = next(r for r in rows if r[0] == "civil")
    assert civil[1] == "واحد خدمات شهری" and civil[2:5] == ["2", "2", "0"] and civil[7] == "1"
    assert rows[-1][0] == "*" and rows[-1][2] == "4"
    # A period in Jalali days: 41 to 39 days ago holds only the oldest letter.
    from persiantools.jdatetime import JalaliDate
    from connector.domain.clock import local  # the day as Tehran reads it, not UTC's
    day = JalaliDate(local(now() - timedelta(days=40)).date()).strftime("%Y/%m/%d")
    rows = list(csv.reader(io.StringIO(client.get(
        "/reports/demo.csv", query_string={"since": day, "until": day}).get_data(
        as_text=True).lstrip("\ufeff"))))
    assert rows[-1][2] == "1"
    assert client.get("/reports/demo-portal").status_code == 404
    assert client.get("/reports/demo", query_string={"since": "x"}).status_code == 400
