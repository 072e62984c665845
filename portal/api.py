"""The JSON API under /api/v1 (contract in the design's "Public interfaces")."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, request, url_for

from connector.domain.errors import PermanentError, ValidationError
from connector.letters import followups
from connector.letters import usecases as letters
from connector.outbox import inbound
from connector.people import citizens

from . import attachments, max_request_bytes, pishkhan, receipts
from .i18n import localized
from .openapi import document
from .security import bearer_mobile, readable_letter

bp = Blueprint("api", __name__, url_prefix="/api/v1")

def _body() -> Any:
    # JSON is the contract; a plain form post is accepted too, for the simplest clients.
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else request.form


def public_url(endpoint: str, **values: Any) -> str:
    """Absolute links use the configured public address, like the SMS texts do, so they are
    right behind a reverse proxy."""
    return pishkhan().settings.public_url + url_for(endpoint, **values)


@bp.get("/openapi.json")
def openapi() -> Response:
    px = pishkhan()
    return jsonify(document(px.settings.public_url, max_request_bytes(px)))


@bp.post("/otp")
def otp_request() -> tuple[Response, int]:
    mobile = citizens.request_otp(pishkhan(), str(_body().get("mobile", "") or ""))
    return jsonify(mobile=mobile), 202


@bp.post("/otp/verify")
def otp_verify() -> Response:
    body = _body()
    token = citizens.verify_otp(pishkhan(), str(body.get("mobile", "") or ""),
                                str(body.get("code", "") or ""))
    return jsonify(token=token)


@bp.post("/logout")
def logout() -> tuple[str, int]:
    """Revoke the bearer token this request carries."""
    bearer_mobile()  # 401 unless the token is live
    token = request.headers.get("Authorization", "").partition(" ")[2].strip()
    citizens.revoke_token(pishkhan(), token)
    return "", 204


@bp.get("/orgs")
def orgs() -> Response:
    return jsonify(orgs=[{"slug": o.slug, "name": o.name} for o in pishkhan().orgs.values()])


@bp.get("/orgs/<org>")
def org_detail(org: str) -> Response:
    o = pishkhan().org(org)
    return jsonify(slug=o.slug, name=o.name, approval=o.approval,
                   units=[{"code": u.code, "name": u.name} for u in o.units],
                   services=[s.catalog() for s in o.services],
                   attachments={"max_files": o.attachments.max_files,
                                "max_mb": o.attachments.max_mb})


@bp.post("/orgs/<org>/letters")
def submit(org: str) -> tuple[Response, int]:
    mobile = bearer_mobile()
    pishkhan().org(org)  # an unknown organization is a 404, not a form error
    # A client that sends the same Idempotency-Key again (a retry after a timeout, say) gets
    # the letter its first request made, with the same answer.
    letter = letters.submit(pishkhan(), org, letters.LetterForm.from_mapping(request.form),
                            attachments.from_files(request.files.getlist("attachments")), mobile,
                            resend_key=request.headers.get("Idempotency-Key"))
    code = letter.tracking_code
    return jsonify(tracking_code=code, status=letter.state,
                   receipt_url=public_url("citizen.receipt", code=code),
                   track_url=public_url("citizen.track_letter", code=code)), 201


@bp.get("/letters/<tracking_code>")
def letter(tracking_code: str) -> Response:
    px = pishkhan()
    return jsonify(localized(letters.view(px, letters.get(px, tracking_code, bearer_mobile()))))


@bp.post("/letters/<tracking_code>/withdraw")
def withdraw(tracking_code: str) -> Response:
    px = pishkhan()
    mobile = bearer_mobile()
    letters.withdraw(px, tracking_code, mobile)
    return jsonify(localized(letters.view(px, letters.get(px, tracking_code, mobile))))


@bp.post("/letters/<tracking_code>/survey")
def survey(tracking_code: str) -> tuple[Response, int]:
    mobile = bearer_mobile()
    body = _body()
    raw = body.get("score", "")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)  # JSON's 3.0 is the integer 3
    score = letters.save_survey(pishkhan(), tracking_code, mobile, str(raw),
                                str(body.get("comment", "") or ""))
    return jsonify(tracking_code=tracking_code, score=score), 201


@bp.post("/letters/<tracking_code>/documents")
def documents(tracking_code: str) -> Response:
    mobile = bearer_mobile()
    px = pishkhan()
    follow_up = followups.add_documents(
        px, tracking_code, mobile, attachments.from_files(request.files.getlist("attachments")))
    letter = letters.get(px, tracking_code, mobile)
    return jsonify(tracking_code=letter.tracking_code, status=letter.state, follow_up=follow_up)


@bp.post("/letters/<tracking_code>/objection")
def objection(tracking_code: str) -> tuple[Response, int]:
    mobile = bearer_mobile()
    child = followups.object_to(pishkhan(), tracking_code, mobile,
                                str(request.form.get("objection", "")),
                                attachments.from_files(request.files.getlist("attachments")))
    code = child.tracking_code
    return jsonify(tracking_code=code, status=child.state,
                   receipt_url=public_url("citizen.receipt", code=code),
                   track_url=public_url("citizen.track_letter", code=code)), 201


@bp.route("/sms/inbound/<org>/<token>", methods=["GET", "POST"])
def sms_inbound(org: str, token: str) -> Response:
    """The address an SMS provider calls with each text sent to the organization's line."""
    px = pishkhan()
    px.org(org)
    fields = {k: v for k, v in request.values.items()}
    try:
        outcomes = inbound.receive_push(px, org, token, fields)
    except PermanentError as exc:
        raise ValidationError({"message": exc.detail}) from None
    return jsonify(received=sum(o.inbound_id is not None for o in outcomes))


@bp.get("/letters/<tracking_code>/attachments/<int:index>")
def attachment(tracking_code: str, index: int) -> Response:
    return attachments.send(readable_letter(tracking_code), index)


@bp.get("/letters/<tracking_code>/reply")
def reply(tracking_code: str) -> Response:
    letter = readable_letter(tracking_code)
    return attachments.send_reply(letter, letters.reply(pishkhan(), letter))


@bp.get("/letters/<tracking_code>/receipt.pdf")
def receipt_pdf(tracking_code: str) -> Response:
    # Also reached from the receipt page with the citizen's session, and by staff.
    letter = readable_letter(tracking_code)
    return receipts.pdf_response(letter, public_url("citizen.track_letter",
                                                    code=letter.tracking_code))

