"""The SMS outbox. A notification is queued in the same transaction as the change it reports
(transactional outbox) and sent later by the worker.

States (as GOV.UK Notify's): ``created`` → ``sending`` (handed to a provider) → ``pending``
(the provider passed it to the operator) → ``delivered`` / ``temporary-failure`` (phone off, no
final word in 72 hours) / ``permanent-failure`` (bad or blacklisted number) /
``technical-failure`` (no provider could take it). A message is sent only from ``created``,
under a database claim. A send that times out may have been taken, so it is never sent again
blindly: it stays ``sending`` and is looked up by our reference first. The first final status
wins; later reports are ignored."""
from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, null, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from connector.domain.calendar import jalali_text
from connector.domain.clock import now
from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    ExternalError,
    NotFound,
    PermanentError,
    ValidationError,
    msg,
)
from connector.domain.normalize import mask_mobile, to_persian_digits
from connector.outbox import webhook_events, webhooks
from connector.outbox.policy import URGENT_KINDS, GatewayConfig
from connector.outbox.redaction import REDACTED, redact  # noqa: F401 (REDACTED: for callers)
from connector.plugins.ports import SMS_FINAL, SMS_STATES, SmsGateway, SmsResult
from connector.store.db import for_claim, transaction
from connector.store.models import Letter, Notification

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FINAL = SMS_FINAL
IN_FLIGHT = ("sending", "pending")
STUCK_AFTER = timedelta(hours=72)
# A claimed message not settled by then (the worker died mid-send) is looked up, not resent.
RECONCILE_AFTER = timedelta(seconds=60)
FIRST_CHECK = timedelta(seconds=30)
MAX_CHECK_GAP = timedelta(hours=1)
# A provider that says three times, minutes apart, that it holds nothing under our reference
# never took the message; only then is it sent again.
NOT_FOUND_CHECKS = 3


def queue(session: Session, px: Pishkhan, kind: str, to: str, variables: dict[str, Any],
          letter: Letter | None = None, org: str | None = None) -> Notification:
    fields = message(px, kind, to, variables, org or (letter.org if letter else None))
    note = Notification(letter=letter, **fields)
    session.add(note)
    return note


def message(px: Pishkhan, kind: str, to: str, variables: dict[str, Any],
            org: str | None) -> dict[str, Any]:
    """The outbox row of one SMS, without its letter: :func:`queue` adds it through the
    session; intake inserts it with its letter in one statement."""
    overrides = px.orgs[org].texts if org in px.orgs else None
    if org in px.orgs:
        variables = {"org_name": px.orgs[org].name, **variables}
    text = px.texts.render(kind, variables, overrides)
    # A provider's OTP template line is filled with the code alone. The code stays in the row
    # only until a provider has it (see _redacted): the send job needs it, nothing after.
    params = {"code": str(variables["code"])} if kind == "otp" and "code" in variables else None
    return {"org": org, "to": to, "kind": kind, "text": text,
            "segments": px.texts.segments(text), "state": "created", "params": params,
            "client_reference": uuid.uuid4().hex, "next_attempt_at": now()}


def _redacted(job: _Job) -> dict[str, Any]:
    """Columns that forget a one-time code once the provider has it (or never will)."""
    if job.kind != "otp" or not job.params:
        return {}
    return {"text": redact(job.text, job.params), "params": null()}


def letter_variables(px: Pishkhan, letter: Letter) -> dict[str, Any]:
    base = px.settings.public_url
    due = to_persian_digits(jalali_text(letter.due_date)) if letter.due_date else ""
    return {"due_date": due,
            "tracking_code": letter.tracking_code, "letter_number": letter.letter_number or "",
            "reason": letter.rejection_reason or "", "unit": letter.current_unit or "",
            "person": letter.current_handler or "", "subject": letter.subject,
            "track_url": f"{base}/t/{letter.tracking_code}",
            "survey_url": f"{base}/t/{letter.tracking_code}#survey"}


# --- sending -------------------------------------------------------------------------------

class _Budget:
    """What the rate limits leave for this minute: the platform's and each organization's.
    The last minute's sends are counted only when some limit is set."""

    def __init__(self, px: Pishkhan, s: Session, at: datetime) -> None:
        self.session, self.since = s, at - timedelta(minutes=1)
        self.global_limit = px.settings.sms_rate_per_minute
        self.used: dict[str | None, int] | None = None
        self.total = 0

    def _count(self) -> dict[str | None, int]:
        if self.used is None:
            rows = self.session.execute(select(Notification.org, func.count()).where(
                Notification.sent_at >= self.since).group_by(Notification.org)).all()
            self.used = defaultdict(int, {org: n for org, n in rows})
            self.total = sum(self.used.values())
        return self.used

    def take(self, org: str | None, org_limit: int | None) -> bool:
        if self.global_limit is None and org_limit is None:
            return True
        used = self._count()
        if self.global_limit is not None and self.total >= self.global_limit:
            return False
        if org_limit is not None and used[org] >= org_limit:
            return False
        used[org] += 1
        self.total += 1
        return True


@dataclass(frozen=True)
class _Job:
    """A claimed message: what the send needs, read in the claim's transaction."""

    id: int
    org: str | None
    kind: str
    to: str
    text: str
    ref: str
    params: dict[str, str] | None
    attempts: int


def _claim(px: Pishkhan, limit: int, only: int | None = None) -> list[_Job]:
    at = now()
    with transaction(px.sessions) as s:
        stmt = select(Notification).where(Notification.state == "created")
        if only is not None:
            stmt = stmt.where(Notification.id == only)
        else:
            stmt = stmt.where(or_(Notification.next_attempt_at.is_(None),
                                  Notification.next_attempt_at <= at))
        # OTPs first: a citizen is waiting at the login page.
        stmt = stmt.order_by(case((Notification.kind.in_(URGENT_KINDS), 0), else_=1),
                             Notification.id).limit(limit * 4)
        budget = _Budget(px, s, at)
        claimed: list[_Job] = []
        for note in s.scalars(for_claim(stmt, s)).all():
            try:
                policy = px.sms_policy(note.org)
            except NotFound:
                note.state, note.completed_at = "technical-failure", at
                note.last_error = f"configuration: organization {note.org!r} no longer exists"
                if note.kind == "otp" and note.params:
                    note.text, note.params = redact(note.text, note.params), null()
                continue
            if note.kind not in URGENT_KINDS and policy.quiet_hours and only is None:
                release = policy.quiet_hours.release_at(at)
                if release is not None:
                    note.next_attempt_at = release  # a progress text waits for the morning
                    continue
            if only is None and not budget.take(note.org, policy.rate_per_minute):
                continue
            note.state, note.sent_at = "sending", at
            note.attempts += 1
            note.next_attempt_at = at + RECONCILE_AFTER
            claimed.append(_Job(note.id, note.org, note.kind, note.to, note.text,
                                note.client_reference, note.params, note.attempts))
            if len(claimed) >= limit:
                break
        return claimed


@dataclass
class _Outcome:
    kind: str  # sent / ambiguous / permanent / failed
    gateway: str | None = None
    result: SmsResult | None = None
    error: str | None = None


def _deliver(gateway: SmsGateway, conf: GatewayConfig, kind: str, to: str, text: str,
             params: dict[str, str] | None, ref: str) -> SmsResult:
    if (kind == "otp" and params and conf.otp_template
            and gateway.capabilities.supports_template):
        try:
            return gateway.send_template(to, conf.otp_template, params, ref)
        except (PermanentError, ConfigurationError) as exc:
            # Not sent (a token the line refuses, a template not approved): the plain text
            # still gets the code to the citizen.
            log.warning("sms template %s on %s refused, sending plain text: %s",
                        conf.otp_template, conf.name, exc.detail)
    return gateway.send(to, text, ref)


def _try_gateways(px: Pishkhan, org: str | None, kind: str, to: str, text: str,
                  params: dict[str, str] | None, ref: str, only: str | None = None) -> _Outcome:
    policy = px.sms_policy(org)
    key = org or ""
    errors: list[str] = []
    for conf in px.sms_health.order(policy.gateways, key):
        if only and conf.name != only:
            continue
        started = time.monotonic()
        try:
            gateway = px.gateway(org, conf.name)
            result = _deliver(gateway, conf, kind, to, text, params, ref)
        except AmbiguousError as exc:
            # It may have been taken: trying another provider now could mean a second SMS.
            px.sms_health.record(key, conf.name, False, time.monotonic() - started)
            return _Outcome("ambiguous", conf.name, error=f"{conf.name}: {exc.kind}: {exc.detail}")
        except PermanentError as exc:  # the number or text, not the provider
            px.sms_health.record(key, conf.name, True, time.monotonic() - started)
            return _Outcome("permanent", conf.name, error=f"{conf.name}: {exc.kind}: {exc.detail}")
        except ExternalError as exc:  # transient or configuration: nothing was sent; next one
            px.sms_health.record(key, conf.name, False, time.monotonic() - started)
            errors.append(f"{conf.name}: {exc.kind}: {exc.detail}")
            continue
        px.sms_health.record(key, conf.name, True, time.monotonic() - started)
        return _Outcome("sent", conf.name, result, "; ".join(errors) or None)
    return _Outcome("failed", error="; ".join(errors) or "no SMS gateway is configured")


def _settle_many(px: Pishkhan, changes: list[tuple[int, tuple[str, ...], dict[str, Any]]]
                 ) -> list[bool]:
    """Change each row only if it is still in one of its ``expect`` states; so a final status,
    once set, stays, and two workers cannot both settle one message. Statements on a bare
    connection, in one transaction: this runs for every message sent."""
    with px.engine.begin() as conn:
        done = [conn.execute(update(Notification).where(Notification.id == note_id,
                                                        Notification.state.in_(expect))
                             .values(updated_at=now(), **values)).rowcount == 1
                for note_id, expect, values in changes]
        failed = [note_id for ok, (note_id, _, values) in zip(done, changes)
                  if ok and values.get("state") in webhooks.SMS_FAILURES]
        if failed:
            _tell_failures(conn, failed)
        return done


def _tell_failures(conn: Connection, note_ids: list[int]) -> None:
    rows = conn.execute(select(Notification.id, Notification.org, Notification.kind,
                               Notification.state, Notification.last_error, Letter.tracking_code)
                        .outerjoin(Letter, Letter.id == Notification.letter_id)
                        .where(Notification.id.in_(note_ids))).all()
    for row in rows:
        if row.org:
            webhook_events.sms_failed(conn, row.org, row)


def settle(px: Pishkhan, note_id: int, expect: tuple[str, ...], **values: Any) -> bool:
    return _settle_many(px, [(note_id, expect, values)])[0]


def _send_values(attempts: int, out: _Outcome) -> dict[str, Any]:
    """What a send attempt leaves in the row."""
    at = now()
    values: dict[str, Any] = {"gateway": out.gateway, "last_error": out.error}
    if out.kind == "sent" and out.result is not None:
        state = out.result.status if out.result.status in SMS_STATES else "sending"
        state = "sending" if state == "created" else state
        values.update(state=state, provider_message_id=out.result.provider_message_id or None,
                      provider_status=out.result.raw[:40] or None,
                      next_attempt_at=at + FIRST_CHECK,
                      completed_at=at if state in FINAL else None)
    elif out.kind == "ambiguous":
        values.update(state="sending", provider_message_id=None, next_attempt_at=at + FIRST_CHECK,
                      last_error=f"{out.error} — looking it up before any resend")
    elif out.kind == "permanent":
        values.update(state="permanent-failure", completed_at=at)
    elif attempts >= MAX_ATTEMPTS:
        values.update(state="technical-failure", completed_at=at, gateway=None)
    else:
        values.update(state="created", sent_at=None, gateway=None, request_sent_at=None,
                      next_attempt_at=at + timedelta(seconds=min(600, 5 * 2 ** attempts)))
    return values


def _record_sends(px: Pishkhan, done: list[tuple[_Job, _Outcome]]) -> list[str]:
    changes = [(job.id, ("sending",), _with_redaction(job, _send_values(job.attempts, out)))
               for job, out in done]
    for ok, (job, out), (_, _, values) in zip(_settle_many(px, changes), done, changes):
        if not ok:
            log.info("sms %s was settled elsewhere while it was being sent", job.id)
        if out.error:
            log.warning("sms %s to %s (%s): %s", job.id, mask_mobile(job.to), values["state"],
                        out.error)
    return [values["state"] for _, _, values in changes]


def _with_redaction(job: _Job, values: dict[str, Any]) -> dict[str, Any]:
    # Back in the queue (nothing was sent) the code is still needed; anything else, it is not.
    return values if values["state"] == "created" else {**values, **_redacted(job)}


def _attempt(px: Pishkhan, job: _Job, only_gateway: str | None = None) -> _Outcome:
    # No session is held during the call, so a slow provider cannot exhaust connections.
    # The moment the request leaves is written first: a worker that dies after this may have
    # sent it (look it up, never resend blindly); one that dies before provably did not.
    with px.engine.begin() as conn:
        conn.execute(update(Notification).where(Notification.id == job.id)
                     .values(request_sent_at=now()))
    try:
        return _try_gateways(px, job.org, job.kind, job.to, job.text, job.params, job.ref,
                             only_gateway)
    except Exception as exc:
        # A gateway bug (an answer of an unexpected shape, say) may come after the provider
        # took the message: treat it as ambiguous, and let the other messages be recorded.
        log.exception("sms %s: unexpected error from the gateway", job.id)
        return _Outcome("ambiguous", error=f"unexpected error: {exc!r}"[:500])


def dispatch_due(px: Pishkhan, limit: int = 50, concurrency: int | None = None) -> int:
    """Send what is due, ``concurrency`` calls to providers at once. Results are written as
    they come, a few rows per transaction; a worker that dies before writing them leaves its
    messages ``sending``, to be looked up by reference — never sent again blindly."""
    jobs = _claim(px, limit)
    if not jobs:
        return 0
    workers = max(1, min(concurrency or px.settings.sms_concurrency, len(jobs)))
    group = max(workers, 4)  # rows per transaction: a durable commit per message costs more
    done: list[tuple[_Job, _Outcome]] = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_attempt, px, job): job for job in jobs}
        try:
            for future in as_completed(futures):
                done.append((futures[future], future.result()))
                if len(done) >= group:
                    _record_sends(px, done)
                    done = []
        finally:
            if done:
                _record_sends(px, done)
    return len(jobs)


def dispatch_one(px: Pishkhan, note_id: int, gateway: str | None = None) -> str:
    """Send one queued message now, whatever the hour or the limits (``sms send-test``)."""
    jobs = _claim(px, 1, only=note_id)
    if not jobs:
        raise ValidationError({"id": msg("sms.not_queued", id=note_id)})
    return _record_sends(px, [(jobs[0], _attempt(px, jobs[0], gateway))])[0]


def listing(px: Pishkhan, to: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    with px.sessions() as s:
        stmt = select(Notification).order_by(Notification.id.desc()).limit(limit)
        if to:
            stmt = stmt.where(Notification.to == to)
        # A one-time code never shows in a listing, even while it waits to be sent.
        return [{"id": n.id, "to": n.to, "text": redact(n.text, n.params), "kind": n.kind,
                 "letter": n.letter.tracking_code if n.letter else None, "status": n.state,
                 "segments": n.segments, "gateway": n.gateway,
                 "provider_message_id": n.provider_message_id,
                 "provider_status": n.provider_status, "attempts": n.attempts,
                 "last_error": n.last_error,
                 "created_at": n.created_at.isoformat() + "Z"} for n in s.scalars(stmt)]
