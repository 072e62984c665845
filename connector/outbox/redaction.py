"""One-time codes never rest in clear in the SMS outbox: the send job keeps the code only
until a provider has it; listings never show it."""
from __future__ import annotations

from sqlalchemy import null, select
from sqlalchemy.orm import Session

from connector.domain.normalize import to_persian_digits
from connector.store.models import Notification

REDACTED = "*****"


def redact(text: str, params: dict[str, str] | None) -> str:
    """The text without the one-time code in it (Latin or Persian digits)."""
    code = (params or {}).get("code")
    if not code:
        return text
    return text.replace(code, REDACTED).replace(to_persian_digits(code), REDACTED)


def forget_codes(s: Session, ids: list[int] | None = None) -> int:
    """Redact one-time codes of rows that no longer wait to be sent (``ids``: only those)."""
    stmt = select(Notification).where(Notification.kind == "otp",
                                      Notification.state != "created",
                                      Notification.params.is_not(None))
    if ids is not None:
        stmt = stmt.where(Notification.id.in_(ids))
    forgotten = 0
    for note in s.scalars(stmt):
        if note.params:
            note.text, note.params = redact(note.text, note.params), null()
            forgotten += 1
    return forgotten
