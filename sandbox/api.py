"""The scripting API: JSON in and out, for tests and demos to drive the sandbox."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from sandbox import followups, letters
from sandbox.clock import as_utc
from sandbox.faults import FaultSettings, InvalidFaults
from sandbox.state import current_sandbox

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@bp.get("/health")
def health() -> Response:
    return jsonify(ok=True)


@bp.get("/letters")
def list_letters() -> Response:
    found = letters.list_letters(current_sandbox().engine, request.args.get("reference"))
    return jsonify(letters=[letter_json(letter) for letter in found])


@bp.get("/letters/<int:letter_id>")
def get_letter(letter_id: int) -> Response:
    return jsonify(letter_json(letters.get_letter(current_sandbox().engine, letter_id)))


@bp.post("/letters/<int:letter_id>/register")
def register(letter_id: int) -> Response:
    number = _optional_text(_body(), "number")
    return jsonify(letter_json(letters.register(current_sandbox().engine, letter_id, number)))


@bp.post("/letters/<int:letter_id>/reject")
def reject(letter_id: int) -> Response:
    reason = _optional_text(_body(), "reason") or ""
    return jsonify(letter_json(letters.reject(current_sandbox().engine, letter_id, reason)))


@bp.post("/letters/<int:letter_id>/refer")
def refer(letter_id: int) -> Response:
    body = _body()
    letter = letters.refer(
        current_sandbox().engine,
        letter_id,
        unit=_optional_text(body, "unit") or "",
        person=_optional_text(body, "person"),
        instruction=_optional_text(body, "instruction"),
    )
    return jsonify(letter_json(letter))


@bp.post("/letters/<int:letter_id>/answer")
def answer(letter_id: int) -> Response:
    text = _optional_text(_body(), "text") or ""
    return jsonify(letter_json(letters.answer(current_sandbox().engine, letter_id, text)))


@bp.post("/letters/<int:letter_id>/request-documents")
def request_documents(letter_id: int) -> Response:
    """Ask the sender for a missing document: a change of kind `incomplete` in the feed."""
    engine = current_sandbox().engine
    followups.request_documents(engine, letter_id, _optional_text(_body(), "note") or "")
    return jsonify(letter_json(letters.get_letter(engine, letter_id)))


@bp.post("/letters/<int:letter_id>/close")
def close(letter_id: int) -> Response:
    return jsonify(letter_json(letters.close(current_sandbox().engine, letter_id)))


@bp.get("/faults")
def get_faults() -> Response:
    return jsonify(current_sandbox().faults.settings.to_json())


@bp.post("/faults")
def set_faults() -> Response:
    """Replace the faults in force; `{}` clears them all."""
    try:
        settings = FaultSettings.from_json(_body())
    except InvalidFaults as exc:
        raise ApiError(400, "invalid_request", str(exc)) from None
    current_sandbox().faults.settings = settings
    return jsonify(settings.to_json())


@bp.post("/sessions/expire")
def expire_sessions() -> Response:
    """End every login ticket of the session dialect now, as a restart of such a system does."""
    return jsonify({"expired": current_sandbox().sessions.expire_all()})


def letter_json(letter: letters.Letter) -> dict[str, Any]:
    """A letter as the scripting API shows it."""
    return {
        "id": letter.id,
        "reference": letter.reference,
        "status": letter.status,
        "number": letter.number,
        "numberDate": _time(letter.number_date),
        "subject": letter.subject,
        "body": letter.body,
        "unit": letter.unit_code,
        "person": letter.person_name,
        "senderName": letter.sender_name,
        "senderNationalCode": letter.sender_national_code,
        "senderMobile": letter.sender_mobile,
        "rejectReason": letter.reject_reason,
        "createdAt": _time(letter.created_at),
        "allowedActions": list(letter.allowed_actions),
        "attachments": [
            {"id": a.id, "name": a.name, "contentType": a.content_type, "size": a.size}
            for a in letter.attachments
        ],
        # Links to earlier letters (this letter follows or objects to them) and from later ones.
        "links": [
            {"letterId": k.letter_id, "relatedLetterId": k.related_letter_id,
             "relatedNumber": k.related_number, "relatedReference": k.related_reference,
             "kind": k.kind}
            for k in followups.links(current_sandbox().engine, letter.id)
        ],
    }


def register_error_handlers(app: Flask) -> None:
    """Answer every failure under /api as `{error: {code, message}}`, never as a stack trace."""

    @app.errorhandler(HTTPException)
    def _routing_error(exc: HTTPException) -> Response | HTTPException:
        # Unknown paths and wrong methods fail before any blueprint is chosen, so the JSON
        # form is decided by path here; pages and SOAP keep their own error forms.
        if request.path.startswith(bp.url_prefix or "/api"):
            return _error(exc.code or 500, _code_name(exc), exc.description or exc.name)
        return exc


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return _error(exc.status, exc.code, exc.message)


@bp.errorhandler(letters.LetterNotFound)
def _not_found(exc: letters.LetterNotFound) -> Response:
    return _error(404, "not_found", str(exc))


@bp.errorhandler(letters.ActionNotAllowed)
def _not_allowed(exc: letters.ActionNotAllowed) -> Response:
    return _error(409, "action_not_allowed", str(exc))


@bp.errorhandler(letters.InvalidInput)
def _invalid(exc: letters.InvalidInput) -> Response:
    return _error(400, "invalid_request", str(exc))


# HTTP errors (bad method, body too large) reach the app-wide handler above before this one.
@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    log.exception("scripting API call failed")
    return _error(500, "internal_error", "internal error")


def _error(status: int, code: str, message: str) -> Response:
    response = jsonify(error={"code": code, "message": message})
    response.status_code = status
    return response


def _code_name(exc: HTTPException) -> str:
    return (exc.name or "error").lower().replace(" ", "_")


def _body() -> dict[str, Any]:
    if not request.get_data():
        return {}
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "the body must be a JSON object")
    return data


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "invalid_request", f"{name} must be a string")
    return value


def _time(value: Any) -> str | None:
    return None if value is None else as_utc(value).isoformat().replace("+00:00", "Z")
