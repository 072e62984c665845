"""The daily failure digest for admins: per organization, what failed in the last day and what
still needs a person (stopped letters, SMS that did not arrive, a failing routing poll). Handed
to a ``DigestOutbox``; the default writes one JSON line per admin to a file a day, for a mail
relay or a person to pick up. Sent once a day however many workers run."""
from __future__ import annotations

import abc
import json
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from connector.domain.clock import TEHRAN, local, now, to_naive_utc
from connector.domain.letter import State
from connector.operations.dashboard import SMS_FAILED, poll_status
from connector.store import audit
from connector.store.db import transaction
from connector.store.models import AuditRecord, Letter, Notification, OrgState, StaffUser

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

ADMIN_ROLES = ("org_admin", "platform_admin")


@dataclass(frozen=True)
class Digest:
    to: str  # the admin's username
    day: str  # Tehran date, ISO
    subject: str
    text: str


class DigestOutbox(abc.ABC):
    """Where digests go (a file for a mail relay, a mail server, a chat webhook)."""

    @abc.abstractmethod
    def send(self, digests: list[Digest]) -> None: ...


class FileOutbox(DigestOutbox):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, digests: list[Digest]) -> None:
        if not digests:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{digests[0].day}.jsonl"
        with open(path, "a", encoding="utf-8") as out:
            for d in digests:
                out.write(json.dumps(d.__dict__, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())


def tehran_day(at: datetime | None = None) -> date:
    return local(at or now()).date()


def org_section(px: Pishkhan, slug: str, since: datetime) -> list[str]:
    """Lines about one organization; empty when nothing needs attention."""
    org = px.org(slug)
    lines: list[str] = []
    with px.sessions() as s:
        stuck = s.execute(select(Letter.state, func.count()).where(
            Letter.org == slug, Letter.state.in_((State.DEAD.value,
                                                  State.DELIVERY_FAILED.value)))
            .group_by(Letter.state)).all()
        dead = s.scalars(select(Letter).where(Letter.org == slug,
                                              Letter.state == State.DEAD.value)
                         .order_by(Letter.updated_at).limit(20)).all()
        sms = s.scalar(select(func.count()).select_from(Notification).where(
            Notification.org == slug, Notification.state.in_(SMS_FAILED),
            Notification.updated_at >= since)) or 0
        poll = poll_status(s.get(OrgState, slug))
    counts = dict(stuck)
    if counts.get(State.DEAD.value):
        lines.append(f"- {counts[State.DEAD.value]} letters stopped (dead), waiting for a retry:")
        lines += [f"    {d.tracking_code}  attempts {d.attempts}  {d.last_error or ''}"
                  for d in dead]
    if counts.get(State.DELIVERY_FAILED.value):
        lines.append(f"- {counts[State.DELIVERY_FAILED.value]} letters failing delivery, "
                     "retried automatically")
    if sms:
        lines.append(f"- {sms} SMS not delivered in the last day")
    if poll.failing:
        lines.append(f"- routing poll failing: {poll.error}")
    if lines:
        lines.insert(0, f"{org.name} ({slug})")
    return lines


def build(px: Pishkhan, at: datetime | None = None) -> list[Digest]:
    """One digest per active admin with something to report about their organizations."""
    at = at or now()
    since = at - timedelta(days=1)
    day = tehran_day(at).isoformat()
    sections = {slug: org_section(px, slug, since) for slug in sorted(px.orgs)}
    with px.sessions() as s:
        admins = s.scalars(select(StaffUser).where(StaffUser.active.is_(True),
                                                   StaffUser.role.in_(ADMIN_ROLES))
                           .order_by(StaffUser.username)).all()
    digests = []
    for admin in admins:
        mine = [slug for slug in sections if sections[slug] and
                (admin.role == "platform_admin" or not admin.orgs or slug in admin.orgs)]
        if not mine:
            continue
        text = "\n\n".join("\n".join(sections[slug]) for slug in mine)
        digests.append(Digest(to=admin.username, day=day,
                              subject=f"Pishkhan failures {day}: {len(mine)} organizations",
                              text=text + f"\n\nDashboard: {px.settings.public_url}/admin/\n"))
    return digests


def run_daily(px: Pishkhan, outbox: DigestOutbox, at: datetime | None = None) -> int:
    """Build and send today's digests unless another worker already did; returns how many."""
    at = at or now()
    day = tehran_day(at)
    day_start = to_naive_utc(datetime(day.year, day.month, day.day, tzinfo=TEHRAN))
    try:
        with transaction(px.sessions) as s:
            # Holding the end of the audit chain makes a second worker wait here, then see this
            # record and send nothing (appending alone locks nothing any more).
            audit.hold_chain(s)
            audit.record(s, "digest.sent", actor=audit.SYSTEM, day=day.isoformat())
            sent_today = s.scalar(select(func.count()).select_from(AuditRecord).where(
                AuditRecord.action == "digest.sent", AuditRecord.at >= day_start)) or 0
            if sent_today > 1:
                raise _AlreadySent()
            digests = build(px, at)
            outbox.send(digests)
    except _AlreadySent:
        return 0
    return len(digests)


class _AlreadySent(Exception):
    pass
