"""The OpenAPI 3.0 description of /api/v1, written by hand so it says exactly what the API
promises (the test suite checks that it lists every route the app serves)."""
from __future__ import annotations

from typing import Any

PREFIX = "/api/v1"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{description}"}


_CODE = {"name": "tracking_code", "in": "path", "required": True,
         "description": "The 12-digit tracking code (Persian or Latin digits).",
         "schema": {"type": "string", "example": "482910375561"}}
_ORG = {"name": "org", "in": "path", "required": True, "description": "Organization slug.",
        "schema": {"type": "string", "example": "demo"}}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {
            "type": "object", "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "example": "validation",
                         "description": "validation, csrf, bad_request, unauthorized, not_found, "
                                        "method_not_allowed, conflict, too_large, rate_limited, "
                                        "server_error"},
                "message": {"type": "string", "description": "A plain Persian message."},
                "fields": {"type": "object", "additionalProperties": {"type": "string"},
                           "description": "Only for validation errors: field name -> Persian "
                                          "message."},
            }}},
    },
    "OrgSummary": {"type": "object", "required": ["slug", "name"],
                   "properties": {"slug": {"type": "string"}, "name": {"type": "string"}}},
    "Unit": {"type": "object", "required": ["code", "name"],
             "properties": {"code": {"type": "string"}, "name": {"type": "string"}}},
    "Service": {
        "type": "object", "required": ["code", "title", "unit"],
        "properties": {
            "code": {"type": "string"}, "title": {"type": "string"},
            "unit": {"type": "string", "description": "The unit code the service routes to."},
            "description": {"type": "string"},
            "steps": {"type": "array", "items": {"type": "string"}},
            "documents": {"type": "array", "items": {"type": "string"}},
            "rules": {"type": "string"},
            "faq": {"type": "array", "items": {
                "type": "object", "properties": {"question": {"type": "string"},
                                                 "answer": {"type": "string"}}}},
            "duration_days": {"type": "integer", "nullable": True},
            "fees": {"type": "string"}, "complaint": {"type": "string"},
            "responsible": {"type": "string"},
        },
    },
    "Org": {
        "type": "object", "required": ["slug", "name", "approval", "units", "services"],
        "properties": {
            "slug": {"type": "string"}, "name": {"type": "string"},
            "approval": {"type": "string", "enum": ["inbox", "portal"]},
            "units": {"type": "array", "items": _ref("Unit")},
            "services": {"type": "array", "items": _ref("Service")},
        },
    },
    "LetterForm": {
        "type": "object",
        "required": ["applicant_type", "first_name", "last_name", "subject", "body", "service"],
        "properties": {
            "applicant_type": {"type": "string", "enum": ["natural", "legal"]},
            "national_code": {"type": "string", "description": "10 digits; for natural."},
            "national_id": {"type": "string", "description": "11 digits; for legal."},
            "company_name": {"type": "string", "description": "For legal."},
            "first_name": {"type": "string", "maxLength": 100},
            "last_name": {"type": "string", "maxLength": 100},
            "subject": {"type": "string", "maxLength": 200},
            "body": {"type": "string", "maxLength": 10000},
            "service": {"type": "string", "description": "A service code of the organization."},
            "attachments": {"type": "array", "maxItems": 5,
                            "items": {"type": "string", "format": "binary"},
                            "description": "PDF, JPG, PNG, DOCX or XLSX, judged by content; "
                                           "10 MB each."},
        },
    },
    "Submitted": {
        "type": "object", "required": ["tracking_code", "status", "receipt_url", "track_url"],
        "properties": {"tracking_code": {"type": "string"}, "status": {"type": "string"},
                       "receipt_url": {"type": "string", "format": "uri"},
                       "track_url": {"type": "string", "format": "uri"}},
    },
    "Letter": {
        "type": "object",
        "required": ["tracking_code", "status", "letter_number", "registered_at", "unit",
                     "handler", "rejection_reason", "timeline", "reply_available"],
        "properties": {
            "tracking_code": {"type": "string"},
            "org": {"type": "string"}, "org_name": {"type": "string"},
            "subject": {"type": "string"},
            "status": {"type": "string", "enum": [
                "staged", "awaiting_approval", "approved", "delivering", "delivered",
                "registered", "in_progress", "answered", "closed", "rejected",
                "delivery_failed", "dead", "withdrawn"]},
            "letter_number": {"type": "string", "nullable": True},
            "registered_at": {"type": "string", "format": "date-time", "nullable": True},
            "unit": {"type": "string", "nullable": True},
            "handler": {"type": "string", "nullable": True},
            "rejection_reason": {"type": "string", "nullable": True},
            "reply_available": {"type": "boolean"},
            "submitted_at": {"type": "string", "format": "date-time"},
            "attachments": {"type": "array", "items": {
                "type": "object", "properties": {"name": {"type": "string"},
                                                 "size": {"type": "integer"},
                                                 "content_type": {"type": "string"}}}},
            "timeline": {"type": "array", "items": {
                "type": "object", "required": ["at", "kind", "text"],
                "properties": {"at": {"type": "string", "format": "date-time"},
                               "kind": {"type": "string"},
                               "text": {"type": "string", "description": "Plain Persian."}}}},
            "final": {"type": "boolean"},
        },
    },
}

_RESPONSES: dict[str, Any] = {
    "BadRequest": _json(_ref("Error"), "Invalid input; `fields` says what to fix."),
    "Unauthorized": _json(_ref("Error"), "Missing, unknown or expired bearer token."),
    "NotFound": _json(_ref("Error"), "Not found (also another mobile's letter)."),
    "Conflict": _json(_ref("Error"), "Not possible in the letter's current state."),
    "TooLarge": _json(_ref("Error"), "The request is larger than 60 MB."),
    "RateLimited": {**_json(_ref("Error"), "Too many requests."),
                    "headers": {"Retry-After": {"schema": {"type": "integer"},
                                                "description": "Seconds to wait."}}},
}


def _paths() -> dict[str, Any]:
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
                "properties": {"mobile": {"type": "string", "example": "09121234567"}}}}}},
            "responses": {
                "202": _json({"type": "object", "properties": {"mobile": {
                    "type": "string", "description": "The normalized mobile."}}}, "Code queued"),
                "400": _error("BadRequest"), "429": _error("RateLimited")}}},
        f"{p}/otp/verify": {"post": {
            "summary": "Exchange the code for a bearer token", "operationId": "verifyOtp",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["mobile", "code"],
                "properties": {"mobile": {"type": "string"},
                               "code": {"type": "string", "example": "12345"}}}}}},
            "responses": {
                "200": _json({"type": "object", "properties": {"token": {"type": "string"}}},
                             "A bearer token for this mobile"),
                "400": _error("BadRequest")}}},
        f"{p}/orgs": {"get": {
            "summary": "Organizations", "operationId": "listOrgs",
            "responses": {"200": _json({"type": "object", "properties": {
                "orgs": {"type": "array", "items": _ref("OrgSummary")}}}, "Organizations")}}},
        f"{p}/orgs/{{org}}": {"get": {
            "summary": "An organization with its units and service catalog",
            "operationId": "getOrg", "parameters": [_ORG],
            "responses": {"200": _json(_ref("Org"), "The organization"),
                          "404": _error("NotFound")}}},
        f"{p}/orgs/{{org}}/letters": {"post": {
            "summary": "Hand in a letter", "operationId": "submitLetter",
            "security": _BEARER, "parameters": [_ORG],
            "requestBody": {"required": True, "content": {"multipart/form-data": {
                "schema": _ref("LetterForm"),
                "encoding": {"attachments": {"contentType": "application/octet-stream"}}}}},
            "description": "Every attachment is checked before anything is stored: its type by "
                           "content, Word and Excel files for archive bombs (unpacked size and "
                           "entry count), and the virus scanner. A refused file is named in "
                           "`fields.attachments` (400); when the scanner cannot answer now "
                           "the answer is 503 `try_later` with Retry-After and nothing is "
                           "kept: send the same request again later.",
            "responses": {"201": _json(_ref("Submitted"), "Staged"),
                          "400": _error("BadRequest"), "401": _error("Unauthorized"),
                          "404": _error("NotFound"), "413": _error("TooLarge"),
                          "503": _json(_ref("Error"), "The virus scanner did not answer; "
                                                      "nothing was stored, try again later "
                                                      "(Retry-After)")}}},
        f"{p}/letters/{{tracking_code}}": {"get": {
            "summary": "A letter of the token's mobile", "operationId": "getLetter",
            "security": _BEARER, "parameters": [_CODE],
            "responses": {"200": _json(_ref("Letter"), "The letter"),
                          "401": _error("Unauthorized"), "404": _error("NotFound")}}},
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
                "201": _json({"type": "object", "properties": {
                    "tracking_code": {"type": "string"}, "score": {"type": "integer"}}},
                    "Saved"),
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
                        "content": {"application/octet-stream": {
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
                "200": {"description": "The reply document",
                        "content": {"application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}}}},
                "401": _error("Unauthorized"), "404": _error("NotFound"),
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
                "401": _error("Unauthorized"), "404": _error("NotFound")}}},
    }


_SCHEMAS["WebhookEvent"] = {
    "type": "object",
    "required": ["specversion", "id", "source", "type", "time", "datacontenttype", "data"],
    "properties": {
        "specversion": {"type": "string", "enum": ["1.0"]},
        "id": {"type": "string", "description": "The same on every attempt"},
        "source": {"type": "string", "example": "urn:pishkhan:org:demo"},
        "type": {"type": "string", "example": "ir.pishkhan.letter.registered",
                 "description": "ir.pishkhan.letter.<state> (submitted for a new letter), "
                                "ir.pishkhan.sms.failed"},
        "subject": {"type": "string", "description": "The letter's tracking code"},
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"type": "string", "enum": ["application/json"]},
        "data": {"type": "object", "properties": {
            "tracking_code": {"type": "string", "nullable": True},
            "status": {"type": "string"},
            "previous_status": {"type": "string", "nullable": True},
            "rejection_reason": {"type": "string"},
            "sms_id": {"type": "integer"}, "kind": {"type": "string"},
            "error": {"type": "string", "nullable": True}}},
    },
}


def document(server_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Pishkhan API", "version": "1",
                 "description": "Hand in letters to an organization and follow them. Sign in "
                                "with a one-time SMS code (POST /otp, then /otp/verify) and send "
                                "the token as `Authorization: Bearer <token>`. Errors are "
                                "`{error: {code, message, fields?}}` with a Persian message."},
        "servers": [{"url": server_url}],
        "paths": _paths(),
        # OpenAPI 3.0 has no webhooks object (3.1 does): described as an extension.
        "x-webhooks": {"event": {"post": {
            "summary": "An organization's event, pushed to a subscribed endpoint",
            "description": "CloudEvents 1.0, structured mode (`application/cloudevents+json`). "
                           "The header `X-Pishkhan-Signature: sha256=<hex>` is the HMAC-SHA256 "
                           "of the body keyed with the subscription's secret. Delivery is at "
                           "least once with a stable `id`: keep the ids you have processed. "
                           "Answer 2xx to accept; 4xx refuses the event for good; anything "
                           "else (or no answer) is retried with growing gaps.",
            "requestBody": {"required": True, "content": {"application/cloudevents+json": {
                "schema": _ref("WebhookEvent")}}},
            "responses": {"204": {"description": "Accepted"}}}}},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "The token from /otp/verify."}},
            "schemas": _SCHEMAS,
            "responses": _RESPONSES,
        },
    }
