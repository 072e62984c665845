"""The one registry of webhook event types: each type's name, what it reports, what its
``subject`` is and the JSON Schema of its ``data``. Subscriptions are checked against it (the
admin page and ``pishkhan webhooks add --types``), the OpenAPI document's ``webhooks`` section
is written from it (portal/openapi_webhooks.py), and the tests validate every event a receiver
gets against that document — so an event cannot carry a field the document does not name.

Names follow one pattern: ``ir.pishkhan.<thing>.<what happened>``, lower case with
underscores; a letter's state changes are named after the state it reached.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from connector.domain.errors import Message, msg
from connector.domain.letter import State

PREFIX = "ir.pishkhan."
ALL = "*"

_STR: dict[str, Any] = {"type": "string"}
_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "type": [schema["type"], "null"]}


def _obj(properties: dict[str, Any], optional: Iterable[str] = ()) -> dict[str, Any]:
    """Exactly these fields; all present unless named ``optional``."""
    return {"type": "object", "properties": properties, "additionalProperties": False,
            "required": [k for k in properties if k not in set(optional)]}


_FILES = {"type": "array", "description": "What was sent, never the contents.", "items": _obj({
    "name": _STR, "content_type": _STR, "size": {"type": "integer", "description": "Bytes"},
    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}})}
_CODE = {"type": "string", "description": "The letter's 12-digit tracking code"}
_NUMBER = {"type": ["string", "null"],
           "description": "The number the organization's system gave the letter, once known"}

LETTER_STATE = _obj({
    "tracking_code": _CODE,
    "status": {"type": "string", "description": "The state the letter reached"},
    "previous_status": {"type": ["string", "null"], "description": "Null for a new letter"},
    "rejection_reason": _STR,
}, optional=("rejection_reason",))
SMS_FAILED = _obj({
    "sms_id": {"type": "integer"}, "kind": {"type": "string", "description": "e.g. receipt"},
    "status": {"type": "string", "enum": ["permanent-failure", "technical-failure",
                                          "temporary-failure"]},
    "tracking_code": {"type": ["string", "null"]}, "error": {"type": ["string", "null"]}})
DOCUMENTS_REQUESTED = _obj({
    "tracking_code": _CODE, "letter_number": _NUMBER,
    "note": {"type": "string", "description": "What the organization asked the citizen for"},
    "requested_in": {"type": "string", "enum": ["console", "system"],
                     "description": "Pishkhan's console, or the organization's own system"},
    "resume_status": {"type": "string",
                      "description": "The state the letter returns to once the files arrive"}})
DOCUMENTS_ADDED = _obj({
    "tracking_code": _CODE, "letter_number": _NUMBER, "files": _FILES,
    "added_to": {"type": "string", "enum": ["letter", "system_letter", "follow_up"],
                 "description": "`letter`: joined the letter before delivery; `system_letter`: "
                                "sent to the organization's system as attachments of the "
                                "same letter; `follow_up`: sent as a new linked letter"},
    "follow_up_tracking_code": {"type": ["string", "null"]},
    "status": {"type": "string", "description": "The letter's state now"}})
OBJECTION_FILED = _obj({
    "tracking_code": {**_CODE, "description": "The rejected letter's tracking code"},
    "letter_number": _NUMBER,
    "objection_tracking_code": {"type": "string",
                                "description": "The objection's own letter (a new letter "
                                               "linked to the first)"},
    "unit_code": {"type": "string", "description": "The unit the objection goes to"},
    "files": _FILES, "objection_status": _STR})

_VISITOR = _obj({
    "name": _STR, "kind": {"type": "string", "enum": ["iranian", "foreign"]},
    "national_code": {"type": "string", "description": "Masked: only the last four digits"},
    "passport": {"type": "string", "description": "Masked: only the last four characters"},
    "nationality": _STR})
VISIT = _obj({
    "visit_id": {"type": "integer", "description": "Also the event's subject (as text)"},
    "state": {"type": "string",
              "enum": ["planned", "served", "inside", "left", "refused", "expired"]},
    "category": {"type": "integer", "enum": [1, 2, 3, 4],
                 "description": "1 information, 2 documents handed in, 3 entry to meet "
                                "someone, 4 service at the desk"},
    "host": _STR, "unit_code": _STR, "window_start": _TIME, "window_end": _TIME,
    "visitor": _VISITOR, "admitted_at": _nullable(_TIME), "entered_at": _nullable(_TIME),
    "left_at": _nullable(_TIME), "gate": {"type": ["string", "null"],
                                          "description": "The gate of an entry or exit"},
    "refusal_reason": {"type": ["string", "null"]}})
GATE_DENIED = _obj({
    "gate": _STR, "direction": {"type": "string", "enum": ["in", "out"]},
    "reason": {"type": "string", "enum": ["unknown", "early", "expired", "used", "refused",
                                          "passback", "not_inside", "no_pass", "blacklisted"],
               "description": "Why: `unknown` is a code that is no pass of this organization"},
    "visit_id": {"type": ["integer", "null"]},
    "visitor": {"oneOf": [{"type": "null"}, _VISITOR]}})


SHAPES: dict[str, dict[str, Any]] = {
    "LetterState": LETTER_STATE,
    "DocumentsRequested": DOCUMENTS_REQUESTED,
    "DocumentsAdded": DOCUMENTS_ADDED,
    "ObjectionFiled": OBJECTION_FILED,
    "SmsFailed": SMS_FAILED,
    "Visit": VISIT,
    "GateDenied": GATE_DENIED,
}


@dataclass(frozen=True)
class EventType:
    name: str
    about: str  # what it reports (the OpenAPI document and docs/webhooks.md)
    subject: str  # what the CloudEvents subject is
    shape: str  # the name of its data's schema (types with the same data share one)

    @property
    def data(self) -> dict[str, Any]:
        """The JSON Schema of the event's ``data``."""
        return SHAPES[self.shape]


_LETTER_SUBJECT = "The letter's tracking code"
_VISIT_SUBJECT = "The visit's id (a number; not its pass code)"


def _letter_states() -> list[EventType]:
    first = EventType(f"{PREFIX}letter.submitted", "A letter was handed in.", _LETTER_SUBJECT,
                      "LetterState")
    return [first] + [
        EventType(f"{PREFIX}letter.{s.value}", f"A letter reached the state `{s.value}`.",
                  _LETTER_SUBJECT, "LetterState")
        for s in State if s is not State.STAGED]


REGISTRY: dict[str, EventType] = {t.name: t for t in [
    *_letter_states(),
    EventType(f"{PREFIX}letter.documents_requested",
              "The organization asked the citizen for a missing document (in the console or "
              "its own system); the letter waits and its promised date is paused.",
              _LETTER_SUBJECT, "DocumentsRequested"),
    EventType(f"{PREFIX}letter.documents_added",
              "The citizen added the documents asked for.", _LETTER_SUBJECT, "DocumentsAdded"),
    EventType(f"{PREFIX}letter.objection_filed",
              "The citizen objected to the letter's rejection; the objection is a new letter "
              "linked to it.", "The rejected letter's tracking code", "ObjectionFiled"),
    EventType(f"{PREFIX}sms.failed", "An SMS to a citizen failed for good.",
              "The letter's tracking code, when the SMS was about one", "SmsFailed"),
    EventType(f"{PREFIX}visit.planned", "A host or the desk registered a visit in advance.",
              _VISIT_SUBJECT, "Visit"),
    EventType(f"{PREFIX}visit.admitted",
              "The desk admitted a visitor (identity checked); a visitor who came to see "
              "someone enters through a gate next.", _VISIT_SUBJECT, "Visit"),
    EventType(f"{PREFIX}visit.entered", "A visitor entered through a gate with their pass.",
              _VISIT_SUBJECT, "Visit"),
    EventType(f"{PREFIX}visit.left", "A visitor left through a gate.", _VISIT_SUBJECT, "Visit"),
    EventType(f"{PREFIX}visit.refused", "The desk refused a planned visit.", _VISIT_SUBJECT,
              "Visit"),
    EventType(f"{PREFIX}gate.denied",
              "A gate denied a scan (an unknown, early, expired or used pass, a blacklisted "
              "visitor ...).", "The visit's id when the pass is known; none otherwise",
              "GateDenied"),
]}
TYPES: tuple[str, ...] = tuple(REGISTRY)


def unknown(types: Iterable[str]) -> Message | None:
    """The message refusing types that are not in the registry (None when all are known),
    with the nearest known name of each typing mistake."""
    wrong = [t for t in types if t != ALL and t not in REGISTRY]
    if not wrong:
        return None
    # Compared without the common prefix, which would make any two names look alike.
    short = {t.removeprefix(PREFIX): t for t in TYPES}
    near = [short[m[0]] for t in wrong
            for m in [difflib.get_close_matches(t.removeprefix(PREFIX), short, 1, 0.85)] if m]
    known = ", ".join(TYPES)
    if near:
        return msg("webhook.types_near", unknown=", ".join(wrong), near=", ".join(near),
                   known=known)
    return msg("webhook.types", unknown=", ".join(wrong), known=known)
