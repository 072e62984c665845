"""What happens to letters: delivery, lookups, the routing feed and the cartable's actions.

Every rule about a letter's life lives here, once; the SOAP service, the scripting API and the
cartable pages are only ways to reach these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from sandbox.clock import utcnow
from sandbox.db import (
    SECRETARIAT,
    oa_assignments,
    oa_attachments,
    oa_changes,
    oa_letters,
    oa_replies,
    oa_units,
)

from sandbox.followups import add_link
from sandbox.letter_rows import (_attachment, _attachments_of, _change, _check_lengths, _letter, _load_letter, _lock_feed, _next_serial, _registered, _reply_document, _require_letter, _require_unit, _split_number, _transition)  # noqa: F401
# The records and errors are named through this module by the SOAP service, the scripting
# API and the cartable pages.
from sandbox.records import (ActionNotAllowed, Attachment, CHANGES_LIMIT, Change, InvalidInput, LIST_LIMIT, Letter, LetterError, LetterNotFound, NewAttachment, NewLetter, Reply, STATUSES, Transition, Unit, _NUMBER, allowed_actions)  # noqa: F401


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
        if letter.register and (conn.dialect.name != "postgresql"
                                or letter.related_letter_id is not None):
            # Lock before the insert: the insert's foreign-key check share-locks the unit row,
            # and two deliveries upgrading that to the feed lock later would deadlock. Not on
            # PostgreSQL, where the feed lock (FOR NO KEY UPDATE) and the check's (FOR KEY
            # SHARE) do not conflict, so the lock is held only from the registration on;
            # unless the letter links to another: the link's check share-locks that letter,
            # which a registration holding the feed lock may be numbering (FOR UPDATE).
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
        if letter.related_letter_id is not None:
            add_link(conn, letter_id, letter.related_letter_id, letter.relation)
        if letter.register:
            return _registered(conn, letter_id, None)
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
            return _registered(conn, letter_id, number)
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
