"""What the sandbox's letters are made of: their states and allowed actions, the records its
functions return, and the errors they raise (sandbox/letters.py holds the functions)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence



STATUSES = ("pending", "registered", "referred", "answered", "closed", "rejected")


@dataclass(frozen=True)
class Transition:
    allowed_from: frozenset[str]
    to: str


# The only place that says which action is allowed in which status. The change kind an action
# writes to the feed is the status it leads to.
TRANSITIONS: dict[str, Transition] = {
    "register": Transition(frozenset({"pending"}), "registered"),
    "reject": Transition(frozenset({"pending"}), "rejected"),
    "refer": Transition(frozenset({"registered", "referred"}), "referred"),
    "answer": Transition(frozenset({"registered", "referred"}), "answered"),
    "close": Transition(frozenset({"answered"}), "closed"),
}

LIST_LIMIT = 200
CHANGES_LIMIT = 1000
_NUMBER = re.compile(r"^(\d{4})/(\d{1,9})$")


class LetterError(Exception):
    """A request about letters that cannot be honoured; the message is fit to show a caller."""


class LetterNotFound(LetterError):
    pass


class ActionNotAllowed(LetterError):
    pass


class InvalidInput(LetterError):
    pass


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    person_name: str


@dataclass(frozen=True)
class Attachment:
    id: int
    name: str
    content_type: str
    size: int


@dataclass(frozen=True)
class NewAttachment:
    name: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class NewLetter:
    reference: str
    subject: str
    body: str = ""
    sender_name: str = ""
    sender_national_code: str = ""
    sender_mobile: str = ""
    unit_code: str = ""
    attachments: Sequence[NewAttachment] = ()
    # Register at once, for organizations whose controllers approve in Pishkhan's console.
    register: bool = False
    # An earlier letter this one follows (an objection, documents asked for): linked on delivery.
    related_letter_id: int | None = None
    relation: str = ""


@dataclass(frozen=True)
class Letter:
    id: int
    reference: str
    subject: str
    body: str
    sender_name: str
    sender_national_code: str
    sender_mobile: str
    unit_code: str
    person_name: str | None
    status: str
    number: str | None
    number_date: datetime | None
    reject_reason: str | None
    created_at: datetime
    updated_at: datetime
    attachments: tuple[Attachment, ...] = field(default=())

    @property
    def allowed_actions(self) -> tuple[str, ...]:
        return allowed_actions(self.status)


@dataclass(frozen=True)
class Change:
    id: int
    letter_id: int
    reference: str
    kind: str
    at: datetime
    number: str | None
    reason: str | None
    unit: str | None
    person: str | None
    instruction: str | None
    text: str | None


@dataclass(frozen=True)
class Reply:
    letter_id: int
    text: str
    file_name: str
    content_type: str
    content: bytes
    created_at: datetime


def allowed_actions(status: str) -> tuple[str, ...]:
    return tuple(name for name, t in TRANSITIONS.items() if status in t.allowed_from)
