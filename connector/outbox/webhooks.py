"""The webhook outbox: push notifications to integrators (a provincial portal, the government
service bus, the organization's own dashboards) instead of polling our API.

An event is a CloudEvents 1.0 JSON document, queued once per matching subscription in the same
transaction as the change it reports, and sent later by the worker under a claim with a lease,
so no two workers send one row at the same time and a worker that dies mid-send leaves a row
another takes over. Each request carries an HMAC-SHA256 of the body, keyed with the secret the
subscription names by environment variable.

Delivery is at least once with a stable event ``id``: a request that timed out after it went
out (the receiver may have taken it) is sent again, byte for byte the same, so a receiver that
keeps the ids it has processed — as CloudEvents asks of consumers — sees each event once.
Refusals (4xx) stop at once; everything else is retried with growing gaps up to a limit, then
the row is ``dead`` and shown on the dashboard until an admin retries it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import (
    DateTime,
    String,
    Text,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.engine import Connection

from connector.domain.clock import now
from connector.domain.errors import (
    ConfigurationError,
    ExternalError,
    Message,
    NotFound,
    PermanentError,
    ValidationError,
    msg,
)
from connector.outbox import runs
from connector.outbox.webhook_types import ALL, TYPES, unknown
from connector.store import plain
from connector.store.channels import WebhookDelivery, WebhookSubscription
from connector.store.db import for_claim, transaction

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Pishkhan-Signature"
MAX_ATTEMPTS = 12
LEASE = timedelta(minutes=2)
FIRST_GAP = timedelta(seconds=10)
MAX_GAP = timedelta(hours=1)
SMS_FAILURES = ("permanent-failure", "technical-failure", "temporary-failure")


# --- subscriptions ----------------------------------------------------------------------------

def subscribe(px: Pishkhan, org: str, url: str, secret_env: str,
              types: Iterable[str] = ("*",)) -> WebhookSubscription:
    """Add an endpoint for an organization's events. The secret stays in the environment."""
    px.org(org)  # NotFound for an organization we do not serve
    problems: dict[str, Message] = {}
    parts = urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        problems["url"] = msg("webhook.url")
    if not secret_env or not secret_env.replace("_", "").isalnum():
        problems["secret_env"] = msg("webhook.secret_env")
    wanted = sorted({t.strip() for t in types if t.strip()}) or [ALL]
    refused = unknown(wanted)
    if refused:
        problems["types"] = refused
    elif ALL in wanted:
        wanted = [ALL]  # "everything" and some types is everything
    if problems:
        raise ValidationError(problems)
    with transaction(px.sessions) as s:
        sub = WebhookSubscription(org=org, url=url.strip(), secret_env=secret_env,
                                  types=wanted, active=True)
        s.add(sub)
        s.flush()
        s.expunge(sub)
    return sub


def unsubscribe(px: Pishkhan, subscription_id: int) -> None:
    with transaction(px.sessions) as s:
        sub = s.get(WebhookSubscription, subscription_id)
        if sub is None:
            raise NotFound(f"webhook {subscription_id}")
        s.delete(sub)


def subscriptions(px: Pishkhan, org: str | None = None) -> list[WebhookSubscription]:
    with px.sessions() as s:
        stmt = select(WebhookSubscription).order_by(WebhookSubscription.id)
        if org:
            stmt = stmt.where(WebhookSubscription.org == org)
        return list(s.scalars(stmt).all())


# --- queueing ---------------------------------------------------------------------------------

def cloud_event(source: str, type_: str, subject: str | None, data: Mapping[str, Any],
                at: datetime | None = None) -> dict[str, Any]:
    event = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": source, "type": type_,
             "time": (at or now()).isoformat(timespec="seconds") + "Z",
             "datacontenttype": "application/json", "data": dict(data)}
    if subject:
        event["subject"] = subject
    return event


def _wants(dialect: str, type_: Any) -> Any:
    """SQL for "the subscription's types hold ``ALL`` or ``type_``", or None where unknown."""
    if dialect == "sqlite":
        types = func.json_each(WebhookSubscription.types).table_valued("value")
        return exists(select(literal(1)).select_from(types)
                      .where(types.c.value.in_([literal(ALL), type_])))
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import JSONB, array
        return cast(WebhookSubscription.types, JSONB).has_any(array([literal(ALL), type_]))
    return None


_QUEUE: dict[str, Any] = {}
_QUEUED = ("subscription_id", "org", "event_id", "type", "subject", "body", "state",
           "attempts", "next_attempt_at", "created_at")


def _queue_statement(dialect: str) -> Any:
    """One INSERT ... SELECT that queues an event for every subscription that wants it: the
    subscriptions are not read back into Python first (one round trip, not two; every letter
    handed in asks). Built once per dialect; None where :func:`_wants` has no SQL."""
    if dialect not in _QUEUE:
        type_, org = bindparam("type", type_=String), bindparam("org", type_=String)
        at = bindparam("at", type_=DateTime)
        wants = _wants(dialect, type_)
        _QUEUE[dialect] = None if wants is None else insert(WebhookDelivery).from_select(
            list(_QUEUED),
            select(WebhookSubscription.id, org, bindparam("event_id", type_=String), type_,
                   bindparam("subject", type_=String), bindparam("body", type_=Text),
                   literal("pending"), literal(0), at, at)
            .where(WebhookSubscription.org == org, WebhookSubscription.active.is_(True),
                   wants))
    return _QUEUE[dialect]


def queued(dialect: str, org: str, type_: str, subject: str | None,
           data: Mapping[str, Any]) -> tuple[str, Callable[[], Any], dict[str, Any]] | None:
    """The one statement that queues this event for every subscription that wants it, as
    (name, builder, values) for :func:`connector.store.plain.execute` or a chain; None where
    the database has no such statement (:func:`emit` reads the subscriptions first there)."""
    if _queue_statement(dialect) is None:
        return None
    return "webhooks.queue", lambda: _queue_statement(dialect), _values(org, type_, subject,
                                                                         data)


def _values(org: str, type_: str, subject: str | None, data: Mapping[str, Any]
            ) -> dict[str, Any]:
    assert type_ in TYPES, f"{type_} is not in the registry (connector/outbox/webhook_types.py)"
    event = cloud_event(f"urn:pishkhan:org:{org}", type_, subject, data)
    body = json.dumps(event, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return {"org": org, "event_id": event["id"], "type": type_, "subject": subject,
            "body": body, "at": now()}


def emit(conn: Connection, org: str, type_: str, subject: str | None,
         data: Mapping[str, Any]) -> int:
    """Queue one event for every active subscription of ``org`` that wants it, on the caller's
    connection (and so in its transaction). Returns how many rows were queued."""
    one = queued(conn.dialect.name, org, type_, subject, data)
    if one is not None:
        # Compiled once (plain.execute): every letter handed in queues its event here.
        return plain.execute(conn, *one)
    v = _values(org, type_, subject, data)
    subs = conn.execute(select(WebhookSubscription.id, WebhookSubscription.types).where(
        WebhookSubscription.org == org, WebhookSubscription.active.is_(True))).all()
    wanted = [sub_id for sub_id, types in subs if ALL in types or type_ in types]
    if wanted:
        conn.execute(insert(WebhookDelivery), [
            {"subscription_id": sub_id, "org": org, "event_id": v["event_id"], "type": type_,
             "subject": subject, "body": v["body"], "state": "pending", "attempts": 0,
             "next_attempt_at": v["at"], "created_at": v["at"]} for sub_id in wanted])
    return len(wanted)


# --- sending ----------------------------------------------------------------------------------

def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does with our header: compare in constant time."""
    return hmac.compare_digest(sign(secret, body), signature or "")


@dataclass(frozen=True)
class _Job:
    id: int
    url: str
    secret_env: str
    body: str
    event_id: str
    type: str
    attempts: int


def _claim(px: Pishkhan, limit: int) -> list[_Job]:
    at = now()
    with transaction(px.sessions) as s:
        stmt = (select(WebhookDelivery, WebhookSubscription)
                .join(WebhookSubscription,
                      WebhookSubscription.id == WebhookDelivery.subscription_id)
                .where(WebhookDelivery.state.in_(("pending", "sending")),
                       WebhookDelivery.next_attempt_at <= at)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))
        jobs = []
        for row, sub in s.execute(for_claim(stmt, s)).all():
            if row.state == "sending" and row.claimed_until and row.claimed_until > at:
                continue
            # A row still "sending" here belonged to a worker that died: its attempt counts.
            row.state, row.claimed_until = "sending", at + LEASE
            row.attempts += 1
            row.next_attempt_at = at + LEASE
            jobs.append(_Job(row.id, sub.url, sub.secret_env, row.body, row.event_id, row.type,
                             row.attempts))
        return jobs


def _gap(attempts: int) -> timedelta:
    gap = min(MAX_GAP, FIRST_GAP * (2 ** max(0, attempts - 1)))
    return gap * random.uniform(0.8, 1.2)


def _send(px: Pishkhan, job: _Job) -> tuple[str, str | None]:
    secret = px.settings.env.get(job.secret_env, "")
    if not secret:
        return "config", f"the environment variable {job.secret_env} holding the secret is empty"
    body = job.body.encode()
    headers = {"Content-Type": "application/cloudevents+json; charset=utf-8",
               SIGNATURE_HEADER: sign(secret, body), "X-Pishkhan-Event-Id": job.event_id,
               "X-Pishkhan-Attempt": str(job.attempts), "User-Agent": "Pishkhan-Webhooks/1"}
    try:
        px.webhook_sink.post(job.url, body, headers)
    except PermanentError as exc:
        return "dead", f"{exc.kind}: {exc.detail}"
    except ExternalError as exc:
        return "retry", f"{exc.kind}: {exc.detail}"
    except ConfigurationError as exc:
        return "config", exc.detail
    except Exception as exc:  # a bug must not strand the row in "sending"
        log.exception("webhook %s failed unexpectedly", job.id)
        return "retry", f"ambiguous: {type(exc).__name__}"
    return "delivered", None


def _record(px: Pishkhan, job: _Job, outcome: str, error: str | None) -> None:
    at = now()
    values: dict[str, Any] = {"claimed_until": None, "last_error": error}
    if outcome == "delivered":
        values.update(state="delivered", delivered_at=at, next_attempt_at=None)
    elif outcome == "dead" or job.attempts >= MAX_ATTEMPTS:
        values.update(state="dead", next_attempt_at=None)
        log.error("webhook %s (%s) is dead after %s attempts: %s", job.id, job.type,
                  job.attempts, error)
    else:
        values.update(state="pending", next_attempt_at=at + _gap(job.attempts))
        log.warning("webhook %s (%s) attempt %s failed: %s", job.id, job.type, job.attempts,
                    error)
    with px.engine.begin() as conn:
        # Only while the claim is ours: a worker that outlived its lease records nothing.
        conn.execute(update(WebhookDelivery).where(WebhookDelivery.id == job.id,
                                                   WebhookDelivery.state == "sending",
                                                   WebhookDelivery.attempts == job.attempts)
                     .values(**values))


def dispatch_due(px: Pishkhan, limit: int = 100, concurrency: int = 4,
                 seconds: float = runs.RUN_SECONDS) -> int:
    """Send the due events, ``concurrency`` at a time, claimed ``limit`` at a time, batch
    after batch while there are more (see :mod:`connector.outbox.runs`). Returns how many
    were tried."""
    return runs.in_batches(lambda: _send_batch(px, limit, concurrency), limit, seconds)


def _send_batch(px: Pishkhan, limit: int, concurrency: int) -> int:
    jobs = _claim(px, limit)
    if not jobs:
        return 0

    def run(job: _Job) -> None:
        _record(px, job, *_send(px, job))

    if concurrency <= 1 or len(jobs) == 1:
        for job in jobs:
            run(job)
    else:
        with ThreadPoolExecutor(min(concurrency, len(jobs)),
                                thread_name_prefix="webhooks") as pool:
            list(pool.map(run, jobs))
    return len(jobs)


def retry(px: Pishkhan, delivery_id: int) -> None:
    """An admin's retry of a dead event: its attempts start again."""
    with px.engine.begin() as conn:
        done = conn.execute(update(WebhookDelivery)
                            .where(WebhookDelivery.id == delivery_id,
                                   WebhookDelivery.state == "dead")
                            .values(state="pending", attempts=0, next_attempt_at=now(),
                                    last_error=None)).rowcount
    if not done:
        raise NotFound(f"no dead webhook event {delivery_id}")


def summary(px: Pishkhan, org: str) -> dict[str, int]:
    """Events per state for the dashboard (an indexed count, not a scan of the bodies)."""
    with px.sessions() as s:
        rows = s.execute(select(WebhookDelivery.state, func.count())
                         .where(WebhookDelivery.org == org)
                         .group_by(WebhookDelivery.state)).all()
    return {state: n for state, n in rows}


def retrying(px: Pishkhan, org: str) -> int:
    """Events not delivered yet whose last attempt failed (they will be tried again)."""
    with px.sessions() as s:
        return s.scalar(select(func.count()).select_from(WebhookDelivery)
                        .where(WebhookDelivery.org == org,
                               WebhookDelivery.state.in_(("pending", "sending")),
                               WebhookDelivery.last_error.is_not(None))) or 0


def failures(px: Pishkhan, org: str, limit: int = 50) -> list[WebhookDelivery]:
    """Dead events and those that failed at least once, newest first."""
    with px.sessions() as s:
        return list(s.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.org == org,
                   WebhookDelivery.state.in_(("dead", "pending", "sending")),
                   WebhookDelivery.last_error.is_not(None))
            .order_by(WebhookDelivery.id.desc()).limit(limit)).all())
