"""Only Persian, Arabic-Indic and Latin digits are numbers: every other Unicode digit
(superscripts, Devanagari, ...) is refused with the field's Persian message, never a 500."""
from __future__ import annotations

import pytest

from connector.domain import normalize, tracking
from tests.integration.test_portal_api import (
    MOBILE,
    assert_error,
    auth,
    submit,
    token_for,
)

SUPER = "²"
DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("odd", [SUPER, "३", "٣", "۳", "①", "𝟑", "a"])
def test_only_three_scripts_of_digits_are_numbers(odd):
    accepted = odd in ("٣", "۳")
    assert (normalize.number("12" + odd) == "123") is accepted


def test_weird_digits_are_not_identifiers():
    assert normalize.national_code("00762296²5") is None
    assert normalize.national_code("0076229645".translate(DEVANAGARI)) is None
    assert normalize.legal_id("²") is None
    assert normalize.legal_id("10380284790".translate(FULLWIDTH)) is None
    assert normalize.mobile("09121234567".translate(DEVANAGARI)) is None
    assert normalize.mobile("09121234567".translate(FULLWIDTH)) is None
    assert tracking.clean("²" * 12) == ""
    assert not tracking.is_valid("²" * 12)
    assert not tracking.is_valid("१" * 12)
    assert normalize.number("۰۹۱۲-۱۲۳ ٤٥٦٧") == "0912123" + "4567"


def test_tracking_page_refuses_superscripts_without_a_500(client):
    r = client.get("/track", query_string={"code": SUPER * 12})
    assert r.status_code == 400
    assert "کد رهگیری درست نیست" in r.get_data(as_text=True)
    assert client.get("/t/" + SUPER * 12).status_code in (200, 404)


def test_api_letter_paths_with_superscripts_are_404(client, px):
    token = token_for(client, px)
    for path in (f"/api/v1/letters/{SUPER * 12}", f"/api/v1/letters/{SUPER * 12}/receipt.pdf",
                 f"/api/v1/letters/{'१' * 12}/reply"):
        assert_error(client.get(path, headers=auth(token)), 404, "not_found")
    r = client.post(f"/api/v1/letters/{SUPER * 12}/withdraw", headers=auth(token))
    assert_error(r, 404, "not_found")


def test_api_survey_score_superscript_is_a_field_error(client, px):
    token = token_for(client, px)
    code = submit(client, token).json["tracking_code"]
    for score in (SUPER, "५", "１", "12"):
        r = client.post(f"/api/v1/letters/{code}/survey", json={"score": score},
                        headers=auth(token))
        error = assert_error(r, 400, "validation")
        assert "امتیاز" in error["fields"]["score"]


def test_api_national_code_and_legal_id_with_odd_digits_are_field_errors(client, px):
    token = token_for(client, px)
    error = assert_error(submit(client, token, national_code="00762296²5"), 400, "validation")
    assert "national_code" in error["fields"]
    error = assert_error(submit(client, token, applicant_type="legal", national_id=SUPER,
                                company_name="شرکت نمونه"), 400, "validation")
    assert "national_id" in error["fields"]


def test_a_devanagari_mobile_is_not_a_separate_mobile(client, px):
    r = client.post("/api/v1/otp", json={"mobile": MOBILE.translate(DEVANAGARI)})
    error = assert_error(r, 400, "validation")
    assert "شماره همراه" in error["fields"]["mobile"]
    r = client.post("/api/v1/otp/verify", json={"mobile": MOBILE, "code": "²" * 5})
    assert r.status_code in (400, 429)


def test_citizen_survey_form_and_report_days_refuse_odd_digits(client, px):
    from portal.staff_ui import parse_day
    assert parse_day("۱۴۰۵/۰۹/۰۱") is not None
    assert parse_day("²⁰²⁶-11-22") is None
    assert parse_day("2026-1१-22") is None
