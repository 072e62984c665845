"""Tracking by SMS: texts citizens send to an organization's line, read from each SMS gateway's
inbox with a cursor, recorded once (by the provider's message id) and answered through the
outbox.

- A text holding a tracking code (Persian or Latin digits, among other words) sent from the
  letter's own mobile gets the letter's status, number and promised date.
- The same from any other mobile gets a generic line that says nothing about any letter, so a
  code alone reveals nothing (as on the tracking page, which asks for the mobile too).
- «راهنما», or a text with no tracking code, gets a short help line.

A mobile gets at most ``PISHKHAN_SMS_REPLIES_PER_HOUR`` answers (default 5) in one clock hour;
the counter is raised by one conditional UPDATE, so parallel texts never pass it. Texts over
the limit are recorded but not answered (``answer = "limited"``). A text older than
``PISHKHAN_SMS_INBOUND_MAX_AGE_HOURS`` (default 24) is recorded but not answered
(``answer = "stale"``): a first read of an inbox, or a renamed gateway, can list the line's
history, and citizens must not get answers to texts of last month."""
from __future__ import annotations

import hmac
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.domain import tracking
from connector.domain.clock import now
from connector.domain.errors import ConfigurationError, ExternalError, NotFound
from connector.domain.normalize import mask_mobile, mobile, to_latin_digits
from connector.outbox import sms as sms_outbox
from connector.plugins.ports import InboundSms as Message
from connector.store.channels import InboundSms, InboxCursor, SmsReplyWindow
from connector.store.db import for_claim, transaction
from connector.store.models import Letter

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)

# Digits possibly split by single spaces or dashes, as people type a code from a receipt.
_RUN = re.compile(r"\d(?:[ \-]?\d)+")
KINDS = {"status": "inquiry_status", "unknown": "inquiry_unknown", "help": "inquiry_help"}


def codes_in(text: str) -> list[str]:
    """Valid tracking codes in a free text (Persian, Arabic-Indic or Latin digits)."""
    found = []
    for run in _RUN.findall(to_latin_digits(text or "")):
        code = tracking.clean(run)
        if tracking.is_valid(code) and code not in found:
            found.append(code)
    return found


def _insert_once(s: Session, table: Any, values: dict[str, Any], keys: list[str]) -> Any:
    """INSERT … ON CONFLICT DO NOTHING: the new row's primary key, or None if it was there."""
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(**values).on_conflict_do_nothing(index_elements=keys)
    pk = table.__table__.primary_key.columns.values()[0]
    return s.execute(stmt.returning(pk)).scalar()


def replies_per_hour(px: Pishkhan) -> int:
    return px.settings.sms_replies_per_hour


def take_reply(s: Session, to: str, limit: int, at: datetime | None = None) -> bool:
    """Count one answer to ``to`` in this hour if the limit allows; atomic under concurrency
    (the UPDATE's condition is checked again on the locked row)."""
    window = (at or now()).replace(minute=0, second=0, microsecond=0)
    _insert_once(s, SmsReplyWindow, {"mobile": to, "window": window, "count": 0},
                 ["mobile", "window"])
    done = s.execute(update(SmsReplyWindow)
                     .where(SmsReplyWindow.mobile == to, SmsReplyWindow.window == window,
                            SmsReplyWindow.count < limit)
                     .values(count=SmsReplyWindow.count + 1))
    return done.rowcount == 1


def _classify(s: Session, org: str, text: str, sender: str) -> tuple[str, Letter | None]:
    codes = codes_in(text)
    if not codes:
        return "help", None
    for code in codes:
        # Only this organization's letters: its line speaks for it and no other.
        letter = s.scalars(select(Letter).where(Letter.tracking_code == code,
                                                Letter.org == org)).first()
        if letter is not None and letter.mobile == sender:
            return "status", letter
    return "unknown", None


def _variables(px: Pishkhan, letter: Letter | None) -> dict[str, Any]:
    base = px.settings.public_url
    if letter is None:
        return {"track_url": f"{base}/track"}
    return {**sms_outbox.letter_variables(px, letter), "state": letter.state}


@dataclass(frozen=True)
class Outcome:
    inbound_id: int | None  # None: this provider id was recorded before
    answer: str = ""        # help | status | unknown | limited | ignored | stale


def record(px: Pishkhan, org: str, gateway: str, message: Message) -> Outcome:
    """Record one inbound text (once) and queue its answer, in one transaction."""
    sender = mobile(message.sender)
    with transaction(px.sessions) as s:
        row_id = _insert_once(s, InboundSms, {
            "org": org, "gateway": gateway, "provider_id": message.provider_id[:100],
            "sender": (sender or message.sender)[:20], "text": message.text[:2000],
            "received_at": message.received_at or now(), "answer": "", "created_at": now()},
            ["org", "gateway", "provider_id"])
        if row_id is None:
            return Outcome(None)
        row = s.get(InboundSms, row_id)
        assert row is not None
        if sender is None:  # not a mobile (a service number, an operator's notice): no answer
            row.answer = "ignored"
            return Outcome(row_id, row.answer)
        max_age = timedelta(hours=px.settings.sms_inbound_max_age_hours)
        if message.received_at is not None and message.received_at < now() - max_age:
            row.answer = "stale"
            return Outcome(row_id, row.answer)
        kind, letter = _classify(s, org, message.text, sender)
        row.letter_id = letter.id if letter is not None else None
        if not take_reply(s, sender, replies_per_hour(px)):
            row.answer = "limited"
            log.warning("inbound SMS from %s not answered: the hourly limit is reached",
                        mask_mobile(sender))
            return Outcome(row_id, row.answer)
        note = sms_outbox.queue(s, px, KINDS[kind], sender, _variables(px, letter),
                                letter=letter, org=org)
        s.flush()
        row.notification_id, row.answer = note.id, kind
        return Outcome(row_id, kind)


def poll_org(px: Pishkhan, slug: str) -> list[Outcome]:
    """Read every inbox-capable gateway of the organization once, from its saved cursor."""
    outcomes: list[Outcome] = []
    for conf in px.sms_policy(slug).gateways:
        try:
            gateway = px.gateway(slug, conf.name)
        except ConfigurationError as exc:
            log.error("SMS gateway %s of %s: %s", conf.name, slug, exc.detail)
            continue
        if not gateway.capabilities.supports_inbox:
            continue
        _ensure_cursor(px, slug, conf.name)
        # The cursor row is held for the read (PostgreSQL), so one worker reads an inbox at a
        # time and the others pass; the texts themselves are recorded once in any case.
        with transaction(px.sessions) as s:
            state = s.scalars(for_claim(select(InboxCursor).where(
                InboxCursor.org == slug, InboxCursor.gateway == conf.name), s)).first()
            if state is None:
                continue
            error: str | None = None
            cursor = state.cursor or ""
            try:
                messages, cursor = gateway.receive(cursor)
            except ExternalError as exc:
                messages, error = [], f"{exc.kind}: {exc.detail}"
                log.warning("inbox of %s/%s: %s", slug, conf.name, error)
            else:
                # A read cut at the page cap, or texts passed over, is shown too.
                error = gateway.inbox_note(cursor)
            for message in messages:
                outcomes.append(record(px, slug, conf.name, message))
            state.cursor, state.last_poll_at, state.last_error = cursor, now(), error
    return outcomes


def receive_push(px: Pishkhan, slug: str, token: str, fields: dict[str, str]
                 ) -> list[Outcome]:
    """A provider calling our push URL ``…/sms/inbound/ORG/TOKEN`` with texts. The token
    picks the gateway (each has its own, from ``inbound_token_env``); a wrong one is NotFound,
    like an organization that does not exist."""
    for conf in px.sms_policy(slug).gateways:
        try:
            gateway = px.gateway(slug, conf.name)
        except ConfigurationError:
            continue
        expected = gateway.push_token
        if gateway.capabilities.supports_inbound_push and expected and \
                hmac.compare_digest(expected.encode(), token.encode()):
            return [record(px, slug, conf.name, m) for m in gateway.parse_push(fields)]
    raise NotFound("no such inbound SMS address")


def _ensure_cursor(px: Pishkhan, slug: str, gateway: str) -> None:
    try:
        with transaction(px.sessions) as s:
            if s.get(InboxCursor, (slug, gateway)) is None:
                s.add(InboxCursor(org=slug, gateway=gateway, cursor=""))
    except IntegrityError:
        pass  # another worker made it a moment ago


def poll_all(px: Pishkhan) -> int:
    return sum(len(poll_org(px, slug)) for slug in px.orgs)


def listing(px: Pishkhan, org: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    with px.sessions() as s:
        stmt = select(InboundSms).order_by(InboundSms.id.desc()).limit(limit)
        if org:
            stmt = stmt.where(InboundSms.org == org)
        return [{"id": r.id, "org": r.org, "gateway": r.gateway, "provider_id": r.provider_id,
                 "from": r.sender, "text": r.text, "answer": r.answer,
                 "received_at": r.received_at.isoformat() + "Z"} for r in s.scalars(stmt)]
