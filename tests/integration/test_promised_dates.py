"""The promised completion date (تاریخ پایان کار), fixed at submission in working days, on every
place a citizen reads it: receipt page, PDF receipt, receipt SMS, tracking page and the API."""
from __future__ import annotations

import json
from datetime import datetime

from connector.domain import clock
from connector.outbox import sms as sms_outbox
from tests.integration.test_portal_api import auth, token_for
from tests.integration.test_portal_pages import MOBILE, page, submit_letter, web_login
from tests.integration.test_portal_receipt_pdf import logical, pdf_text

# Wednesday 7 Khordad 1404, 09:30 in Tehran. "street-repair" promises 15 working days, which
# skip three Fridays, 14 and 15 Khordad, Eid al-Adha (16, a Friday) and Eid al-Ghadir (24).
WEDNESDAY = datetime(2025, 5, 28, 6, 0)
DUE_ISO, DUE_FA, DUE_SMS = "2025-06-18", "۲۸ خرداد ۱۴۰۴", "پایان کار تا ۱۴۰۴/۰۳/۲۸"


def test_due_date_everywhere_the_citizen_looks(client, px, tmp_path):
    with clock.use(clock.ManualClock(WEDNESDAY)):
        web_login(client, px)
        code = submit_letter(client, px)  # street-repair
        receipt = page(client.get(f"/r/{code}"))
        track = page(client.get(f"/t/{code}"))
        pdf = client.get(f"/api/v1/letters/{code}/receipt.pdf").data
        token = token_for(client, px)
        api = client.get(f"/api/v1/letters/{code}", headers=auth(token)).json

    assert api["due_date"] == DUE_ISO
    assert "تاریخ پایان کار" in receipt and DUE_FA in receipt and "چهارشنبه " + DUE_FA in receipt
    assert DUE_FA in track
    sms = next(m for m in sms_outbox.listing(px, to=MOBILE) if m["kind"] == "receipt")
    assert DUE_SMS in sms["text"]
    (tmp_path / "r.pdf").write_bytes(pdf)
    line = next(logical(x) for x in pdf_text(tmp_path / "r.pdf") if "پایان کار" in logical(x))
    # poppler moves the space between a number and a word; compare without spaces.
    assert ("چهارشنبه" + DUE_FA).replace(" ", "") in line.replace(" ", "")


def test_a_ten_day_service_handed_in_on_a_wednesday(px):
    from connector.letters import usecases as letters
    from connector.letters.files import Upload
    org = px.org("demo")
    assert all(s.duration_days for s in org.services)
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="علی", last_name="کریمی", subject="نامه", body="متن",
                              service="general")
    with clock.use(clock.ManualClock(WEDNESDAY)):
        letter = letters.submit(px, "demo", form, [Upload("a.pdf", b"%PDF-1.4\n%%EOF")],
                                MOBILE)
    assert letter.due_date.isoformat() == "2025-06-11"  # 10 working days: 21 Khordad
    from connector.letters import promise
    assert promise.due_date(px, org, None) is None


def test_openapi_describes_due_date(client):
    doc = json.loads(client.get("/api/v1/openapi.json").data)
    field = doc["components"]["schemas"]["Letter"]["properties"]["due_date"]
    assert field["format"] == "date" and field["type"] == ["string", "null"]



def test_letters_past_their_date_are_on_the_dashboard(px):
    from connector.letters import usecases as letters
    from connector.letters.files import Upload
    from connector.operations import dashboard
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="علی", last_name="کریمی", subject="دیرکرده",
                              body="متن", service="general")
    with clock.use(clock.ManualClock(WEDNESDAY)):
        late = letters.submit(px, "demo", form, [Upload("a.pdf", b"%PDF-1.4\n%%EOF")], MOBILE)
    fresh = letters.submit(px, "demo", form, [Upload("a.pdf", b"%PDF-1.4\n%%EOF")], MOBILE)
    with clock.use(clock.ManualClock(WEDNESDAY)):
        paused = letters.submit(px, "demo-portal", form,
                                [Upload("a.pdf", b"%PDF-1.4\n%%EOF")], MOBILE)
    from connector.letters import followups
    followups.request_documents(px, paused.tracking_code, "op", "سند")  # paused, not late
    listed = dashboard.dashboard(px, "demo").overdue
    assert [letter.tracking_code for letter, _ in listed] == [late.tracking_code]
    assert dashboard.dashboard(px, "demo-portal").overdue == []
    # From 21 Khordad 1404 to today: far more than a year of working days.
    assert listed[0][1] > 250 and fresh.due_date > late.due_date
