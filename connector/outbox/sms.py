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
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, null, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from connector.domain.calendar import jalali_text
from connector.domain.clock import now
from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    ExternalError,
    PermanentError,
    ValidationError,
    msg,
)
from connector.domain.normalize import mask_mobile, to_persian_digits
from connector.outbox import runs, webhook_events, webhooks
from connector.outbox.policy import GatewayConfig
from connector.outbox.redaction import REDACTED, redact  # noqa: F401 (REDACTED: for callers)
from connector.outbox.sms_claim import Departures
from connector.outbox.sms_claim import Job as _Job
from connector.outbox.sms_claim import claim as _claim
from connector.plugins.ports import SMS_FINAL, SMS_STATES, SmsGateway, SmsResult
from connector.store.db import writer_turn
from connector.store.models import Letter, NamedLock, Notification

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
FINAL = SMS_FINAL
IN_FLIGHT = ("sending", "pending")
STUCK_AFTER = timedelta(hours=72)
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

@dataclass
class _Outcome:
    kind: str  # sent / ambiguous / permanent / failed / unsent (the request never left)
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
            # Not sent (a token the line refuses, a template not approved, a proxy in the
            # way): the plain text still gets the code to the citizen.
            log.warning("sms template %s on %s not sent, sending plain text: %s",
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


Change = tuple[int, tuple[str, ...], dict[str, Any]]  # id, the states it must be in, values


def _settle_many(px: Pishkhan, changes: list[Change],
                 attempts: list[int] | None = None) -> list[bool]:
    """Change each row only if it is still in one of its ``expect`` states; so a final status,
    once set, stays, and two workers cannot both settle one message. This runs for every
    message sent, so a batch costs one transaction and a few statements, not one per row:
    the rows still in their expected states are read and held first, then the rows that
    change alike are updated by one executemany. With ``attempts`` (one per change), a row
    changes only if it is still that claim's: a claim whose lease ran out and whose message
    was claimed again by another worker does not overwrite that worker's record."""
    at = now()
    with writer_turn(px.engine), px.engine.begin() as conn:  # see sms_claim.claim
        if len(changes) == 1:
            note_id, expect, values = changes[0]
            stmt = update(Notification).where(Notification.id == note_id,
                                              Notification.state.in_(expect))
            if attempts is not None:
                stmt = stmt.where(Notification.attempts == attempts[0])
            done = [conn.execute(stmt.values(updated_at=at, **values)).rowcount == 1]
        else:
            held = _hold(conn, changes, attempts)
            done = [note_id in held[expect] for note_id, expect, _ in changes]
            alike: dict[tuple[tuple[str, ...], tuple[str, ...]], list[Change]] = defaultdict(list)
            for ok, change in zip(done, changes):
                if ok:
                    alike[(change[1], tuple(sorted(change[2])))].append(change)
            for (_, keys), group in alike.items():
                # Held above, so still in their expected states: the id alone says which row.
                conn.execute(update(Notification).where(Notification.id == bindparam("b_id"))
                             .values(updated_at=at, **{k: bindparam(f"b_{k}") for k in keys}),
                             [{"b_id": note_id, **{f"b_{k}": v for k, v in values.items()}}
                              for note_id, _, values in group])
        failed = [note_id for ok, (note_id, _, values) in zip(done, changes)
                  if ok and values.get("state") in webhooks.SMS_FAILURES]
        if failed:
            _tell_failures(conn, failed)
        return done


def _hold(conn: Connection, changes: list[Change],
          attempts: list[int] | None = None) -> dict[tuple[str, ...], set[int]]:
    """Per ``expect``, the ids still in one of those states, held until the transaction ends:
    locked rows on a server database; on SQLite, whose driver reads outside any transaction,
    the one write lock is taken first (as :func:`connector.store.db.hold_lock` does)."""
    if conn.dialect.name == "sqlite":
        conn.execute(update(NamedLock).where(NamedLock.name == "sms.settle")
                     .values(name=NamedLock.name))
    wanted: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for note_id, expect, _ in changes:
        wanted[expect].append(note_id)
    claims = {change[0]: n for change, n in zip(changes, attempts)} if attempts else {}
    held: dict[tuple[str, ...], set[int]] = {}
    for expect, ids in wanted.items():
        stmt = select(Notification.id, Notification.attempts).where(
            Notification.id.in_(ids), Notification.state.in_(expect))
        if conn.dialect.name != "sqlite":
            stmt = stmt.with_for_update()
        held[expect] = {note_id for note_id, n in conn.execute(stmt)
                        if claims.get(note_id, n) == n}
    return held


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
    """Write the sends' results, each only if its row is still this claim's; a job that was
    not sent ("unsent": its claim was lost before the request left) writes nothing."""
    done = [(job, out) for job, out in done if out.kind != "unsent"]
    if not done:
        return []
    changes = [(job.id, ("sending",), _with_redaction(job, _send_values(job.attempts, out)))
               for job, out in done]
    settled = _settle_many(px, changes, [job.attempts for job, _ in done])
    for ok, (job, out), (_, _, values) in zip(settled, done, changes):
        if not ok:
            log.info("sms %s was settled elsewhere while it was being sent", job.id)
        if out.error:
            log.warning("sms %s to %s (%s): %s", job.id, mask_mobile(job.to), values["state"],
                        out.error)
    return [values["state"] for _, _, values in changes]


def _with_redaction(job: _Job, values: dict[str, Any]) -> dict[str, Any]:
    # Back in the queue (nothing was sent) the code is still needed; anything else, it is not.
    return values if values["state"] == "created" else {**values, **_redacted(job)}


def _attempt(px: Pishkhan, job: _Job, only_gateway: str | None = None,
             departures: Departures | None = None) -> _Outcome:
    # No session is held during the call, so a slow provider cannot exhaust connections.
    # The moment the request leaves is written first: a worker that dies after this may have
    # sent it (look it up, never resend blindly); one that dies before provably did not.
    try:
        if not (departures or Departures(px)).leave(job.id, job.attempts):
            # The lease ran out while the job waited; the row is no longer this claim's.
            log.info("sms %s: its claim was lost before it was sent; not sent", job.id)
            return _Outcome("unsent", error="claim lost before sending")
    except Exception as exc:
        # The departure could not be written, so the request never left: the row stays
        # claimed and the status job queues it again once its lease runs out.
        log.exception("sms %s: its departure could not be written; not sent", job.id)
        return _Outcome("unsent", error=f"departure not written: {exc!r}"[:500])
    try:
        return _try_gateways(px, job.org, job.kind, job.to, job.text, job.params, job.ref,
                             only_gateway)
    except Exception as exc:
        # A gateway bug (an answer of an unexpected shape, say) may come after the provider
        # took the message: treat it as ambiguous, and let the other messages be recorded.
        log.exception("sms %s: unexpected error from the gateway", job.id)
        return _Outcome("ambiguous", error=f"unexpected error: {exc!r}"[:500])


def dispatch_due(px: Pishkhan, limit: int | None = None, concurrency: int | None = None,
                 seconds: float = runs.RUN_SECONDS) -> int:
    """Send the due messages, ``concurrency`` calls to providers at once, until none is due
    (or ``limit`` are claimed, when given); returns how many were claimed. There is no batch
    per tick: a busy queue is sent at the full concurrency, and a tick only starts a run. A
    run stops claiming after ``seconds`` (the next tick goes on), so a worker asked to stop
    waits for the calls in flight, not for the whole queue.

    Messages are claimed a little ahead of the senders, two rounds at a time, while the calls
    of the round before are in flight: the senders never wait for a claim, and no message
    waits claimed in this process for long (its lease keeps running). Results are written as
    they come, a few rows per transaction; a worker that dies before writing them leaves its
    messages ``sending``, to be looked up by reference — never sent again blindly. If anything
    fails on the way (a claim, a batch of results), the jobs not started yet are dropped (no
    departure written: they are queued again once their lease runs out) and those started are
    waited for and recorded before the error goes on."""
    workers = max(1, concurrency or px.settings.sms_concurrency)
    group = max(workers, 4)  # rows per transaction: a durable commit per message costs more
    departures = Departures(px)
    claimed, more = 0, True
    stop_claiming = time.monotonic() + seconds
    jobs: dict[Future[_Outcome], _Job] = {}
    done: list[tuple[_Job, _Outcome]] = []
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        try:
            while True:
                room = 2 * workers - len(jobs)
                if limit is not None:
                    room = min(room, limit - claimed)
                if more and room > 0 and len(jobs) <= workers and \
                        (not claimed or time.monotonic() < stop_claiming):
                    want = room
                    batch = _claim(px, want)
                    more = len(batch) == want
                    claimed += len(batch)
                    jobs.update({pool.submit(_attempt, px, job, None, departures): job
                                 for job in batch})
                if not jobs:
                    break
                finished, _ = wait(jobs, return_when=FIRST_COMPLETED)
                for future in finished:
                    done.append((jobs.pop(future), future.result()))
                if len(done) >= group or not jobs:
                    _record_sends(px, done)
                    done = []
        except BaseException:
            # Jobs not started yet never wrote a departure: they stay claimed, and the status
            # job queues them again once their lease runs out. Started ones may have sent.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    finally:
        pool.shutdown(wait=True)  # the started ones finish, and their results are kept
        for future, job in jobs.items():
            if future.cancelled():
                continue
            try:
                done.append((job, future.result()))
            except Exception:  # left `sending`: looked up by reference, never resent blindly
                log.exception("sms %s: the send job failed", job.id)
        if done:
            _record_sends(px, done)
    return claimed


def dispatch_one(px: Pishkhan, note_id: int, gateway: str | None = None) -> str:
    """Send one queued message now, whatever the hour or the limits (``sms send-test``)."""
    jobs = _claim(px, 1, only=note_id)
    if not jobs:
        raise ValidationError({"id": msg("sms.not_queued", id=note_id)})
    out = _attempt(px, jobs[0], gateway)
    if out.kind == "unsent":
        raise ValidationError({"id": msg("sms.not_queued", id=note_id)})
    return _record_sends(px, [(jobs[0], out)])[0]


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
