"""The e-mail outbox: the same guarantees as the SMS outbox, simpler states.

``created`` → ``sending`` (claimed by one worker) → ``sent``, or back to ``created`` with a later
``next_attempt_at`` after a transient failure (exponential backoff, capped), or ``failed`` after
a permanent one or too many attempts — kept with its last error for the admin. A message is
claimed with a row lock (``SKIP LOCKED`` on PostgreSQL), so two workers never send it both. A
worker that dies mid-send leaves it ``sending``; after ``RECLAIM_AFTER`` it is sent again under
the same Message-ID (SMTP cannot be asked whether it took a message; readers show one message
per Message-ID).

The words are the SMS texts of the same kind, and the subject and footer are the same catalog's
``mail_subject_KIND`` and ``mail_footer`` (sms/texts.py; organizations may override them under
``[sms.texts]``), as a plain-text part and a right-to-left HTML part."""
from __future__ import annotations

import html
import logging
import re
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from connector.domain.clock import now
from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    ExternalError,
    NotFound,
    TransientError,
)
from connector.outbox import runs
from connector.plugins.ports import MailMessage
from connector.plugins.secrets import scrub
from connector.store.channels import Email
from connector.store.db import for_claim, transaction
from connector.store.models import Letter

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
RECLAIM_AFTER = timedelta(minutes=5)
BACKOFF_BASE, BACKOFF_CAP = 30.0, 3600.0
CHANNELS = ("sms", "email", "both")
_URL = re.compile(r"https?://\S+")


def _html(subject: str, text: str) -> str:
    def line(raw: str) -> str:
        out, last = [], 0
        for m in _URL.finditer(raw):
            out.append(html.escape(raw[last:m.start()]))
            url = html.escape(m.group(0), quote=True)
            out.append(f'<a href="{url}" dir="ltr">{url}</a>')
            last = m.end()
        out.append(html.escape(raw[last:]))
        return "".join(out)
    body = "\n".join(f"<p>{line(p)}</p>" for p in text.split("\n") if p.strip())
    return ('<!doctype html>\n<html lang="fa" dir="rtl">\n<head><meta charset="utf-8">'
            f"<title>{html.escape(subject)}</title></head>\n"
            '<body dir="rtl" style="direction:rtl;text-align:right;font-family:Vazirmatn,'
            'Tahoma,sans-serif;font-size:16px;line-height:1.9">\n'
            f"{body}\n</body>\n</html>\n")


def render(px: Pishkhan, org: str | None, kind: str, variables: dict[str, Any]
           ) -> tuple[str, str, str]:
    """Subject, plain text and HTML of one e-mail."""
    organization = px.orgs.get(org or "")
    values = {"org_name": organization.name if organization else "", **variables}
    overrides = organization.texts if organization else None
    text = px.texts.render(kind, values, overrides)
    plain = f"{text}\n\n{px.texts.render('mail_footer', values, overrides)}"
    try:
        subject = px.texts.render(f"mail_subject_{kind}", values, overrides)
    except KeyError:  # a kind with no subject of its own
        subject = px.texts.render("mail_subject", values, overrides)
    if organization:
        subject = f"{organization.name}: {subject}"
    return subject[:300], plain, _html(subject, plain)


def queue(s: Session, px: Pishkhan, kind: str, to: str, variables: dict[str, Any],
          letter: Letter | None = None, org: str | None = None) -> Email:
    org = org or (letter.org if letter else None)
    subject, text, html_part = render(px, org, kind, variables)
    host = re.sub(r"^https?://", "", px.settings.public_url).split("/")[0].split(":")[0]
    email = Email(org=org, letter=letter, to=to, kind=kind, subject=subject, text=text,
                  html=html_part, message_id=f"<{uuid.uuid4().hex}@{host or 'pishkhan'}>",
                  state="created", attempts=0, next_attempt_at=now())
    s.add(email)
    return email


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1)))


def _claim(px: Pishkhan, limit: int) -> list[tuple[int, str | None, MailMessage]]:
    at = now()
    with transaction(px.sessions) as s:
        due = or_(and_(Email.state == "created",
                       or_(Email.next_attempt_at.is_(None), Email.next_attempt_at <= at)),
                  and_(Email.state == "sending", Email.next_attempt_at <= at))
        stmt = select(Email).where(due).order_by(Email.id).limit(limit)
        jobs = []
        for e in s.scalars(for_claim(stmt, s)).all():
            e.state, e.attempts, e.next_attempt_at = "sending", e.attempts + 1, at + RECLAIM_AFTER
            name = px.orgs[e.org].name if e.org in px.orgs else ""
            jobs.append((e.id, e.org, MailMessage(e.to, e.subject, e.text, e.html,
                                                  e.message_id, name)))
        return jobs


def _settle(px: Pishkhan, email_id: int, error: ExternalError | None) -> str:
    with transaction(px.sessions) as s:
        e = s.get(Email, email_id)
        if e is None or e.state != "sending":
            return e.state if e else "gone"
        if error is None:
            e.state, e.sent_at, e.last_error, e.next_attempt_at = "sent", now(), None, None
        elif isinstance(error, (TransientError, AmbiguousError)) and e.attempts < MAX_ATTEMPTS:
            e.state, e.last_error = "created", f"{error.kind}: {error.detail}"
            e.next_attempt_at = now() + _backoff(e.attempts)
        else:
            e.state, e.last_error, e.next_attempt_at = "failed", \
                f"{error.kind}: {error.detail}", None
            log.error("e-mail %s to %s failed: %s", email_id, e.org, e.last_error)
        return e.state


def send_one(px: Pishkhan, email_id: int, org: str | None, message: MailMessage) -> str:
    try:
        px.mail_gateway(org).send(message)
    except ExternalError as exc:
        log.warning("e-mail %s: %s: %s", email_id, exc.kind, exc.detail)
        return _settle(px, email_id, exc)
    except NotFound:
        return _settle(px, email_id, ConfigurationError(f"organization {org!r} is gone"))
    return _settle(px, email_id, None)


def dispatch_due(px: Pishkhan, limit: int = 20, seconds: float = runs.RUN_SECONDS) -> int:
    """Send what is due, claimed ``limit`` at a time, batch after batch while there is more
    (see :mod:`connector.outbox.runs`); returns how many were handed to a gateway."""
    return runs.in_batches(lambda: _send_batch(px, limit), limit, seconds)


def _send_batch(px: Pishkhan, limit: int) -> int:
    jobs = _claim(px, limit)
    for email_id, org, message in jobs:
        send_one(px, email_id, org, message)
    return len(jobs)


STATES = ("created", "sending", "sent", "failed")


def _secrets(px: Pishkhan) -> list[str]:
    """The values of the environment variables the organizations' ``[mail]`` tables name
    (``username_env``, ``password_env``): never shown, even inside a server's answer."""
    return [px.settings.env.get(str(name), "") for org in px.orgs.values()
            for key, name in org.mail.options.items() if key.endswith("_env")]


def listing(px: Pishkhan, to: str | None = None, limit: int = 200, state: str | None = None,
            body: bool = False) -> list[dict[str, Any]]:
    """The outbox, newest first; the words themselves only with ``body`` (they can be long and
    are the citizen's business)."""
    hidden = _secrets(px)
    with px.sessions() as s:
        stmt = select(Email).order_by(Email.id.desc()).limit(limit)
        if to:
            stmt = stmt.where(Email.to == to.strip().lower())
        if state:
            stmt = stmt.where(Email.state == state)
        rows = []
        for e in s.scalars(stmt):
            row = {"id": e.id, "org": e.org, "to": e.to, "kind": e.kind, "subject": e.subject,
                   "status": e.state, "attempts": e.attempts,
                   "last_error": scrub(e.last_error, hidden) if e.last_error else None,
                   "letter": e.letter.tracking_code if e.letter else None,
                   "message_id": e.message_id, "created_at": e.created_at.isoformat() + "Z",
                   "sent_at": e.sent_at.isoformat() + "Z" if e.sent_at else None}
            if body:
                row["text"] = e.text
            rows.append(row)
        return rows


def failed_since(s: Session, org: str, since: datetime, limit: int = 100) -> list[Email]:
    """E-mails of ``org`` that will not arrive (for the dashboard)."""
    return list(s.scalars(select(Email).where(Email.org == org, Email.state == "failed",
                                              Email.created_at >= since)
                          .order_by(Email.id.desc()).limit(limit)))
