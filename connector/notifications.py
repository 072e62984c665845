"""The SMS outbox. A notification is queued in the same transaction as the change it reports
(transactional outbox) and sent later by the worker, which claims it first so it goes once."""
from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .clock import now
from .db import for_claim, transaction
from .errors import (AmbiguousError, ConfigurationError, ExternalError, PermanentError,
                     TransientError)
from .models import Letter, Notification
from .normalize import mask_mobile

if TYPE_CHECKING:
    from .bootstrap import Pishkhan

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FINAL = frozenset({"delivered", "permanent-failure", "technical-failure", "temporary-failure"})


def queue(session: Session, px: Pishkhan, kind: str, to: str, variables: dict[str, Any],
          letter: Letter | None = None, org: str | None = None) -> Notification:
    org = org or (letter.org if letter else None)
    overrides = px.orgs[org].texts if org in px.orgs else None
    if org in px.orgs:
        variables = {"org_name": px.orgs[org].name, **variables}
    text = px.texts.render(kind, variables, overrides)
    note = Notification(org=org, letter=letter, to=to, kind=kind, text=text,
                        segments=px.texts.segments(text), state="created",
                        client_reference=uuid.uuid4().hex, next_attempt_at=now())
    session.add(note)
    return note


def letter_variables(px: Pishkhan, letter: Letter) -> dict[str, Any]:
    base = px.settings.public_url
    return {"tracking_code": letter.tracking_code, "letter_number": letter.letter_number or "",
            "reason": letter.rejection_reason or "", "unit": letter.current_unit or "",
            "person": letter.current_handler or "", "subject": letter.subject,
            "track_url": f"{base}/t/{letter.tracking_code}",
            "survey_url": f"{base}/t/{letter.tracking_code}#survey"}


def _claim(px: Pishkhan, limit: int) -> list[int]:
    with transaction(px.sessions) as s:
        stmt = (select(Notification).where(Notification.state == "created",
                                           or_(Notification.next_attempt_at.is_(None),
                                               Notification.next_attempt_at <= now()))
                .order_by(Notification.id).limit(limit))
        rows = s.scalars(for_claim(stmt, s)).all()
        for note in rows:
            note.state = "sending"
            note.attempts += 1
        return [n.id for n in rows]


def _send_one(px: Pishkhan, note_id: int) -> None:
    with transaction(px.sessions) as s:
        note = s.get(Notification, note_id)
        assert note is not None
        org, to, text, ref = note.org, note.to, note.text, note.client_reference
    state, error, provider_id, gateway_name = "sending", None, None, None
    try:
        gateway = px.gateway(org)
        gateway_name = gateway.name
        result = gateway.send(to, text, ref)
        state, provider_id = result.status, result.provider_message_id
    except AmbiguousError as exc:
        # The provider may have taken it: never resend blindly; leave it pending so a status
        # check (or an admin) settles it.
        state, error = "pending", f"{exc.kind}: {exc.detail}"
    except (TransientError, ConfigurationError) as exc:
        state, error = "created", f"{exc.kind}: {exc.detail}"
    except PermanentError as exc:
        state, error = "permanent-failure", f"{exc.kind}: {exc.detail}"
    except ExternalError as exc:
        state, error = "technical-failure", f"{exc.kind}: {exc.detail}"
    with transaction(px.sessions) as s:
        note = s.get(Notification, note_id)
        assert note is not None
        note.gateway = gateway_name
        note.last_error = error
        if provider_id:
            note.provider_message_id = provider_id
        if state == "created":
            if note.attempts >= MAX_ATTEMPTS:
                state = "technical-failure"
            else:
                note.next_attempt_at = now() + timedelta(seconds=min(600, 5 * 2 ** note.attempts))
        note.state = state
        if state in ("pending", "delivered"):
            note.sent_at = now()
    if error:
        log.warning("sms %s to %s: %s", note_id, mask_mobile(to), error)


def dispatch_due(px: Pishkhan, limit: int = 50) -> int:
    ids = _claim(px, limit)
    for note_id in ids:
        _send_one(px, note_id)
    return len(ids)


def listing(px: Pishkhan, to: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    with px.sessions() as s:
        stmt = select(Notification).order_by(Notification.id.desc()).limit(limit)
        if to:
            stmt = stmt.where(Notification.to == to)
        return [{"id": n.id, "to": n.to, "text": n.text, "kind": n.kind,
                 "letter": n.letter.tracking_code if n.letter else None, "status": n.state,
                 "segments": n.segments, "gateway": n.gateway,
                 "created_at": n.created_at.isoformat() + "Z"} for n in s.scalars(stmt)]
