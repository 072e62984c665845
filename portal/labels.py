"""Plain names for what the core calls by code — letter states, what comes next, applicant
types — from the message catalog (``status.*``, ``next.*``, ``applicant.*``)."""
from __future__ import annotations

import messages
from connector.domain.errors import Message, msg

APPLICANT: dict[str, str] = {kind: messages.render(f"applicant.{kind}")
                             for kind in ("natural", "legal")}


def status(code: str, locale: str = "fa") -> str:
    key = f"status.{code}"
    return messages.render(key, locale) if key in messages.FA else code


def next_step(state: str) -> Message | str:
    """What the citizen can expect next, or "" when nothing needs saying."""
    key = f"next.{state}"
    return msg(key) if key in messages.FA else ""
