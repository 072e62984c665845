"""What an admin watches and does per organization: letters per state, failed and dead
deliveries, SMS failures, poll lag and the adapter's health; retry, pause and resume delivery,
test the connection. Every action here is audited."""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from connector.bootstrap import check_plugins
from connector.config.organizations import Organization, Problem
from connector.domain.clock import now
from connector.domain.errors import ExternalError, PishkhanError
from connector.domain.letter import State
from connector.letters import promise
from connector.letters import usecases as letters
from connector.outbox import mail as mail_outbox
from connector.outbox import webhooks
from connector.plugins.ports import SMS_FINAL, Check
from connector.store import audit, tallies
from connector.store.channels import InboxCursor
from connector.store.db import transaction
from connector.store.models import Letter, Notification, OrgState

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

# Outbox states in which an SMS did not reach the citizen.
# Every final state but "delivered" (temporary-failure too: a phone off for 72 hours, or a
# send nobody can confirm), plus the names older rows may still carry.
SMS_FAILED = tuple(sorted(SMS_FINAL - {"delivered"})) + ("failed", "undelivered", "expired")
MAIL_FAILURES_SHOWN = timedelta(days=30)
# Letters an admin may have to look at, in the dashboard's order.


@dataclass(frozen=True)
class StateCount:
    state: str
    count: int
    oldest: datetime | None  # the least recently changed letter in this state


@dataclass(frozen=True)
class Poll:
    last_at: datetime | None
    last_ok_at: datetime | None
    error: str | None
    lag_seconds: float | None  # since the last successful poll; None = never polled

    @property
    def failing(self) -> bool:
        return bool(self.error) and (self.last_ok_at is None or
                                     (self.last_at is not None and self.last_at > self.last_ok_at))


@dataclass
class Dashboard:
    org: Organization
    counts: list[StateCount]
    failed: list[Letter]
    dead: list[Letter]
    sms_failures: list[Notification]
    paused: bool
    poll: Poll
    health: str  # ok | failing | paused | unknown
    problems: list[str] = field(default_factory=list)
    webhooks: dict[str, int] = field(default_factory=dict)  # events per state
    webhooks_retrying: int = 0  # events that failed at least once and will be tried again
    # Open letters past their promised date, with working days late (latest promise first).
    overdue: list[tuple[Letter, float]] = field(default_factory=list)
    mail_failures: list[Any] = field(default_factory=list)  # e-mails that will not arrive
    # Each SMS gateway's inbox reads (tracking by SMS): the last read and its error, if any.
    inboxes: list[InboxCursor] = field(default_factory=list)


def _org_state(s: Any, slug: str) -> OrgState | None:
    return s.get(OrgState, slug)


def poll_status(state: OrgState | None) -> Poll:
    if state is None:
        return Poll(None, None, None, None)
    lag = (now() - state.last_poll_ok_at).total_seconds() if state.last_poll_ok_at else None
    return Poll(state.last_poll_at, state.last_poll_ok_at, state.last_poll_error, lag)


def counts(px: Pishkhan, slug: str) -> list[StateCount]:
    found = {state: n for (_org, state), n in tallies.letter_counts(px, [slug]).items()}
    oldest = tallies.oldest(px, [(slug, state) for state in found])
    order = [st.value for st in State]
    return [StateCount(st, found[st], oldest.get((slug, st)))
            for st in sorted(found, key=order.index)]


def health_of(paused: bool, poll: Poll, failing_deliveries: int) -> str:
    if paused:
        return "paused"
    if poll.failing or failing_deliveries:
        return "failing"
    if poll.last_ok_at is None:
        return "unknown"
    return "ok"


def dashboard(px: Pishkhan, slug: str, limit: int = 100) -> Dashboard:
    org = px.org(slug)
    with px.sessions() as s:
        def letters_in(state: State) -> list[Letter]:
            return list(s.scalars(select(Letter).where(Letter.org == slug,
                                                       Letter.state == state.value)
                                  .order_by(Letter.updated_at).limit(limit)))
        failed, dead = letters_in(State.DELIVERY_FAILED), letters_in(State.DEAD)
        sms = list(s.scalars(select(Notification)
                             .where(Notification.org == slug,
                                    Notification.state.in_(SMS_FAILED))
                             .order_by(Notification.id.desc()).limit(limit)))
        state = _org_state(s, slug)
        paused = bool(state and state.paused)
        poll = poll_status(state)
        overdue = promise.overdue(px, s, [slug], limit)
        mails = mail_outbox.failed_since(s, slug, now() - MAIL_FAILURES_SHOWN, limit)
        inboxes = list(s.scalars(select(InboxCursor).where(InboxCursor.org == slug)
                                 .order_by(InboxCursor.gateway)))
    return Dashboard(org=org, counts=counts(px, slug), failed=failed, dead=dead,
                     sms_failures=sms, paused=paused, poll=poll, overdue=overdue,
                     mail_failures=mails, inboxes=inboxes,
                     health=health_of(paused, poll, len(failed) + len(dead)),
                     problems=[str(p) for p in config_problems(px, slug)],
                     webhooks=webhooks.summary(px, slug),
                     webhooks_retrying=webhooks.retrying(px, slug))


def overview(px: Pishkhan, slugs: list[str]) -> dict[str, dict[str, Any]]:
    """One line per organization for the dashboard's first page."""
    result: dict[str, dict[str, Any]] = {}
    by_org: dict[str, dict[str, int]] = {}
    for (org, state), n in tallies.letter_counts(px, slugs).items():
        by_org.setdefault(org, {})[state] = n
    with px.sessions() as s:
        states = {st.org: st for st in s.scalars(select(OrgState)
                                                  .where(OrgState.org.in_(slugs)))}
    for slug in slugs:
        c = by_org.get(slug, {})
        failing = c.get(State.DELIVERY_FAILED.value, 0) + c.get(State.DEAD.value, 0)
        st = states.get(slug)
        poll = poll_status(st)
        result[slug] = {"counts": c, "failing": failing, "poll": poll,
                        "health": health_of(bool(st and st.paused), poll, failing),
                        "problems": [p.message for p in config_problems(px, slug)]}
    return result


def set_paused(px: Pishkhan, slug: str, paused: bool) -> None:
    """Stop or restart delivery to the organization's system (and its routing polls)."""
    px.org(slug)
    for last in (False, True):
        try:
            with transaction(px.sessions) as s:
                state = _org_state(s, slug)
                if state is None:
                    state = OrgState(org=slug, cursor="")
                    s.add(state)
                state.paused = paused
                audit.record(s, "org.pause" if paused else "org.resume", org=slug)
            return
        except IntegrityError:
            # The worker (or another admin) created the organization's row between our look
            # and our insert; it is there now, so the second round updates it.
            if last:
                raise


def retry(px: Pishkhan, code: str) -> str:
    """An admin's retry of a failed or dead delivery; attempts start again from zero."""
    state = letters.retry(px, code)
    letter = letters.get(px, code)
    audit.log(px, "letter.retry", org=letter.org, letter=letter.tracking_code, state=state)
    return state


def retry_all_dead(px: Pishkhan, slug: str) -> int:
    with px.sessions() as s:
        codes = list(s.scalars(select(Letter.tracking_code).where(
            Letter.org == slug, Letter.state == State.DEAD.value)))
    for code in codes:
        retry(px, code)
    return len(codes)


# --- the organization view --------------------------------------------------------------------

_SECRET_KEY = re.compile(r"pass|secret|token|api_?key|private", re.I)
_URL_CREDENTIALS = re.compile(r"(//[^/:@]+:)[^@/]+@")
MASK = "••••••"


def masked(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options as an admin may see them: secret values hidden (``*_env`` keys name an
    environment variable, which is not itself a secret), passwords in URLs hidden too."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, Mapping):
            out[key] = masked(value)
        elif _SECRET_KEY.search(key) and not key.endswith("_env"):
            out[key] = MASK
        elif isinstance(value, str):
            out[key] = _URL_CREDENTIALS.sub(rf"\g<1>{MASK}@", value)
        else:
            out[key] = value
    return out


def config_problems(px: Pishkhan, slug: str) -> list[Problem]:
    """What ``pishkhan config check`` says about this organization's file."""
    path = str(px.org(slug).path)
    return [p for p in px.problems if p.file == path] + check_plugins(px, [slug])


@dataclass(frozen=True)
class ConnectionCheck:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def lines(self) -> list[str]:
        return [f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in self.checks]


def connection_check(px: Pishkhan, slug: str) -> ConnectionCheck:
    """The one connection check, for ``pishkhan adapter check ORG`` and the admin's «آزمایش
    اتصال» alike: the configuration builds, what it uses is there (WSDL operations, tables),
    reaching and signing in, and a dry-run look-up."""
    try:
        adapter = px.adapter(slug)
    except (ExternalError, PishkhanError) as exc:
        return ConnectionCheck([Check("configuration", False,
                                      getattr(exc, "detail", "") or str(exc))])
    built = Check("configuration", True, f"{px.org(slug).adapter.type} adapter for {slug}")
    return ConnectionCheck([built, *adapter.check()])


def test_connection(px: Pishkhan, slug: str) -> ConnectionCheck:
    """The admin's button: :func:`connection_check`, recorded in the audit trail."""
    result = connection_check(px, slug)
    audit.log(px, "org.test_connection", org=slug, ok=result.ok)
    return result
