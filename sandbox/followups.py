"""What follows a letter in the sandbox beyond its routing (records.py): a controller asking the
sender for a missing document, and links between letters (a follow-up carrying those documents,
an objection to a rejection), as real systems keep them in a related-letters table.

- **A request for documents** leaves the letter where it is (its status and cartable do not
  change: the controller waits for the sender) and appends a change of kind ``incomplete`` to
  the routing feed, with the note as its instruction, so every dialect's feed reports it.
- **A link** ties a letter to an earlier one with a kind; it is kept once per (letter, related
  letter, kind), so a repeated call after an unanswered one adds nothing. The related letter's
  number and reference are copied when the link is made, as a clerk would write them down.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, or_, select, update

from sandbox.clock import utcnow
from sandbox.db import oa_changes, oa_letters, oa_links
from sandbox.letter_rows import _check_lengths, _lock_feed
from sandbox.records import ActionNotAllowed, Change, InvalidInput, LetterNotFound

# The change kind of a request for documents (oa_changes.kind holds at most 16 characters).
REQUEST_KIND = "incomplete"
REQUESTABLE = frozenset({"pending", "registered", "referred"})
LINK_KINDS = ("follow_up", "documents", "objection", "reply")


@dataclass(frozen=True)
class Link:
    id: int
    letter_id: int
    related_letter_id: int
    related_number: str | None
    related_reference: str
    kind: str
    created_at: datetime


def request_documents(engine: Engine, letter_id: int, note: str) -> Change:
    """Ask the sender for a missing document; the note says which."""
    note = note.strip()
    if not note:
        raise InvalidInput("a note saying which document is missing is required")
    _check_lengths(oa_changes, {"kind": REQUEST_KIND})
    with engine.begin() as conn:
        _lock_feed(conn)
        row = conn.execute(select(oa_letters.c.status, oa_letters.c.reference,
                                  oa_letters.c.number).where(oa_letters.c.id == letter_id)
                           ).first()
        if row is None:
            raise LetterNotFound(f"letter {letter_id} does not exist")
        if row.status not in REQUESTABLE:
            raise ActionNotAllowed(f"cannot ask for documents for a letter that is {row.status}")
        now = utcnow()
        conn.execute(update(oa_letters).where(oa_letters.c.id == letter_id).values(updated_at=now))
        values = {"letter_id": letter_id, "reference": row.reference, "kind": REQUEST_KIND,
                  "at": now, "number": row.number, "instruction": note, "text": note}
        change_id = conn.execute(insert(oa_changes).values(values)).inserted_primary_key[0]
    return Change(change_id, letter_id, row.reference, REQUEST_KIND, now, row.number, None, None,
                  None, note, note)


def add_link(conn: Connection, letter_id: int, related_letter_id: int, kind: str) -> Link:
    """Link ``letter_id`` to an earlier letter, inside the caller's transaction."""
    kind = kind.strip() or "follow_up"
    if kind not in LINK_KINDS:
        raise InvalidInput(f"the link kind must be one of {', '.join(LINK_KINDS)}")
    if letter_id == related_letter_id:
        raise InvalidInput("a letter cannot be linked to itself")
    if conn.scalar(select(oa_letters.c.id).where(oa_letters.c.id == letter_id)) is None:
        raise LetterNotFound(f"letter {letter_id} does not exist")
    related = conn.execute(select(oa_letters.c.reference, oa_letters.c.number)
                           .where(oa_letters.c.id == related_letter_id)).first()
    if related is None:
        raise InvalidInput(f"the related letter {related_letter_id} does not exist")
    existing = conn.execute(select(oa_links).where(
        oa_links.c.letter_id == letter_id, oa_links.c.related_letter_id == related_letter_id,
        oa_links.c.kind == kind)).first()
    if existing is not None:
        return _link(existing)
    values = {"letter_id": letter_id, "related_letter_id": related_letter_id,
              "related_number": related.number, "related_reference": related.reference,
              "kind": kind, "created_at": utcnow()}
    link_id = conn.execute(insert(oa_links).values(values)).inserted_primary_key[0]
    return Link(link_id, **values)


def link(engine: Engine, letter_id: int, related_letter_id: int, kind: str) -> Link:
    with engine.begin() as conn:
        return add_link(conn, letter_id, related_letter_id, kind)


def links(engine: Engine, letter_id: int) -> list[Link]:
    """Links from and to a letter, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(select(oa_links).where(or_(
            oa_links.c.letter_id == letter_id, oa_links.c.related_letter_id == letter_id))
            .order_by(oa_links.c.id))
        return [_link(r) for r in rows]


def _link(row) -> Link:  # type: ignore[no-untyped-def]
    return Link(row.id, row.letter_id, row.related_letter_id, row.related_number,
                row.related_reference, row.kind, row.created_at)
