"""What the citizen's phone got. A one-time code never shows in the outbox listing: it is read
here from the queued send job while the message waits, else from the file gateway's outbox (the
demo's phone) under the message's reference."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from connector.store.models import Notification


def otp_code(px: Any, mobile: str) -> str:
    with px.sessions() as s:
        note = s.scalars(select(Notification).where(
            Notification.to == mobile, Notification.kind == "otp")
            .order_by(Notification.id.desc()).limit(1)).one()
    if note.params:
        return str(note.params["code"])
    path = px.settings.sms_outbox
    for line in reversed(path.read_text(encoding="utf-8").splitlines()):
        record = json.loads(line)
        if record.get("reference") == note.client_reference:
            return _code_in(record["text"])
    raise AssertionError(f"no one-time code for {mobile} in {path}")


def _code_in(text: str) -> str:
    import re

    from connector.domain.normalize import to_latin_digits
    found = re.search(r"\d{5}", to_latin_digits(text))
    assert found, text
    return found.group(0)
