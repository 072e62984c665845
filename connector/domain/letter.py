"""The letter's life: states, the one table of allowed transitions, and the value objects that
cross the ports."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from connector.domain.errors import InvalidTransition


class State(str, enum.Enum):
    STAGED = "staged"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    DELIVERING = "delivering"
    DELIVERED = "delivered"
    REGISTERED = "registered"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    CLOSED = "closed"
    REJECTED = "rejected"
    DELIVERY_FAILED = "delivery_failed"
    DEAD = "dead"
    WITHDRAWN = "withdrawn"
    # The organization asked the citizen for a missing document; the promise is paused.
    AWAITING_DOCUMENTS = "awaiting_documents"


S = State
# The only place that says which moves a letter may make. ``staged`` letters of inbox-approval
# organizations go straight to delivery; portal-approval letters wait for an operator first.
TRANSITIONS: dict[State, frozenset[State]] = {
    S.STAGED: frozenset({S.AWAITING_APPROVAL, S.DELIVERING, S.WITHDRAWN}),
    S.AWAITING_APPROVAL: frozenset({S.APPROVED, S.REJECTED, S.WITHDRAWN, S.AWAITING_DOCUMENTS}),
    S.APPROVED: frozenset({S.DELIVERING}),
    S.DELIVERING: frozenset({S.DELIVERED, S.REGISTERED, S.DELIVERY_FAILED, S.DEAD}),
    S.DELIVERY_FAILED: frozenset({S.DELIVERING, S.DEAD}),
    S.DEAD: frozenset({S.DELIVERING}),
    # Routing changes seen by the poller. A letter may be referred or answered without a
    # registration being reported first (some systems number and refer in one step).
    S.DELIVERED: frozenset({S.REGISTERED, S.REJECTED, S.IN_PROGRESS, S.ANSWERED, S.CLOSED,
                            S.AWAITING_DOCUMENTS}),
    S.REGISTERED: frozenset({S.IN_PROGRESS, S.ANSWERED, S.CLOSED, S.AWAITING_DOCUMENTS}),
    S.IN_PROGRESS: frozenset({S.IN_PROGRESS, S.ANSWERED, S.CLOSED, S.AWAITING_DOCUMENTS}),
    # Back where it was once the files are in (or on by the system's own later decision).
    S.AWAITING_DOCUMENTS: frozenset({S.AWAITING_APPROVAL, S.DELIVERED, S.REGISTERED,
                                     S.IN_PROGRESS, S.ANSWERED, S.CLOSED, S.REJECTED}),
    S.ANSWERED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
    S.REJECTED: frozenset(),
    S.WITHDRAWN: frozenset(),
}

# States in which the letter sits in our own queue and the citizen may still take it back.
WITHDRAWABLE = frozenset({S.STAGED, S.AWAITING_APPROVAL})
# States in which the correspondence system holds the letter and may report changes.
FOLLOWED = frozenset({S.DELIVERED, S.REGISTERED, S.IN_PROGRESS, S.ANSWERED,
                      S.AWAITING_DOCUMENTS})
FINAL = frozenset({S.CLOSED, S.REJECTED, S.WITHDRAWN})


def can_transition(current: State | str, target: State | str) -> bool:
    return State(target) in TRANSITIONS[State(current)]


def ensure_transition(current: State | str, target: State | str) -> State:
    if not can_transition(current, target):
        raise InvalidTransition(State(current).value, State(target).value)
    return State(target)


class ApplicantType(str, enum.Enum):
    NATURAL = "natural"
    LEGAL = "legal"


class ChangeKind(str, enum.Enum):
    """Routing changes a correspondence system reports, in the order they normally happen."""

    REGISTERED = "registered"
    REJECTED = "rejected"
    REFERRED = "referred"
    ANSWERED = "answered"
    CLOSED = "closed"
    # The system (or its controller) asks the citizen for a document; ``instruction`` = the note.
    DOCUMENTS_REQUESTED = "documents_requested"


CHANGE_TARGET: dict[ChangeKind, State] = {
    ChangeKind.REGISTERED: S.REGISTERED,
    ChangeKind.REJECTED: S.REJECTED,
    ChangeKind.REFERRED: S.IN_PROGRESS,
    ChangeKind.ANSWERED: S.ANSWERED,
    ChangeKind.CLOSED: S.CLOSED,
    ChangeKind.DOCUMENTS_REQUESTED: S.AWAITING_DOCUMENTS,
}


@dataclass(frozen=True)
class OutgoingAttachment:
    name: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class OutgoingLetter:
    """What an adapter needs to deliver a letter; ``tracking_code`` is the external reference."""

    tracking_code: str
    subject: str
    body: str
    sender_name: str
    sender_national_code: str
    sender_mobile: str
    applicant_type: ApplicantType
    unit_code: str  # the correspondence system's code for the receiving unit
    service_title: str = ""
    submitted_at: datetime | None = None
    attachments: tuple[OutgoingAttachment, ...] = ()
    service_code: str = ""  # the organization's code of the service, for profiles' value maps
    # A letter that follows an earlier one (an objection to its rejection, documents it was asked
    # for): ``relation`` is ``objection`` or ``documents``; the earlier letter's id in the
    # system, its number and its tracking code, so profiles can link the two there.
    relation: str = ""
    related_letter_id: str = ""
    related_number: str = ""
    related_code: str = ""


@dataclass(frozen=True)
class DeliveryReceipt:
    external_id: str
    status: str = ""
    letter_number: str | None = None
    letter_date: datetime | None = None
    # What a status look-up adds for systems without a routing feed (rejected: why; referred:
    # to which unit and person).
    reason: str | None = None
    unit: str | None = None
    person: str | None = None


@dataclass(frozen=True)
class RoutingChange:
    """One change reported by a correspondence system. ``source_id`` is deterministic, so the
    same change seen twice is recorded once."""

    source_id: str
    kind: ChangeKind
    at: datetime
    external_id: str = ""
    reference: str = ""  # our tracking code, where the system keeps it
    number: str | None = None
    reason: str | None = None
    unit: str | None = None
    person: str | None = None
    instruction: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Document:
    file_name: str
    content_type: str
    content: bytes
    text: str = ""


@dataclass(frozen=True)
class Capabilities:
    inbox_approval: bool = True
    changes_feed: bool = True
    reply_download: bool = False
    # Delivery takes several calls and resumes from stored progress (deliver_resuming).
    resumable_delivery: bool = False
    # Files can be added to a letter already in the system (add_attachments).
    add_attachments: bool = False


@dataclass
class PollResult:
    changes: list[RoutingChange] = field(default_factory=list)
    cursor: str = ""
