"""Row-level helpers of sandbox/letters.py: transitions checked and recorded, numbering,
loading letters with their attachments, and column length checks."""

from __future__ import annotations

from typing import Any, Mapping, NoReturn

from sqlalchemy import Connection, Row, Table, func, insert, select, text, update

from sandbox.clock import jalali_year, utcnow
from sandbox.db import (
    SECRETARIAT,
    oa_attachments,
    oa_changes,
    oa_letters,
    oa_units,
)

from sandbox.records import (TRANSITIONS, _NUMBER, ActionNotAllowed, Attachment, Change,
                             InvalidInput, Letter, LetterNotFound, Unit)


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
        _refuse(conn, letter_id, action)
    reference = conn.scalar(select(oa_letters.c.reference).where(oa_letters.c.id == letter_id))
    conn.execute(
        insert(oa_changes).values(
            letter_id=letter_id, reference=reference, kind=rule.to, at=now, **change_values
        )
    )


def _registered(conn: Connection, letter_id: int, number: str | None) -> Letter:
    """Number a pending letter and return it as it now is. The serial is read and used under the
    feed lock, so concurrent registrations get consecutive serials; the unique constraints stay
    as the last word."""
    if conn.dialect.name == "postgresql":
        return _registered_at_once(conn, letter_id, number)
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
    return _load_letter(conn, letter_id)


# Every registration waits for the feed lock, so the time it is held caps the rate of the whole
# system: on PostgreSQL the serial, the move and the feed row are one statement after the lock
# (the files are read before it), instead of six round trips under it.
_REGISTER_AT_ONCE = """
WITH next AS (
    SELECT coalesce(max(number_serial), 0) + 1 AS serial FROM oa_letters
    WHERE number_year = :year
), moved AS (
    UPDATE oa_letters SET status = :status, updated_at = :now, number_date = :now,
        {numbering}
    FROM next
    WHERE oa_letters.id = :id AND oa_letters.status = ANY(:allowed)
    RETURNING oa_letters.*
), fed AS (
    INSERT INTO oa_changes (letter_id, reference, kind, at, number)
    SELECT id, reference, :status, :now, number FROM moved
)
SELECT * FROM moved
"""
_NEXT_NUMBER = ("number_year = :year, number_serial = next.serial, "
                "number = :prefix || next.serial::text")
_GIVEN_NUMBER = "number_year = :year, number_serial = :serial, number = :number"


def _registered_at_once(conn: Connection, letter_id: int, number: str | None) -> Letter:
    rule = TRANSITIONS["register"]
    attachments = _attachments_of(conn, [letter_id]).get(letter_id, ())
    now = utcnow()
    values: dict[str, Any] = {"id": letter_id, "status": rule.to, "now": now,
                              "allowed": sorted(rule.allowed_from)}
    if number is None:
        values["year"] = jalali_year(now)
        values["prefix"] = f"{values['year']}/"
    else:
        values["year"], values["serial"] = _split_number(number)
        values["number"] = number
    statement = _REGISTER_AT_ONCE.format(numbering=_NEXT_NUMBER if number is None else _GIVEN_NUMBER)
    _lock_feed(conn)
    row = conn.execute(text(statement), values).first()
    if row is None:
        _refuse(conn, letter_id, "register")
    return _letter(row, attachments)


def _refuse(conn: Connection, letter_id: int, action: str) -> NoReturn:
    """Why a move of ``letter_id`` matched no row: it does not exist, or its status forbids
    ``action``."""
    status = conn.scalar(select(oa_letters.c.status).where(oa_letters.c.id == letter_id))
    if status is None:
        raise LetterNotFound(f"letter {letter_id} does not exist")
    raise ActionNotAllowed(f"cannot {action} a letter that is {status}")


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
