"""What happens to letters: delivery, lookups, the routing feed and the cartable's actions.

Every rule about a letter's life lives here, once; the SOAP service, the scripting API and the
cartable pages are only ways to reach these functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import Connection, Engine, Row, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from sandbox.clock import jalali_year, utcnow
from sandbox.db import (
    SECRETARIAT,
    oa_assignments,
    oa_attachments,
    oa_changes,
    oa_letters,
    oa_replies,
    oa_units,
)

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


# ---------------------------------------------------------------------------------------------
# Reading


def list_units(engine: Engine) -> list[Unit]:
    with engine.connect() as conn:
        rows = conn.execute(select(oa_units).order_by(oa_units.c.code))
        return [Unit(r.code, r.name, r.person_name) for r in rows]


def get_letter(engine: Engine, letter_id: int) -> Letter:
    with engine.connect() as conn:
        return _load_letter(conn, letter_id)


def find_letter(engine: Engine, reference: str) -> Letter | None:
    """The oldest letter with this reference: what a vendor's lookup by reference answers."""
    with engine.connect() as conn:
        letter_id = conn.scalar(
            select(oa_letters.c.id)
            .where(oa_letters.c.reference == reference)
            .order_by(oa_letters.c.id)
            .limit(1)
        )
        return None if letter_id is None else _load_letter(conn, letter_id)


def list_letters(
    engine: Engine, reference: str | None = None, limit: int = LIST_LIMIT
) -> list[Letter]:
    """Letters newest first, optionally only those with a reference."""
    query = select(oa_letters).order_by(oa_letters.c.id.desc()).limit(min(limit, LIST_LIMIT))
    if reference is not None:
        query = query.where(oa_letters.c.reference == reference)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        attachments = _attachments_of(conn, [r.id for r in rows])
    return [_letter(r, attachments.get(r.id, ())) for r in rows]


def get_attachment(engine: Engine, letter_id: int, attachment_id: int) -> tuple[Attachment, bytes]:
    with engine.connect() as conn:
        row = conn.execute(
            select(oa_attachments).where(
                oa_attachments.c.id == attachment_id, oa_attachments.c.letter_id == letter_id
            )
        ).first()
    if row is None:
        raise LetterNotFound(f"letter {letter_id} has no attachment {attachment_id}")
    return _attachment(row), bytes(row.content)


def get_reply(engine: Engine, letter_id: int) -> Reply | None:
    """The latest reply of a letter; raises LetterNotFound for an unknown letter."""
    with engine.connect() as conn:
        _require_letter(conn, letter_id)
        row = conn.execute(
            select(oa_replies)
            .where(oa_replies.c.letter_id == letter_id)
            .order_by(oa_replies.c.id.desc())
            .limit(1)
        ).first()
    if row is None:
        return None
    return Reply(
        row.letter_id, row.text, row.file_name, row.content_type, bytes(row.content), row.created_at
    )


def changes_after(engine: Engine, cursor: int, limit: int) -> list[Change]:
    """The routing feed: changes with an id above `cursor`, ascending, at most `limit`."""
    if limit < 1:
        raise InvalidInput("max must be at least 1")
    query = (
        select(oa_changes)
        .where(oa_changes.c.id > cursor)
        .order_by(oa_changes.c.id)
        .limit(min(limit, CHANGES_LIMIT))
    )
    with engine.connect() as conn:
        return [_change(row) for row in conn.execute(query)]


def history(engine: Engine, letter_id: int) -> list[Change]:
    """Everything done to one letter, oldest first."""
    query = select(oa_changes).where(oa_changes.c.letter_id == letter_id).order_by(oa_changes.c.id)
    with engine.connect() as conn:
        return [_change(row) for row in conn.execute(query)]


# ---------------------------------------------------------------------------------------------
# Writing


def deliver(engine: Engine, letter: NewLetter) -> Letter:
    """Put an incoming letter, pending, into a unit's cartable.

    Deliberately not idempotent: the same reference twice makes two letters, as real systems do.
    """
    if not letter.reference.strip():
        raise InvalidInput("reference is required")
    if not letter.subject.strip():
        raise InvalidInput("subject is required")
    now = utcnow()
    values = {
        "reference": letter.reference,
        "subject": letter.subject,
        "body": letter.body,
        "sender_name": letter.sender_name,
        "sender_national_code": letter.sender_national_code,
        "sender_mobile": letter.sender_mobile,
        "unit_code": letter.unit_code or SECRETARIAT,
        "status": "pending",
        "created_at": now,
        "updated_at": now,
    }
    _check_lengths(oa_letters, values)
    for item in letter.attachments:
        _check_lengths(oa_attachments, {"name": item.name, "content_type": item.content_type})
        if not item.name.strip():
            raise InvalidInput("an attachment has no name")
    with engine.begin() as conn:
        if letter.register:
            # Lock before the insert: the insert's foreign-key check share-locks the unit row,
            # and two deliveries upgrading that to the feed lock later would deadlock.
            _lock_feed(conn)
        unit = _require_unit(conn, values["unit_code"])
        values["person_name"] = unit.person_name
        letter_id = conn.execute(insert(oa_letters).values(values)).inserted_primary_key[0]
        if letter.attachments:
            conn.execute(
                insert(oa_attachments),
                [
                    {
                        "letter_id": letter_id,
                        "name": item.name,
                        "content_type": item.content_type or "application/octet-stream",
                        "size": len(item.content),
                        "content": item.content,
                    }
                    for item in letter.attachments
                ],
            )
        if letter.register:
            _register(conn, letter_id, None)
        return _load_letter(conn, letter_id)


def add_attachment(engine: Engine, letter_id: int, item: NewAttachment) -> Attachment:
    """Attach one more file to a letter (the legacy dialect sends them one call each)."""
    if not item.name.strip():
        raise InvalidInput("an attachment has no name")
    _check_lengths(oa_attachments, {"name": item.name, "content_type": item.content_type})
    with engine.begin() as conn:
        _require_letter(conn, letter_id)
        values = {"letter_id": letter_id, "name": item.name,
                  "content_type": item.content_type or "application/octet-stream",
                  "size": len(item.content), "content": item.content}
        attachment_id = conn.execute(insert(oa_attachments).values(values)).inserted_primary_key[0]
    return Attachment(attachment_id, item.name, values["content_type"], len(item.content))


@dataclass(frozen=True)
class Assignment:
    id: int
    letter_id: int
    unit_code: str
    person_name: str
    instruction: str | None
    created_at: datetime


def assign(engine: Engine, letter_id: int, unit: str, instruction: str | None = None) -> Assignment:
    """Put a pending letter in a unit's cartable (the head of the unit handles it). Unlike a
    referral this is not a routing change: the letter has not been registered yet."""
    with engine.begin() as conn:
        target = _require_unit(conn, unit.strip() or SECRETARIAT)
        status = conn.scalar(select(oa_letters.c.status).where(oa_letters.c.id == letter_id))
        if status is None:
            raise LetterNotFound(f"letter {letter_id} does not exist")
        if status != "pending":
            raise ActionNotAllowed(f"cannot assign a letter that is {status}; refer it instead")
        now = utcnow()
        conn.execute(update(oa_letters).where(oa_letters.c.id == letter_id).values(
            unit_code=target.code, person_name=target.person_name, updated_at=now))
        values = {"letter_id": letter_id, "unit_code": target.code,
                  "person_name": target.person_name,
                  "instruction": (instruction or "").strip() or None, "created_at": now}
        assignment_id = conn.execute(insert(oa_assignments).values(values)).inserted_primary_key[0]
    return Assignment(assignment_id, **values)


def assignments(engine: Engine, letter_id: int) -> list[Assignment]:
    with engine.connect() as conn:
        rows = conn.execute(select(oa_assignments).where(oa_assignments.c.letter_id == letter_id)
                            .order_by(oa_assignments.c.id))
        return [Assignment(r.id, r.letter_id, r.unit_code, r.person_name, r.instruction,
                           r.created_at) for r in rows]


def find_letters(engine: Engine, reference: str | None = None, letter_id: int | None = None,
                 limit: int = LIST_LIMIT) -> list[Letter]:
    """Letters by reference or id, oldest first (the legacy dialect's filtered look-up)."""
    query = select(oa_letters.c.id).order_by(oa_letters.c.id).limit(min(limit, LIST_LIMIT))
    if reference is not None:
        query = query.where(oa_letters.c.reference == reference)
    if letter_id is not None:
        query = query.where(oa_letters.c.id == letter_id)
    with engine.connect() as conn:
        return [_load_letter(conn, i) for i in conn.scalars(query).all()]


def changes_between(engine: Engine, start: datetime, end: datetime,
                    limit: int = CHANGES_LIMIT) -> list[Change]:
    """Routing changes made in [start, end), in id order: the feed read by date."""
    query = (select(oa_changes).where(oa_changes.c.at >= start, oa_changes.c.at < end)
             .order_by(oa_changes.c.id).limit(min(limit, CHANGES_LIMIT)))
    with engine.connect() as conn:
        return [_change(row) for row in conn.execute(query)]


def register(engine: Engine, letter_id: int, number: str | None = None) -> Letter:
    """Give a pending letter its number: `number` if given, else `{Jalali year}/{next serial}`."""
    if number is not None:
        number = number.strip()
        if not number:
            raise InvalidInput("number is empty")
        _check_lengths(oa_letters, {"number": number})
    try:
        with engine.begin() as conn:
            _register(conn, letter_id, number)
            return _load_letter(conn, letter_id)
    except IntegrityError:
        # Serials are allocated under the feed lock, so only a given number can collide.
        raise ActionNotAllowed(f"number {number} is already used") from None


def reject(engine: Engine, letter_id: int, reason: str) -> Letter:
    if not reason.strip():
        raise InvalidInput("a reason is required to reject a letter")
    with engine.begin() as conn:
        _transition(conn, letter_id, "reject", {"reject_reason": reason}, {"reason": reason})
        return _load_letter(conn, letter_id)


def refer(
    engine: Engine,
    letter_id: int,
    unit: str,
    person: str | None = None,
    instruction: str | None = None,
) -> Letter:
    """Send a letter to another unit's cartable; without a person it goes to the unit's head."""
    with engine.begin() as conn:
        target = _require_unit(conn, unit)
        person = (person or "").strip() or target.person_name
        instruction = (instruction or "").strip() or None
        _check_lengths(oa_changes, {"person": person})
        _transition(
            conn,
            letter_id,
            "refer",
            {"unit_code": target.code, "person_name": person},
            {"unit": target.code, "person": person, "instruction": instruction},
        )
        return _load_letter(conn, letter_id)


def answer(engine: Engine, letter_id: int, text: str) -> Letter:
    """Answer a letter: keeps the text and a small text file of it, as the reply document."""
    if not text.strip():
        raise InvalidInput("the answer text is required")
    with engine.begin() as conn:
        letter = _load_letter(conn, letter_id)
        _transition(conn, letter_id, "answer", {}, {"text": text})
        conn.execute(
            insert(oa_replies).values(
                letter_id=letter_id,
                text=text,
                file_name=f"reply-{letter_id}.txt",
                content_type="text/plain; charset=utf-8",
                content=_reply_document(letter, text),
                created_at=utcnow(),
            )
        )
        return _load_letter(conn, letter_id)


def close(engine: Engine, letter_id: int) -> Letter:
    with engine.begin() as conn:
        _transition(conn, letter_id, "close", {}, {})
        return _load_letter(conn, letter_id)


# ---------------------------------------------------------------------------------------------
# Helpers


def _transition(
    conn: Connection,
    letter_id: int,
    action: str,
    letter_values: Mapping[str, Any],
    change_values: Mapping[str, Any],
) -> None:
    """Move a letter along TRANSITIONS and append the matching row to the routing feed."""
    rule = TRANSITIONS[action]
    _lock_feed(conn)
    now = utcnow()
    # The status condition in the UPDATE itself makes the check and the move one atomic step,
    # even where SELECT ... FOR UPDATE means nothing.
    result = conn.execute(
        update(oa_letters)
        .where(oa_letters.c.id == letter_id, oa_letters.c.status.in_(rule.allowed_from))
        .values(status=rule.to, updated_at=now, **letter_values)
    )
    if result.rowcount != 1:
        status = conn.scalar(select(oa_letters.c.status).where(oa_letters.c.id == letter_id))
        if status is None:
            raise LetterNotFound(f"letter {letter_id} does not exist")
        raise ActionNotAllowed(f"cannot {action} a letter that is {status}")
    reference = conn.scalar(select(oa_letters.c.reference).where(oa_letters.c.id == letter_id))
    conn.execute(
        insert(oa_changes).values(
            letter_id=letter_id, reference=reference, kind=rule.to, at=now, **change_values
        )
    )


def _register(conn: Connection, letter_id: int, number: str | None) -> None:
    """Number a pending letter. The serial is read and used under the feed lock, so concurrent
    registrations get consecutive serials; the unique constraints stay as the last word."""
    _lock_feed(conn)
    now = utcnow()
    year: int | None
    serial: int | None
    if number is None:
        year = jalali_year(now)
        serial = _next_serial(conn, year)
        number = f"{year}/{serial}"
    else:
        year, serial = _split_number(number)
    _transition(
        conn,
        letter_id,
        "register",
        {"number": number, "number_year": year, "number_serial": serial, "number_date": now},
        {"number": number},
    )


def _lock_feed(conn: Connection) -> None:
    """Serialize the transactions that append to the routing feed, until they commit.

    Change ids are taken from the sequence at insert, not at commit: two concurrent actions could
    commit ids 11 and then 10, and a reader between the two commits would move its cursor past
    10 for good. One row lock held to commit makes ids commit in order (and serials be allocated
    one at a time). The secretariat's unit row serves as that lock because it always exists.
    SQLite ignores FOR UPDATE and needs nothing: its transactions are serialized (see db.py).
    """
    # key_share: on PostgreSQL (FOR NO KEY UPDATE) deliveries' foreign-key checks need not wait.
    conn.execute(
        select(oa_units.c.code)
        .where(oa_units.c.code == SECRETARIAT)
        .with_for_update(key_share=True)
    )


def _next_serial(conn: Connection, year: int) -> int:
    current = conn.scalar(
        select(func.max(oa_letters.c.number_serial)).where(oa_letters.c.number_year == year)
    )
    return (current or 0) + 1


def _split_number(number: str) -> tuple[int | None, int | None]:
    """A given number in the sandbox's own form also counts toward its year's serials."""
    match = _NUMBER.match(number)
    if match is None:
        return None, None
    return int(match.group(1)), int(match.group(2))


def _reply_document(letter: Letter, text: str) -> bytes:
    title = f"پاسخ نامه {letter.number or letter.reference}"
    return f"{title}\nموضوع: {letter.subject}\n\n{text}\n".encode("utf-8")


def _require_unit(conn: Connection, code: str) -> Unit:
    row = conn.execute(select(oa_units).where(oa_units.c.code == code)).first()
    if row is None:
        raise InvalidInput(f"unknown unit {code!r}")
    return Unit(row.code, row.name, row.person_name)


def _require_letter(conn: Connection, letter_id: int) -> None:
    if conn.scalar(select(oa_letters.c.id).where(oa_letters.c.id == letter_id)) is None:
        raise LetterNotFound(f"letter {letter_id} does not exist")


def _load_letter(conn: Connection, letter_id: int) -> Letter:
    row = conn.execute(select(oa_letters).where(oa_letters.c.id == letter_id)).first()
    if row is None:
        raise LetterNotFound(f"letter {letter_id} does not exist")
    return _letter(row, _attachments_of(conn, [letter_id]).get(letter_id, ()))


def _attachments_of(conn: Connection, letter_ids: list[int]) -> dict[int, tuple[Attachment, ...]]:
    if not letter_ids:
        return {}
    rows = conn.execute(
        select(
            oa_attachments.c.id,
            oa_attachments.c.letter_id,
            oa_attachments.c.name,
            oa_attachments.c.content_type,
            oa_attachments.c.size,
        )
        .where(oa_attachments.c.letter_id.in_(letter_ids))
        .order_by(oa_attachments.c.id)
    )
    found: dict[int, list[Attachment]] = {}
    for row in rows:
        found.setdefault(row.letter_id, []).append(_attachment(row))
    return {letter_id: tuple(items) for letter_id, items in found.items()}


def _change(row: Row[Any]) -> Change:
    return Change(
        row.id, row.letter_id, row.reference, row.kind, row.at, row.number, row.reason, row.unit,
        row.person, row.instruction, row.text,
    )


def _attachment(row: Row[Any]) -> Attachment:
    return Attachment(row.id, row.name, row.content_type, row.size)


def _letter(row: Row[Any], attachments: tuple[Attachment, ...]) -> Letter:
    return Letter(
        id=row.id,
        reference=row.reference,
        subject=row.subject,
        body=row.body,
        sender_name=row.sender_name,
        sender_national_code=row.sender_national_code,
        sender_mobile=row.sender_mobile,
        unit_code=row.unit_code,
        person_name=row.person_name,
        status=row.status,
        number=row.number,
        number_date=row.number_date,
        reject_reason=row.reject_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        attachments=attachments,
    )


def _check_lengths(table: Table, values: Mapping[str, Any]) -> None:
    """Refuse over-long text here, since each database would fail (or truncate) differently."""
    for name, value in values.items():
        limit = getattr(table.c[name].type, "length", None)
        if isinstance(value, str) and limit is not None and len(value) > limit:
            raise InvalidInput(f"{name} is longer than {limit} characters")
