"""The JSON API under /api/v1, through Flask's test client against a real staging store."""
from __future__ import annotations

import json
import re
from typing import Any

import pytest

from connector.bootstrap import bootstrap
from connector.domain import tracking
from connector.letters import usecases as letters
from connector.outbox import sms as sms_outbox
from connector.store.db import upgrade

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
MOBILE = "09121234567"
OTHER = "09351112233"
NATIONAL_CODE = "0076229645"
NATIONAL_ID = "10380284790"
PERSIAN = re.compile("[\u0600-\u06ff]")


def otp_code(px: Any, mobile: str) -> str:
    from tests.phone import otp_code as code_on_phone
    return code_on_phone(px, mobile)


def token_for(client: Any, px: Any, mobile: str = MOBILE) -> str:
    assert client.post("/api/v1/otp", json={"mobile": mobile}).status_code == 202
    r = client.post("/api/v1/otp/verify", json={"mobile": mobile, "code": otp_code(px, mobile)})
    assert r.status_code == 200, r.json
    return r.json["token"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def letter_fields(**overrides: Any) -> dict[str, Any]:
    data = {"applicant_type": "natural", "national_code": NATIONAL_CODE, "first_name": "مریم",
            "last_name": "احمدی", "subject": "درخواست تعمیر کوچه",
            "body": "کوچه ما آسفالت ندارد.", "service": "street-repair"}
    data.update(overrides)
    return data


def submit(client: Any, token: str, org: str = "demo", files: list[tuple[bytes, str]] = (),
           **overrides: Any) -> Any:
    import io
    data: dict[str, Any] = letter_fields(**overrides)
    if files:
        data["attachments"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post(f"/api/v1/orgs/{org}/letters", data=data, headers=auth(token),
                       content_type="multipart/form-data")


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.data
    assert response.is_json
    error = response.json["error"]
    assert error["code"] == code
    assert PERSIAN.search(error["message"]), error
    assert "Traceback" not in response.get_data(as_text=True)
    return error


# --- OTP --------------------------------------------------------------------------------------

def test_otp_flow_accepts_persian_digits_and_returns_a_token(client, px):
    r = client.post("/api/v1/otp", json={"mobile": "۰۹۱۲ ۱۲۳ ۴۵۶۷"})
    assert r.status_code == 202
    assert r.json == {"mobile": MOBILE}
    code = otp_code(px, MOBILE)
    persian_code = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    r = client.post("/api/v1/otp/verify", json={"mobile": MOBILE, "code": persian_code})
    assert r.status_code == 200
    assert len(r.json["token"]) > 20


def test_wrong_otp_code_is_a_persian_field_error(client, px):
    client.post("/api/v1/otp", json={"mobile": MOBILE})
    wrong = "00000" if otp_code(px, MOBILE) != "00000" else "11111"
    error = assert_error(client.post("/api/v1/otp/verify", json={"mobile": MOBILE, "code": wrong}),
                         400, "validation")
    assert PERSIAN.search(error["fields"]["code"])


def test_bad_mobile_is_refused(client):
    error = assert_error(client.post("/api/v1/otp", json={"mobile": "12345"}), 400, "validation")
    assert "mobile" in error["fields"]


def age_codes(px, mobile: str, seconds: int) -> None:
    """Move the mobile's codes back in time, as if the citizen had waited."""
    from datetime import timedelta

    from sqlalchemy import select

    from connector.store.db import transaction
    from connector.store.models import OtpChallenge
    with transaction(px.sessions) as s:
        for row in s.scalars(select(OtpChallenge).where(OtpChallenge.mobile == mobile)):
            row.created_at -= timedelta(seconds=seconds)


def test_otp_requests_are_rate_limited(client, px):
    assert client.post("/api/v1/otp", json={"mobile": MOBILE}).status_code == 202
    # A second code only after a minute ...
    r = client.post("/api/v1/otp", json={"mobile": MOBILE})
    assert_error(r, 429, "rate_limited")
    assert 0 < int(r.headers["Retry-After"]) <= 60
    for _ in range(2):
        age_codes(px, MOBILE, 61)
        assert client.post("/api/v1/otp", json={"mobile": MOBILE}).status_code == 202
    # ... and three in ten minutes at most.
    age_codes(px, MOBILE, 61)
    r = client.post("/api/v1/otp", json={"mobile": MOBILE})
    assert_error(r, 429, "rate_limited")
    assert 60 < int(r.headers["Retry-After"]) <= 600


# --- organizations ----------------------------------------------------------------------------

def test_orgs_list_and_detail(client):
    orgs = client.get("/api/v1/orgs").json["orgs"]
    assert {"slug": "demo", "name": "شهرداری نمونه"} in orgs
    org = client.get("/api/v1/orgs/demo-portal").json
    assert org["slug"] == "demo-portal" and org["approval"] == "portal"
    assert {"code": "civil", "name": "واحد خدمات شهری"} in org["units"]
    service = next(s for s in org["services"] if s["code"] == "general")
    assert service["unit"] == "sec" and service["duration_days"] == 10
    assert service["steps"] and service["faq"][0]["question"]
    assert_error(client.get("/api/v1/orgs/nowhere"), 404, "not_found")


# --- letters ----------------------------------------------------------------------------------

def test_submit_with_pdf_then_read_it_back(client, px):
    token = token_for(client, px)
    r = submit(client, token, files=[(PDF, "نامه من.pdf")])
    assert r.status_code == 201, r.json
    code = r.json["tracking_code"]
    assert tracking.is_valid(code)
    assert r.json["status"] == "staged"
    assert r.json["receipt_url"].endswith(f"/r/{code}")
    assert r.json["track_url"].endswith(f"/t/{code}")

    view = client.get(f"/api/v1/letters/{code}", headers=auth(token)).json
    assert view["tracking_code"] == code and view["status"] == "staged"
    for key in ("letter_number", "registered_at", "unit", "handler", "rejection_reason",
                "reply_available"):
        assert key in view
    assert [e["kind"] for e in view["timeline"]] == ["submitted"]
    assert PERSIAN.search(view["timeline"][0]["text"])
    assert view["attachments"][0]["content_type"] == "application/pdf"

    # The receipt SMS is queued at once with the tracking code.
    assert any(n["kind"] == "receipt" and n["letter"] == code
               for n in sms_outbox.listing(px, to=MOBILE))

    download = client.get(f"/api/v1/letters/{code}/attachments/0", headers=auth(token))
    assert download.status_code == 200
    assert download.data == PDF
    assert download.mimetype == "application/pdf"
    assert_error(client.get(f"/api/v1/letters/{code}/attachments/1", headers=auth(token)),
                 404, "not_found")


def test_letters_need_a_valid_bearer_token(client, px):
    r = submit(client, "not-a-token")
    assert_error(r, 401, "unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(client.post("/api/v1/orgs/demo/letters", data=letter_fields()), 401,
                 "unauthorized")
    assert_error(client.get("/api/v1/letters/123456789012"), 401, "unauthorized")


def test_validation_errors_name_each_field(client, px):
    token = token_for(client, px)
    error = assert_error(submit(client, token, national_code="1234567890", subject=""), 400,
                         "validation")
    assert set(error["fields"]) == {"national_code", "subject"}
    assert error["fields"]["national_code"] == "کد ملی درست نیست. ۱۰ رقم کارت ملی را بنویسید."


def test_a_pdf_name_without_pdf_content_is_refused(client, px):
    token = token_for(client, px)
    error = assert_error(submit(client, token, files=[(b"MZ\x90\x00 not a pdf", "x.pdf")]),
                         400, "validation")
    assert "x.pdf" in error["fields"]["attachments"]
    assert letters.for_mobile(px, MOBILE) == []


def test_unknown_org_is_404_not_a_form_error(client, px):
    assert_error(submit(client, token_for(client, px), org="nowhere"), 404, "not_found")


def test_another_mobile_gets_404(client, px):
    code = submit(client, token_for(client, px), files=[(PDF, "a.pdf")]).json["tracking_code"]
    other = auth(token_for(client, px, OTHER))
    assert_error(client.get(f"/api/v1/letters/{code}", headers=other), 404, "not_found")
    assert_error(client.get(f"/api/v1/letters/{code}/attachments/0", headers=other), 404,
                 "not_found")
    assert_error(client.post(f"/api/v1/letters/{code}/withdraw", headers=other), 404,
                 "not_found")
    # Indistinguishable from a code that does not exist at all.
    assert_error(client.get("/api/v1/letters/123456789012", headers=other), 404, "not_found")


def test_withdraw_once(client, px):
    token = token_for(client, px)
    code = submit(client, token).json["tracking_code"]
    r = client.post(f"/api/v1/letters/{code}/withdraw", headers=auth(token))
    assert r.status_code == 200
    assert r.json["status"] == "withdrawn"
    assert r.json["timeline"][-1]["kind"] == "withdrawn"
    assert_error(client.post(f"/api/v1/letters/{code}/withdraw", headers=auth(token)), 409,
                 "conflict")


def test_legal_entity_submit(client, px):
    token = token_for(client, px)
    r = submit(client, token, applicant_type="legal", national_code="",
               national_id="۱۰۳۸۰۲۸۴۷۹۰", company_name="شرکت نمونه")
    assert r.status_code == 201, r.json
    stored = letters.get(px, r.json["tracking_code"], MOBILE)
    assert (stored.applicant_type, stored.national_id) == ("legal", NATIONAL_ID)
    error = assert_error(submit(client, token, applicant_type="legal", national_id="10380284791",
                                company_name=""), 400, "validation")
    assert set(error["fields"]) == {"national_id", "company_name"}


def test_portal_approval_org_letters_wait_for_an_operator(client, px):
    r = submit(client, token_for(client, px), org="demo-portal")
    assert r.status_code == 201
    assert r.json["status"] == "awaiting_approval"


def test_survey_only_when_closed_and_score_checked(client, px):
    token = token_for(client, px)
    code = submit(client, token).json["tracking_code"]
    error = assert_error(client.post(f"/api/v1/letters/{code}/survey", json={"score": "x"},
                                     headers=auth(token)), 400, "validation")
    assert "score" in error["fields"]
    assert_error(client.post(f"/api/v1/letters/{code}/survey", json={"score": 9},
                             headers=auth(token)), 400, "validation")
    assert_error(client.post(f"/api/v1/letters/{code}/survey", json={"score": 5},
                             headers=auth(token)), 409, "conflict")


def test_too_large_request_is_413_json(app, client, px):
    token = token_for(client, px)
    app.config["MAX_CONTENT_LENGTH"] = 3 * 1024 * 1024
    body = assert_error(submit(client, token, files=[(PDF + b"0" * 4_000_000, "big.pdf")]),
                        413, "too_large")
    assert "۳ مگابایت" in body["message"]  # the real limit, not a fixed figure


def test_unexpected_errors_are_500_json_without_a_trace(px):
    from portal import create_app
    app = create_app(px, {"TESTING": True})

    def boom() -> None:
        raise RuntimeError("secret internals")

    app.add_url_rule("/api/v1/boom", "boom", boom)
    r = app.test_client().get("/api/v1/boom")
    assert_error(r, 500, "server_error")
    assert "secret internals" not in r.get_data(as_text=True)


def test_unknown_api_route_and_method_are_json(client):
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
    assert_error(client.get("/api/v1/otp"), 405, "method_not_allowed")


# --- OpenAPI ----------------------------------------------------------------------------------

def test_openapi_lists_every_api_route(app, client):
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    doc = json.loads(r.data)
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    served: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1"):
            path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
            served.setdefault(path, set()).update(m.lower() for m in rule.methods
                                                  if m not in ("HEAD", "OPTIONS"))
    documented = {path: set(ops) for path, ops in doc["paths"].items()}
    assert served == documented
    receipt = doc["paths"]["/api/v1/letters/{tracking_code}/receipt.pdf"]["get"]
    assert "application/pdf" in receipt["responses"]["200"]["content"]
    # Every $ref resolves.
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/components/(\w+)/(\w+)"', text)):
        assert ref[1] in doc["components"][ref[0]], ref


@pytest.mark.parametrize("path", ["/api/v1/orgs", "/api/v1/openapi.json"])
def test_api_answers_are_not_cached(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_unknown_routes_and_wrong_methods_are_404_and_405_not_token_errors(client):
    assert_error(client.post("/api/v1/nothing", json={}), 404, "not_found")
    response = client.put("/api/v1/otp", json={})
    assert response.status_code == 405 and response.get_json()["error"]["message"]


def test_the_document_check_fails_on_an_undocumented_or_a_missing_field(client, px):
    from tests.openapi_check import Undocumented, check
    doc = client.get("/api/v1/openapi.json").get_json()
    good = client.get("/api/v1/orgs").get_json()  # checked by the client already
    body = json.dumps(good).encode()
    check(doc, "GET", "/api/v1/orgs", 200, "application/json", body)
    extra = {"orgs": [{**good["orgs"][0], "secret": 1}]}
    with pytest.raises(Undocumented, match="secret"):
        check(doc, "GET", "/api/v1/orgs", 200, "application/json", json.dumps(extra).encode())
    missing = {"orgs": [{"slug": "demo"}]}
    with pytest.raises(Undocumented, match="'name' is a required property"):
        check(doc, "GET", "/api/v1/orgs", 200, "application/json", json.dumps(missing).encode())
    # An undocumented status is held to the error shape, so a success body there fails too.
    with pytest.raises(Undocumented, match="'error' is a required property"):
        check(doc, "POST", "/api/v1/otp/verify", 201, "application/json", b'{"token": "x"}')
    letter = doc["components"]["schemas"]["Letter"]
    assert {"can_withdraw", "survey_open"} <= set(letter["required"])


def test_attachment_limits_are_the_organizations_not_the_documents(tmp_path):
    from portal import create_app
    from tests.conftest import make_settings
    settings = make_settings(tmp_path)
    demo = settings.orgs_dir / "demo.toml"
    demo.write_text(demo.read_text(encoding="utf-8").replace("max_files = 5", "max_files = 3")
                    .replace("max_mb = 10 ", "max_mb = 7 "), encoding="utf-8")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        app = create_app(px, {"TESTING": True})
        client = app.test_client()  # checked against the document, as every test client
        assert client.get("/api/v1/orgs/demo").get_json()["attachments"] == {
            "max_files": 3, "max_mb": 7}
        assert client.get("/api/v1/orgs/demo-portal").get_json()["attachments"] == {
            "max_files": 5, "max_mb": 10}
        doc = client.get("/api/v1/openapi.json").get_json()
        form = doc["paths"]["/api/v1/orgs/{org}/letters"]["post"]
        attachments = form["requestBody"]["content"]["multipart/form-data"]["schema"][
            "properties"]["attachments"]
        assert "maxItems" not in attachments and "max_files" in attachments["description"]
        # The request limit: the largest organization's 5 × 10 MB plus 2 MB for the form.
        assert app.config["MAX_CONTENT_LENGTH"] == 52 * 1024 * 1024
        assert "larger than 52 MB" in form["responses"]["413"]["description"]
    finally:
        px.close()
