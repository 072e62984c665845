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

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from connector.domain.clock import now
from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    ExternalError,
    NotFound,
    PermanentError,
    ValidationError,
)
from connector.domain.normalize import mask_mobile
from connector.outbox.policy import URGENT_KINDS, GatewayConfig
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
    org = org or (letter.org if letter else None)
    overrides = px.orgs[org].texts if org in px.orgs else None
    if org in px.orgs:
        variables = {"org_name": px.orgs[org].name, **variables}
    text = px.texts.render(kind, variables, overrides)
    # A provider's OTP template line is filled with the code alone.
    params = {"code": str(variables["code"])} if kind == "otp" and "code" in variables else None
    note = Notification(org=org, letter=letter, to=to, kind=kind, text=text,
                        segments=px.texts.segments(text), state="created", params=params,
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


def _env_int(px: Pishkhan, name: str, default: int) -> int:
    try:
        return int(px.settings.env.get(name, "") or default)
    except ValueError:
        log.error("%s is not a whole number; using %s", name, default)
        return default


# --- sending -------------------------------------------------------------------------------

class _Budget:
    """What the rate limits leave for this minute: the platform's and each organization's.
    The last minute's sends are counted only when some limit is set."""

    def __init__(self, px: Pishkhan, s: Session, at: datetime) -> None:
        self.session, self.since = s, at - timedelta(minutes=1)
        self.global_limit = _env_int(px, "PISHKHAN_SMS_RATE_PER_MINUTE", 0) or None
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
        return [conn.execute(update(Notification).where(Notification.id == note_id,
                                                        Notification.state.in_(expect))
                             .values(updated_at=now(), **values)).rowcount == 1
                for note_id, expect, values in changes]


def _settle(px: Pishkhan, note_id: int, expect: tuple[str, ...], **values: Any) -> bool:
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
        values.update(state="created", sent_at=None, gateway=None,
                      next_attempt_at=at + timedelta(seconds=min(600, 5 * 2 ** attempts)))
    return values


def _record_sends(px: Pishkhan, done: list[tuple[_Job, _Outcome]]) -> list[str]:
    changes = [(job.id, ("sending",), _send_values(job.attempts, out)) for job, out in done]
    for ok, (job, out), (_, _, values) in zip(_settle_many(px, changes), done, changes):
        if not ok:
            log.info("sms %s was settled elsewhere while it was being sent", job.id)
        if out.error:
            log.warning("sms %s to %s (%s): %s", job.id, mask_mobile(job.to), values["state"],
                        out.error)
    return [values["state"] for _, _, values in changes]


def _attempt(px: Pishkhan, job: _Job, only_gateway: str | None = None) -> _Outcome:
    # No session is held during the call, so a slow provider cannot exhaust connections.
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
    workers = max(1, min(concurrency or _env_int(px, "PISHKHAN_SMS_CONCURRENCY", 4), len(jobs)))
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
        raise ValidationError({"id": f"پیامک {note_id} در صف ارسال نیست"})
    return _record_sends(px, [(jobs[0], _attempt(px, jobs[0], gateway))])[0]


# --- following up --------------------------------------------------------------------------

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
    ok = _settle(px, note_id, expect, **values)
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
                                n.client_reference, n.checks, n.kind))
        return found


def _reconcile(px: Pishkhan, c: _Check) -> None:
    """A send that may or may not have happened: ask by our reference the provider it went to
    (or, if the worker died before that was written, every provider of the organization)."""
    policy = px.sms_policy(c.org)
    names = [c.gateway] if c.gateway else [g.name for g in policy.gateways]
    gateways = [(name, px.gateway(c.org, name)) for name in names]
    if not all(g.capabilities.supports_status_by_reference for _, g in gateways):
        # Nothing can tell; a resend could be a second SMS. The sweeper settles it, or an
        # admin decides with `pishkhan sms retry`.
        _settle(px, c.id, ("sending",), next_attempt_at=now() + STUCK_AFTER)
        return
    for name, gateway in gateways:
        result = gateway.find(c.ref)
        if result is not None:
            state = result.status if result.status in IN_FLIGHT + tuple(FINAL) else "sending"
            _settle(px, c.id, ("sending",), provider_message_id=result.provider_message_id,
                    state=state, gateway=name, provider_status=result.raw[:40] or None,
                    last_error=None, completed_at=now() if state in FINAL else None)
            return
    if c.checks >= NOT_FOUND_CHECKS and c.kind == "otp":
        # A one-time code is never sent again: it has expired by now, and a template send
        # (the usual way for codes) carries no reference, so "not found" proves nothing.
        _settle(px, c.id, ("sending",), state="temporary-failure", completed_at=now(),
                last_error="one-time code not confirmed; not sent again (the citizen can ask "
                           "for a new code)")
        return
    if c.checks >= NOT_FOUND_CHECKS:
        # checks restart at zero: a resend that is lost too gets the same three look-ups.
        _settle(px, c.id, ("sending",), state="created", next_attempt_at=now(), sent_at=None,
                checks=0,
                last_error=f"{', '.join(names)}: no message under our reference; sending again")


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
        done = s.execute(update(Notification).where(
            Notification.state.in_(IN_FLIGHT), Notification.sent_at <= at - STUCK_AFTER)
            .values(state="temporary-failure", completed_at=at, updated_at=at,
                    last_error="no final status from the provider within 72 hours"))
        return done.rowcount


def retry(px: Pishkhan, note_id: int) -> None:
    """An admin sends a failed message again, under a new reference (the provider may keep
    the old one and refuse it as a duplicate)."""
    with transaction(px.sessions) as s:
        note = s.get(Notification, note_id)
        if note is None:
            raise NotFound(f"sms {note_id}")
        if note.state not in FINAL - {"delivered"}:
            raise ValidationError({"id": f"پیامک {note_id} در وضعیت «{note.state}» است؛ فقط "
                                         "پیامکی که نرسیده دوباره فرستاده می‌شود"})
        note.last_error = f"retried by an admin (was {note.state}, ref {note.client_reference})"
        note.state, note.attempts, note.checks = "created", 0, 0
        note.client_reference = uuid.uuid4().hex
        note.provider_message_id = note.provider_status = None
        note.sent_at = note.completed_at = None
        note.next_attempt_at = now()


def listing(px: Pishkhan, to: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    with px.sessions() as s:
        stmt = select(Notification).order_by(Notification.id.desc()).limit(limit)
        if to:
            stmt = stmt.where(Notification.to == to)
        return [{"id": n.id, "to": n.to, "text": n.text, "kind": n.kind,
                 "letter": n.letter.tracking_code if n.letter else None, "status": n.state,
                 "segments": n.segments, "gateway": n.gateway,
                 "provider_message_id": n.provider_message_id,
                 "provider_status": n.provider_status, "attempts": n.attempts,
                 "last_error": n.last_error,
                 "created_at": n.created_at.isoformat() + "Z"} for n in s.scalars(stmt)]
