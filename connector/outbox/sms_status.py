"""Following up the SMS outbox: the providers' word on each message (delivery statuses polled
with growing gaps), messages whose send may have been taken looked up by our reference before
anything is sent again, the 72-hour sweeper, and an admin's retry."""
from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from connector.domain.clock import now
from connector.domain.errors import ExternalError, NotFound, ValidationError, msg
from connector.outbox.redaction import forget_codes
from connector.outbox.sms import (
    FINAL,
    FIRST_CHECK,
    IN_FLIGHT,
    MAX_CHECK_GAP,
    NOT_FOUND_CHECKS,
    STUCK_AFTER,
    settle,
)
from connector.plugins.ports import SMS_STATES
from connector.store.db import for_claim, transaction
from connector.store.models import Notification

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)


def record_status(px: Pishkhan, note_id: int, state: str, raw: str = "") -> bool:
    """A provider's word on a message. The first final status wins; a message does not move
    back from ``pending`` to ``sending``."""
    if state not in SMS_STATES or state == "created":
        return False
    at = now()
    expect = ("sending",) if state == "sending" else IN_FLIGHT
    values: dict[str, Any] = {"state": state, "provider_status": raw[:40] or None}
    if state in FINAL:
        values["completed_at"] = at
    ok = settle(px, note_id, expect, **values)
    if not ok:
        log.info("sms %s: ignored %s (already settled)", note_id, state)
    return ok


@dataclass
class _Check:
    id: int
    org: str | None
    gateway: str | None
    provider_id: str | None
    ref: str
    checks: int
    kind: str = ""
    requested: bool = True  # the request left us (request_sent_at was written)
    created_at: datetime | None = None


def _claim_checks(px: Pishkhan, limit: int) -> list[_Check]:
    at = now()
    with transaction(px.sessions) as s:
        stmt = (select(Notification).where(Notification.state.in_(IN_FLIGHT),
                                           Notification.next_attempt_at <= at)
                .order_by(Notification.next_attempt_at).limit(limit))
        rows = s.scalars(for_claim(stmt, s)).all()
        found = []
        for n in rows:
            n.checks += 1
            gap = min(MAX_CHECK_GAP, FIRST_CHECK * 2 ** min(n.checks, 10))
            n.next_attempt_at = at + gap  # the backoff, and a lease against other workers
            found.append(_Check(n.id, n.org, n.gateway, n.provider_message_id,
                                n.client_reference, n.checks, n.kind,
                                n.request_sent_at is not None, n.created_at))
        return found


def _reconcile(px: Pishkhan, c: _Check) -> None:
    """A send that may or may not have happened: ask by our reference the provider it went to
    (or, if the worker died before that was written, every provider of the organization)."""
    if not c.requested:
        _unsent(px, c)
        return
    policy = px.sms_policy(c.org)
    names = [c.gateway] if c.gateway else [g.name for g in policy.gateways]
    gateways = [(name, px.gateway(c.org, name)) for name in names]
    if not all(g.capabilities.supports_status_by_reference for _, g in gateways):
        # Nothing can tell; a resend could be a second SMS. The sweeper settles it, or an
        # admin decides with `pishkhan sms retry`.
        settle(px, c.id, ("sending",), next_attempt_at=now() + STUCK_AFTER)
        return
    for name, gateway in gateways:
        result = gateway.find(c.ref)
        if result is not None:
            state = result.status if result.status in IN_FLIGHT + tuple(FINAL) else "sending"
            settle(px, c.id, ("sending",), provider_message_id=result.provider_message_id,
                    state=state, gateway=name, provider_status=result.raw[:40] or None,
                    last_error=None, completed_at=now() if state in FINAL else None)
            return
    if c.checks >= NOT_FOUND_CHECKS and c.kind == "otp":
        # A one-time code is never sent again: it has expired by now, and a template send
        # (the usual way for codes) carries no reference, so "not found" proves nothing.
        settle(px, c.id, ("sending",), state="temporary-failure", completed_at=now(),
                last_error="one-time code not confirmed; not sent again (the citizen can ask "
                           "for a new code)")
        with transaction(px.sessions) as s:
            forget_codes(s, [c.id])
        return
    if c.checks >= NOT_FOUND_CHECKS:
        # checks restart at zero: a resend that is lost too gets the same three look-ups.
        settle(px, c.id, ("sending",), state="created", next_attempt_at=now(), sent_at=None,
                checks=0, request_sent_at=None,
                last_error=f"{', '.join(names)}: no message under our reference; sending again")


def _unsent(px: Pishkhan, c: _Check) -> None:
    """Claimed by a worker that stopped before the request left: it provably never went out,
    so it goes back to the queue (the claim counted as an attempt). A one-time code that has
    expired meanwhile is not worth sending."""
    at = now()
    expired = c.kind == "otp" and c.created_at is not None and \
        c.created_at + timedelta(seconds=px.settings.otp_ttl) <= at
    if expired:
        values: dict[str, Any] = dict(
            state="technical-failure", completed_at=at,
            last_error="the worker stopped before sending; the one-time code expired meanwhile")
    else:
        values = dict(state="created", next_attempt_at=at, sent_at=None, gateway=None,
                      last_error="the worker stopped before sending; sending again")
    with px.engine.begin() as conn:
        moved = conn.execute(update(Notification).where(
            Notification.id == c.id, Notification.state == "sending",
            Notification.request_sent_at.is_(None)).values(updated_at=at, **values)).rowcount
    if moved and expired:
        with transaction(px.sessions) as s:
            forget_codes(s, [c.id])
    log.warning("sms %s: claimed but never sent (the worker stopped); %s", c.id,
                "expired" if expired else "queued again")


def check_statuses(px: Pishkhan, limit: int = 200) -> int:
    """Ask providers about messages still in flight, each at a growing interval."""
    due = _claim_checks(px, limit)
    groups: dict[tuple[str | None, str | None], list[_Check]] = defaultdict(list)
    for c in due:
        try:
            if c.provider_id is None:
                _reconcile(px, c)
            else:
                groups[(c.org, c.gateway)].append(c)
        except (ExternalError, NotFound, NotImplementedError) as exc:
            log.warning("sms %s: looking it up by reference: %s", c.id, exc)
    for (org, name), checks in groups.items():
        try:
            gateway = px.gateway(org, name)
            if not gateway.capabilities.supports_status_query:
                continue
            known = {c.provider_id: c for c in checks}
            for pid, result in gateway.status(list(known)).items():
                if pid in known:
                    record_status(px, known[pid].id, result.status, result.raw)
        except (ExternalError, NotFound, NotImplementedError) as exc:
            log.warning("sms status from %s/%s: %s", org, name, exc)
    return len(due)


def sweep(px: Pishkhan) -> int:
    """Messages with no final word 72 hours after they were handed over become
    temporary-failure: operators sometimes never report."""
    at = now()
    with transaction(px.sessions) as s:
        stuck = list(s.scalars(select(Notification.id).where(
            Notification.state.in_(IN_FLIGHT), Notification.sent_at <= at - STUCK_AFTER)))
        if not stuck:
            return 0
        done = s.execute(update(Notification).where(
            Notification.id.in_(stuck), Notification.state.in_(IN_FLIGHT))
            .values(state="temporary-failure", completed_at=at, updated_at=at,
                    last_error="no final status from the provider within 72 hours"))
        forget_codes(s, stuck)
        return done.rowcount


def retry(px: Pishkhan, note_id: int) -> None:
    """An admin sends a failed message again, under a new reference (the provider may keep
    the old one and refuse it as a duplicate)."""
    with transaction(px.sessions) as s:
        note = s.get(Notification, note_id)
        if note is None:
            raise NotFound(f"sms {note_id}")
        if note.kind == "otp":
            raise ValidationError({"id": msg("sms.otp_not_resent", id=note_id)})
        if note.state not in FINAL - {"delivered"}:
            raise ValidationError({"id": msg("sms.not_failed", id=note_id, state=note.state)})
        note.last_error = f"retried by an admin (was {note.state}, ref {note.client_reference})"
        note.state, note.attempts, note.checks = "created", 0, 0
        note.client_reference = uuid.uuid4().hex
        note.provider_message_id = note.provider_status = None
        note.sent_at = note.completed_at = note.request_sent_at = None
        note.next_attempt_at = now()
