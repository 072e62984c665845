"""The OpenAPI 3.1 description of /api/v1, written by hand so it says exactly what the API
promises. It cannot drift unnoticed: the tests check that it lists every route the app serves,
and every answer the API tests receive is validated against it (tests/openapi_check.py) —
response objects refuse undocumented fields and require the promised ones. Limits that belong
to an organization (attachments) are read from the organizations, never written here."""
from __future__ import annotations

from typing import Any

from . import openapi_webhooks
from .openapi_parts import (  # noqa: F401
    _BEARER,
    _CODE,
    _DIGIT,
    _GATE,
    _GATE_TOKEN,
    _MOBILE,
    _ORG,
    _RESPONSES,
    _SCHEMAS,
    _STR,
    _STRINGS,
    MB,
    PREFIX,
    _error,
    _json,
    _nullable,
    _obj,
    _ref,
)


def _letter_form() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["applicant_type", "first_name", "last_name", "subject", "body", "service"],
        "properties": {
            "applicant_type": {"type": "string", "enum": ["natural", "legal"]},
            "national_code": {"type": "string", "pattern": f"^{_DIGIT}{{8,10}}$",
                              "description": "10 digits with its check digit; for natural."},
            "national_id": {"type": "string", "pattern": f"^{_DIGIT}{{11}}$",
                            "description": "11 digits with its check digit; for legal."},
            "company_name": {"type": "string", "maxLength": 200, "description": "For legal."},
            "first_name": {"type": "string", "maxLength": 100},
            "last_name": {"type": "string", "maxLength": 100},
            "subject": {"type": "string", "maxLength": 200},
            "body": {"type": "string", "maxLength": 10000},
            "service": {"type": "string", "maxLength": 60,
                        "description": "A service code of the organization."},
            "email": {"type": "string", "format": "email", "maxLength": 254,
                      "description": "Optional; needed when notify_by is email or both."},
            "notify_by": {"type": "string", "enum": ["sms", "email", "both"], "default": "sms",
                          "description": "How the citizen is told of each step."},
            "attachments": {"type": "array", "items": {"type": "string", "format": "binary"},
                            "description": "PDF, JPG, PNG, DOCX or XLSX, judged by content. "
                                           "How many and how large: the organization's "
                                           "`attachments` (GET /orgs/{org}): at most max_files "
                                           "files of at most max_mb megabytes each."},
        },
    }


def _too_large(max_request_bytes: int) -> dict[str, Any]:
    mb = -(-max_request_bytes // MB)
    return _json(_ref("Error"), f"The whole request is larger than {mb} MB: the largest "
                 "organization's max_files × max_mb plus room for the form.")


def _paths(max_request_bytes: int) -> dict[str, Any]:
    p = PREFIX
    return {
        f"{p}/openapi.json": {"get": {
            "summary": "This document", "operationId": "openapi",
            "responses": {"200": {"description": "OpenAPI 3.0 document",
                                  "content": {"application/json": {"schema": {}}}}}}},
        f"{p}/otp": {"post": {
            "summary": "Send a one-time code by SMS", "operationId": "requestOtp",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["mobile"],
                "properties": {"mobile": _MOBILE}}}}},
            "responses": {
                "202": _json(_obj({"mobile": {
                    "type": "string", "description": "The normalized mobile."}}), "Code queued"),
                "400": _error("BadRequest"), "429": _error("RateLimited")}}},
        f"{p}/otp/verify": {"post": {
            "summary": "Exchange the code for a bearer token", "operationId": "verifyOtp",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["mobile", "code"],
                "properties": {"mobile": _MOBILE,
                               "code": {"type": "string", "pattern": f"^{_DIGIT}{{5}}$",
                                        "example": "12345"}}}}}},
            "responses": {
                "200": _json(_obj({"token": {"type": "string"}}),
                             "A bearer token for this mobile"),
                "400": _error("BadRequest"), "429": _error("RateLimited")}}},
        f"{p}/logout": {"post": {
            "summary": "Revoke this bearer token", "operationId": "logout",
            "security": _BEARER,
            "responses": {"204": {"description": "Revoked: the token answers 401 from now on"},
                          "401": _error("Unauthorized")}}},
        f"{p}/orgs": {"get": {
            "summary": "Organizations", "operationId": "listOrgs",
            "responses": {"200": _json(_obj({
                "orgs": {"type": "array", "items": _ref("OrgSummary")}}), "Organizations")}}},
        f"{p}/orgs/{{org}}": {"get": {
            "summary": "An organization with its units and service catalog",
            "operationId": "getOrg", "parameters": [_ORG],
            "responses": {"200": _json(_ref("Org"), "The organization"),
                          "404": _error("NotFound")}}},
        f"{p}/orgs/{{org}}/letters": {"post": {
            "summary": "Hand in a letter", "operationId": "submitLetter",
            "security": _BEARER, "parameters": [_ORG, {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string"},
                "description": "Your own key for this letter (a UUID, say). The same "
                               "letter sent again with the same key (a retry after a "
                               "timeout, or after a 503) is answered with the letter the "
                               "first request made, never a second one. A different letter "
                               "under a key already used is a new letter."}],
            "requestBody": {"required": True, "content": {"multipart/form-data": {
                "schema": _letter_form(),
                "encoding": {"attachments": {"contentType": "application/octet-stream"}}}}},
            "description": "Every attachment is checked before anything is stored: its type by "
                           "content, Word and Excel files for archive bombs (unpacked size and "
                           "entry count), and the virus scanner. A refused file is named in "
                           "`fields.attachments` (400); when the scanner cannot answer now "
                           "the answer is 503 `try_later` with Retry-After and nothing is "
                           "kept: send the same request again later.",
            "responses": {"201": _json(_ref("Submitted"), "Staged"),
                          "400": _error("BadRequest"), "401": _error("Unauthorized"),
                          "404": _error("NotFound"), "413": _too_large(max_request_bytes),
                          "429": _error("RateLimited"),
                          "503": _json(_ref("Error"), "The virus scanner did not answer; "
                                                      "nothing was stored, try again later "
                                                      "(Retry-After)")}}},
        f"{p}/letters/{{tracking_code}}": {"get": {
            "summary": "A letter of the token's mobile", "operationId": "getLetter",
            "security": _BEARER, "parameters": [_CODE],
            "responses": {"200": _json(_ref("Letter"), "The letter"),
                          "401": _error("Unauthorized"), "404": _error("NotFound"),
                          "429": _error("RateLimited")}}},
        f"{p}/letters/{{tracking_code}}/withdraw": {"post": {
            "summary": "Take the letter back before it goes to the organization",
            "operationId": "withdrawLetter", "security": _BEARER, "parameters": [_CODE],
            "responses": {"200": _json(_ref("Letter"), "Withdrawn"),
                          "401": _error("Unauthorized"), "404": _error("NotFound"),
                          "409": _error("Conflict")}}},
        f"{p}/letters/{{tracking_code}}/survey": {"post": {
            "summary": "Rate the service once the letter is closed", "operationId": "survey",
            "security": _BEARER, "parameters": [_CODE],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["score"],
                "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5},
                               "comment": {"type": "string", "maxLength": 2000}}}}}},
            "responses": {
                "201": _json(_obj({"tracking_code": {"type": "string"},
                                   "score": {"type": "integer"}}), "Saved"),
                "400": _error("BadRequest"), "401": _error("Unauthorized"),
                "404": _error("NotFound"), "409": _error("Conflict")}}},
        f"{p}/sms/inbound/{{org}}/{{token}}": {m: {
            "summary": "For SMS providers: a text sent to the organization's line",
            "operationId": f"smsInbound{m.title()}",
            "description": "The provider's own fields (Kavenegar: messageid, from, to, "
                           "message) as query or form fields. `token` is the secret named by "
                           "`inbound_token_env` under the organization's [sms] gateway; a wrong "
                           "one is 404. Each text is recorded once by the provider's id and "
                           "answered by SMS.",
            "parameters": [_ORG, {"name": "token", "in": "path", "required": True,
                                  "schema": {"type": "string"}}],
            "responses": {"200": _json(_obj({"received": {
                "type": "integer", "description": "New texts (0 for a repeat)."}}), "Recorded"),
                "400": _error("BadRequest"), "404": _error("NotFound")}}
            for m in ("get", "post")},
        f"{p}/letters/{{tracking_code}}/documents": {"post": {
            "summary": "Send the document the organization asked for", "operationId": "documents",
            "description": "Only while the letter's status is `awaiting_documents` (its "
                           "`documents_note` says what is needed). The files join the letter "
                           "if it has not reached the organization yet, or the same letter in "
                           "its system where the adapter can add files, otherwise they go as a "
                           "linked follow-up letter (`follow_up`).",
            "security": _BEARER, "parameters": [_CODE],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["attachments"], "properties": {"attachments": {
                    "type": "array", "items": {"type": "string", "format": "binary"}}}}}}},
            "responses": {
                "200": _json(_obj({"tracking_code": _STR, "status": _STR,
                                   "follow_up": _nullable(_STR)}), "Received"),
                "400": _error("BadRequest"), "401": _error("Unauthorized"),
                "404": _error("NotFound"), "409": _error("Conflict")}}},
        f"{p}/letters/{{tracking_code}}/objection": {"post": {
            "summary": "Object once to a rejection, within the organization's window",
            "operationId": "objection",
            "description": "Until the letter's `objection_until` (working days after the "
                           "rejection). The objection is a new letter linked to this one.",
            "security": _BEARER, "parameters": [_CODE],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["objection"], "properties": {
                    "objection": {"type": "string", "maxLength": 5000},
                    "attachments": {"type": "array",
                                    "items": {"type": "string", "format": "binary"}}}}}}},
            "responses": {"201": _json(_ref("Submitted"), "The objection letter"),
                          "400": _error("BadRequest"), "401": _error("Unauthorized"),
                          "404": _error("NotFound"), "409": _error("Conflict")}}},
        f"{p}/letters/{{tracking_code}}/attachments/{{index}}": {"get": {
            "summary": "Download one of the letter's attachments", "operationId": "attachment",
            "security": _BEARER,
            "parameters": [_CODE, {"name": "index", "in": "path", "required": True,
                                   "description": "0-based position in `attachments`.",
                                   "schema": {"type": "integer", "minimum": 0}}],
            "responses": {
                "200": {"description": "The file, with its sniffed content type",
                        "content": {"*/*": {
                            "schema": {"type": "string", "format": "binary"}}}},
                "401": _error("Unauthorized"), "404": _error("NotFound")}}},
        f"{p}/letters/{{tracking_code}}/reply": {"get": {
            "summary": "Download the organization's reply, fetched from its system",
            "operationId": "reply",
            "description": "Only when the letter's `reply_available` is true. Owner (bearer or "
                           "the portal's session) and the organization's staff only. A reply "
                           "with text only comes as a UTF-8 text file.",
            "security": _BEARER, "parameters": [_CODE],
            "responses": {
                "200": {"description": "The reply document, with its own content type",
                        "content": {"*/*": {
                            "schema": {"type": "string", "format": "binary"}}}},
                "401": _error("Unauthorized"), "404": _error("NotFound"),
                "429": _error("RateLimited"),
                "503": _json(_ref("Error"), "The organization's system did not answer; "
                                            "try again later (Retry-After)")}}},
        f"{p}/letters/{{tracking_code}}/receipt.pdf": {"get": {
            "summary": "The letter's receipt as a PDF (Persian, A5, with a QR code to the "
                       "tracking page)", "operationId": "receiptPdf",
            "description": "Only the owner (bearer token, or the portal's signed-in session) "
                           "and staff of the organization may read it; to anyone else the "
                           "letter does not exist (404).",
            "security": _BEARER, "parameters": [_CODE],
            "responses": {
                "200": {"description": "The receipt",
                        "content": {"application/pdf": {
                            "schema": {"type": "string", "format": "binary"}}}},
                "401": _error("Unauthorized"), "404": _error("NotFound"),
                "429": _error("RateLimited")}}},
        f"{p}/gates/{{gate}}/scan": {"post": {
            "summary": "A turnstile or barcode reader asks whether a pass may go through",
            "operationId": "gateScan", "security": _GATE_TOKEN, "parameters": [_GATE],
            "description": "Denied outside the visit's window, for an expired, used or "
                           "replaced pass, for a blacklisted person, and for a second entry "
                           "without an exit (anti-passback; of simultaneous scans of one "
                           "pass exactly one is allowed). Without `direction`, a gate made "
                           "for one direction uses it; a two-way gate lets a visitor who is "
                           "inside out and anyone else in. Every scan is recorded.",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["code"],
                "properties": {"code": {"type": "string", "example": "398241320084",
                                        "description": "The pass code (Persian or Latin "
                                                       "digits)."},
                               "direction": {"type": "string", "enum": ["in", "out"]}}}}}},
            "responses": {"200": _json(_ref("GateScan"), "The decision"),
                          "400": _error("BadRequest"),
                          "401": _json(_ref("Error"), "Unknown or revoked gate token, or "
                                                      "the token of another gate")}}},
        f"{p}/gates/{{gate}}/visitors/{{visitor_id}}/photo": {"get": {
            "summary": "The photo of a visitor this gate has just scanned",
            "operationId": "gateVisitorPhoto", "security": _GATE_TOKEN,
            "parameters": [_GATE, {"name": "visitor_id", "in": "path", "required": True,
                                   "schema": {"type": "integer"}}],
            "responses": {
                "200": {"description": "JPEG or PNG", "content": {"image/jpeg": {
                    "schema": {"type": "string", "format": "binary"}}}},
                "401": _json(_ref("Error"), "Unknown or revoked gate token"),
                "404": _error("NotFound")}}},
    }


def document(server_url: str, max_request_bytes: int) -> dict[str, Any]:
    """The document; ``max_request_bytes`` is the portal's request limit, derived from the
    organizations' attachment limits."""
    paths = _paths(max_request_bytes)
    for ops in paths.values():  # any other status (405, 429, 500 ...) is a JSON error
        for op in ops.values():
            op["responses"].setdefault("default", _error("Error"))
    return {
        "openapi": "3.1.0",
        "info": {"title": "Pishkhan API", "version": "1",
                 "description": "Hand in letters to an organization and follow them. Sign in "
                                "with a one-time SMS code (POST /otp, then /otp/verify) and send "
                                "the token as `Authorization: Bearer <token>`. Errors are "
                                "`{error: {code, message, fields?}}` with a Persian message."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "webhooks": openapi_webhooks.webhooks(),
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "The token from /otp/verify."},
                                "gateToken": {"type": "http", "scheme": "bearer",
                                              "description": "A gate's token, printed once by "
                                                             "`pishkhan gates add ORG NAME`."}},
            "schemas": {**_SCHEMAS, **openapi_webhooks.schemas()},
            "responses": _RESPONSES,
        },
    }
