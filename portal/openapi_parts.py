"""The building blocks of the OpenAPI document (portal/openapi.py): shared parameters, the
component schemas and responses. Kept apart so the document's module holds only the paths."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

PREFIX = "/api/v1"
MB = 1024 * 1024


def _obj(properties: dict[str, Any], required: Iterable[str] | None = None,
         **extra: Any) -> dict[str, Any]:
    """A response object: exactly these fields (all required unless told otherwise)."""
    return {"type": "object", "properties": properties,
            "required": list(properties if required is None else required),
            "additionalProperties": False, **extra}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{description}"}


# Persian, Arabic-Indic and Latin digits: what normalize.number() accepts.
_DIGIT = "[0-9\u06f0-\u06f9\u0660-\u0669]"
_CODE = {"name": "tracking_code", "in": "path", "required": True,
         "description": "The 12-digit tracking code (Persian or Latin digits).",
         "schema": {"type": "string", "pattern": f"^{_DIGIT}{{12}}$",
                    "example": "482910375561"}}
_MOBILE = {"type": "string", "pattern": f"^(\\+98|0098|98|0)?[9\u06f9\u0669]{_DIGIT}{{9}}$",
           "example": "09121234567",
           "description": "An Iranian mobile number in Persian or Latin digits (spaces and "
                          "dashes between the digits are accepted too)."}
_ORG = {"name": "org", "in": "path", "required": True, "description": "Organization slug.",
        "schema": {"type": "string", "example": "demo"}}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]

_STR = {"type": "string"}
_STRINGS = {"type": "array", "items": _STR}
_SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": _obj({
        "code": {"type": "string", "example": "validation",
                 "description": "validation, csrf, bad_request, unauthorized, not_found, "
                                "method_not_allowed, conflict, too_large, rate_limited, "
                                "try_later, unavailable, busy (our database did not answer "
                                "now; try again after Retry-After. A letter handed in at that "
                                "moment may have been stored all the same: then its SMS with "
                                "the tracking code reaches the mobile), server_error"},
        "message": {"type": "string", "description": "A plain Persian message."},
        "fields": {"type": "object", "additionalProperties": {"type": "string"},
                   "description": "Only for validation errors: field name -> Persian "
                                  "message."},
    }, required=["code", "message"])}),
    "OrgSummary": _obj({"slug": _STR, "name": _STR}),
    "Unit": _obj({"code": _STR, "name": _STR}),
    "Service": _obj({
        "code": _STR, "title": _STR,
        "unit": {"type": "string", "description": "The unit code the service routes to."},
        "description": _STR, "steps": _STRINGS, "documents": _STRINGS, "rules": _STR,
        "faq": {"type": "array", "items": _obj({"question": _STR, "answer": _STR})},
        "duration_days": {"type": ["integer", "null"],
                          "description": "Working days to complete it."},
        "fees": _STR, "complaint": _STR, "responsible": _STR,
    }),
    "AttachmentLimits": _obj({
        "max_files": {"type": "integer", "minimum": 0,
                      "description": "Files one letter may carry."},
        "max_mb": {"type": "integer", "minimum": 1, "description": "Megabytes per file."},
    }, description="The organization's own limits (its file's [attachments] table)."),
    "Org": _obj({
        "slug": _STR, "name": _STR,
        "approval": {"type": "string", "enum": ["inbox", "portal"]},
        "units": {"type": "array", "items": _ref("Unit")},
        "services": {"type": "array", "items": _ref("Service")},
        "attachments": _ref("AttachmentLimits"),
    }),
    "Submitted": _obj({"tracking_code": _STR, "status": _STR,
                       "receipt_url": {"type": "string", "format": "uri"},
                       "track_url": {"type": "string", "format": "uri"}}),
    "Letter": _obj({
        "tracking_code": _STR,
        "org": _STR, "org_name": _STR,
        "subject": _STR,
        "status": {"type": "string", "enum": [
            "staged", "awaiting_approval", "approved", "delivering", "delivered",
            "registered", "in_progress", "answered", "closed", "rejected",
            "delivery_failed", "dead", "withdrawn", "awaiting_documents"]},
        "letter_number": _nullable(_STR),
        "registered_at": {"type": ["string", "null"], "format": "date-time"},
        "unit": _nullable(_STR),
        "handler": _nullable(_STR),
        "rejection_reason": _nullable(_STR),
        "reply_available": {"type": "boolean"},
        "submitted_at": {"type": "string", "format": "date-time"},
        "due_date": {
            "type": ["string", "null"], "format": "date",
            "description": "The promised completion date (تاریخ پایان کار), ISO 8601 "
                           "(Gregorian, e.g. 2026-12-10): the service's duration_days counted "
                           "in working days (Fridays, official holidays and the "
                           "organization's closures skipped) from the day after submission; "
                           "fixed at submission, moved on by the days the citizen was asked "
                           "for a document. Null when the service promises no duration."},
        "notify_by": {"type": "string", "enum": ["sms", "email", "both"],
                      "description": "How the citizen is told of each step."},
        "parent": {"type": ["string", "null"],
                   "description": "The letter this one follows up or objects to."},
        "link_kind": {"type": ["string", "null"], "enum": ["documents", "objection", None]},
        "linked": {"type": "array", "items": _obj({
            "tracking_code": _STR, "kind": {"type": "string",
                                            "enum": ["documents", "objection"]}})},
        "documents_note": {"type": ["string", "null"],
                           "description": "What the organization asked for, while "
                                          "`awaiting_documents`."},
        "objection_until": {"type": ["string", "null"], "format": "date",
                            "description": "The last day an objection is taken (once)."},
        "attachments": {"type": "array", "items": _obj({
            "name": _STR, "size": {"type": "integer"}, "content_type": _STR})},
        "timeline": {"type": "array", "items": _obj({
            "at": {"type": "string", "format": "date-time"}, "kind": _STR,
            "text": {"type": "string", "description": "Plain Persian."}})},
        "final": {"type": "boolean", "description": "No further step will come."},
        "can_withdraw": {"type": "boolean",
                         "description": "The citizen may still take it back (withdraw)."},
        "survey_open": {"type": "boolean",
                        "description": "Closed and not yet rated: POST .../survey."},
    }),
}


_RESPONSES: dict[str, Any] = {
    "BadRequest": _json(_ref("Error"), "Invalid input; `fields` says what to fix."),
    "Unauthorized": _json(_ref("Error"), "Missing, unknown or expired bearer token."),
    "NotFound": _json(_ref("Error"), "Not found (also another mobile's letter)."),
    "Conflict": _json(_ref("Error"), "Not possible in the letter's current state."),
    "Error": _json(_ref("Error"), "Any other error (405, 500, 503 ...)."),
    "RateLimited": {**_json(_ref("Error"), "Too many requests."),
                    "headers": {"Retry-After": {"schema": {"type": "integer"},
                                                "description": "Seconds to wait."}}},
}


_SCHEMAS["GateScan"] = _obj({
    "decision": {"type": "string", "enum": ["allow", "deny"]},
    "direction": {"type": "string", "enum": ["in", "out"]},
    "reason": {"type": "string", "description": "Plain Persian, when denied; else empty."},
    "visitor": _obj({
        "name": {"type": "string", "description": "Empty for an unknown pass."},
        "photo_url": _nullable({"type": "string", "format": "uri",
                                "description": "Readable with the same gate token for 10 "
                                               "minutes after a scan of this visitor's pass."}),
    }),
})
_GATE = {"name": "gate", "in": "path", "required": True,
         "description": "The gate's name (`pishkhan gates add ORG NAME`).",
         "schema": {"type": "string", "example": "main-gate"}}
_GATE_TOKEN: list[dict[str, list[str]]] = [{"gateToken": []}]
