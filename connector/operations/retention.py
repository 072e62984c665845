"""Retention and destruction: personal data is kept only as long as each organization's
``[retention]`` table says (connector/config/retention.py), then destroyed by the worker's daily
job or by ``pishkhan retention run [--dry-run]``.

What goes, and when:
- files held between the steps of the letter form and never sent (blobs no attachment refers
  to) after ``drafts_hours``, counted from the last time they were written or used;
- one-time-code challenges after ``otp_days``; citizens' tokens ``tokens_days`` after expiry;
- SMS texts (and all but the ends of the number) after ``sms_text_days``: the row stays, so
  every count of messages still adds up;
- letters, with their timeline, survey and attachments, ``letters_years`` after they closed
  (closed, rejected or withdrawn). An anonymous statistics row is written in the same
  transaction (connector/operations/reports.py reads it), so the reports of any period show the
  same totals afterwards.

Drafts, challenges, tokens and platform SMS belong to no one organization: the shortest period
any organization sets applies. Every destruction is an audit record (``retention.*``) saying
what went and why, in the transaction that destroys it. Safe to run from several workers at
once: rows are locked or removed by single statements, and nothing is recorded twice. Every
writing transaction here locks the end of the audit chain *before* any other row, so two
workers' runs (one redacting an organization's SMS, one destroying a letter and its SMS) cannot
deadlock over the outbox rows.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from connector.config.retention import RetentionPolicy
from connector.domain.clock import now
from connector.domain.letter import FINAL
from connector.operations.reports import letter_facts
from connector.plugins.ports import SMS_FINAL
from connector.store import audit
from connector.store.channels import Email, InboundSms
from connector.store.db import transaction
from connector.store.models import (
    ApiToken,
    Attachment,
    Letter,
    LetterStatistic,
    Notification,
    OtpChallenge,
)
from connector.visits import retention as visits_retention

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)

BATCH = 100
REDACTED = ""


@dataclass
class Destruction:
    """One line of a retention run: what (kind), whose (org, "" = the platform), how many, why."""

    kind: str
    org: str
    count: int
    reason: str
    items: list[str] = field(default_factory=list)  # tracking codes of destroyed letters


def _shortest(px: Pishkhan, key: str) -> tuple[timedelta, str]:
    policies = [(org.retention, slug) for slug, org in sorted(px.orgs.items())] or \
        [(RetentionPolicy(), "default")]
    policy, slug = min(policies, key=lambda p: p[0].period(key))
    value = getattr(policy, key)
    return policy.period(key), f"{key} = {value:g} (the shortest, set by {slug})"


def run(px: Pishkhan, dry_run: bool = False, at: datetime | None = None
        ) -> list[Destruction]:
    """Destroy (or, with ``dry_run``, only count) everything past its retention period."""
    at = at or now()
    done: list[Destruction] = []
    for slug, org in sorted(px.orgs.items()):
        done += _letters(px, slug, org.retention, at, dry_run)
        done += _sms_texts(px, slug, org.retention.period("sms_text_days"),
                           f"sms_text_days = {org.retention.sms_text_days:g}", at, dry_run)
        done.append(Destruction("visits", slug, *visits_retention.run(
            px, slug, org.retention, at, dry_run)))
    period, why = _shortest(px, "sms_text_days")
    done += _sms_texts(px, None, period, why, at, dry_run)
    done += _otp_and_tokens(px, at, dry_run)
    done += _drafts(px, at, dry_run)
    for d in (d for d in done if d.count):
        log.info("retention%s: %s %s of %s (%s)", " (dry run)" if dry_run else "", d.count,
                 d.kind, d.org or "the platform", d.reason)
    return [d for d in done if d.count]


# --- letters ----------------------------------------------------------------------------------

def _letters(px: Pishkhan, slug: str, policy: RetentionPolicy, at: datetime, dry_run: bool
             ) -> list[Destruction]:
    cutoff = at - policy.period("letters_years")
    reason = f"letters_years = {policy.letters_years:g}: closed before {cutoff:%Y-%m-%d}"
    due = (Letter.org == slug, Letter.state.in_([s.value for s in FINAL]),
           Letter.updated_at < cutoff)
    summary = Destruction("letters", slug, 0, reason)
    if dry_run:
        with px.sessions() as s:
            summary.items = list(s.scalars(select(Letter.tracking_code).where(*due)
                                           .order_by(Letter.id)))
        summary.count = len(summary.items)
        return [summary]
    after = 0
    while True:
        with transaction(px.sessions) as s:
            audit.hold_chain(s)  # first: see the module's docstring
            stmt = select(Letter).where(*due, Letter.id > after).order_by(Letter.id) \
                .limit(BATCH).options(selectinload(Letter.attachments),
                                      selectinload(Letter.events),
                                      selectinload(Letter.survey))
            if s.get_bind().dialect.name != "sqlite":
                stmt = stmt.with_for_update(skip_locked=True, of=Letter)
            batch = list(s.scalars(stmt))
            if not batch:
                break
            after = batch[-1].id
            facts = dict(letter_facts(s, Letter.id.in_([letter.id for letter in batch])))
            digests: set[str] = set()
            for letter in batch:
                fact = facts[letter.id]
                s.add(LetterStatistic(
                    org=letter.org, unit_code=fact.unit_code, service_code=fact.service_code,
                    channel=letter.channel, state=fact.state, created_at=fact.created_at,
                    approved=fact.approved, rejected=fact.rejected,
                    registered_at=fact.registered_at, answered_at=fact.answered_at,
                    score=fact.score, attachments=len(letter.attachments), destroyed_at=at))
                redacted = _redact(s, Notification.letter_id == letter.id)
                # The outbox rows stay (counted) but no longer point at the letter.
                s.execute(update(Notification).where(Notification.letter_id == letter.id)
                          .values(letter_id=None)
                          .execution_options(synchronize_session=False))
                # E-mails and texts the citizen sent about it hold an address, a mobile and
                # words of theirs: they go with the letter (issue 14's channels).
                s.execute(delete(Email).where(Email.letter_id == letter.id)
                          .execution_options(synchronize_session=False))
                s.execute(delete(InboundSms).where(InboundSms.letter_id == letter.id)
                          .execution_options(synchronize_session=False))
                audit.record(s, "retention.letter_destroyed", org=letter.org,
                             letter=letter.tracking_code, reason=reason,
                             state=letter.state, closed_at=letter.updated_at.isoformat(),
                             attachments=len(letter.attachments), events=len(letter.events),
                             survey=letter.survey is not None, sms_redacted=redacted)
                digests.update(a.sha256 for a in letter.attachments)
                summary.items.append(letter.tracking_code)
                s.delete(letter)
            s.flush()
            summary.count += len(batch)
        # After the commit: the letters are gone, so their files may go too — unless another
        # letter holds the same file, or it was put again just now (a new letter on its way).
        _delete_unreferenced(px, digests, at - timedelta(minutes=10))
    return [summary]


def _delete_unreferenced(px: Pishkhan, digests: set[str], touched_before: datetime) -> int:
    if not digests:
        return 0
    with px.sessions() as s:
        kept = set(s.scalars(select(Attachment.sha256).where(
            Attachment.sha256.in_(sorted(digests)))))
    gone = [d for d in sorted(digests - kept) if px.blobs.claim(d, touched_before)]
    for digest in gone:
        px.blobs.purge(digest)
    return len(gone)


# --- SMS texts --------------------------------------------------------------------------------

def _masked_number() -> object:
    # 09121234567 -> 0912***4567: enough for an admin to tell messages apart, not to call.
    return func.substr(Notification.to, 1, 4) + "***" + func.substr(Notification.to, 8, 4)


def _redact(s: Session, *where: ColumnElement[bool]) -> int:
    result = s.execute(update(Notification).where(*where, Notification.text != REDACTED)
                       .values(text=REDACTED, params=None, to=_masked_number())
                       .execution_options(synchronize_session=False))
    return result.rowcount or 0


def _sms_texts(px: Pishkhan, slug: str | None, period: timedelta, why: str, at: datetime,
               dry_run: bool) -> list[Destruction]:
    # Messages still to be sent keep their text whatever their age; a final one is done with.
    due = (Notification.org == slug if slug else Notification.org.is_(None),
           Notification.created_at < at - period, Notification.state.in_(sorted(SMS_FINAL)),
           Notification.text != REDACTED)
    reason = f"{why}: texts and numbers blanked, the messages still counted"
    with transaction(px.sessions) as s:
        if dry_run:
            count = s.scalar(select(func.count()).select_from(Notification).where(*due)) or 0
        else:
            audit.hold_chain(s)
            count = _redact(s, *due)
            if count:
                audit.record(s, "retention.sms_redacted", org=slug or "", count=count,
                             reason=reason)
    return [Destruction("sms texts", slug or "", count, reason)]


# --- codes, tokens, drafts ----------------------------------------------------------------------

def _otp_and_tokens(px: Pishkhan, at: datetime, dry_run: bool) -> list[Destruction]:
    done = []
    for kind, key, model, column in (
            ("otp challenges", "otp_days", OtpChallenge, OtpChallenge.created_at),
            ("tokens", "tokens_days", ApiToken, ApiToken.expires_at)):
        period, why = _shortest(px, key)
        cutoff = at - period
        with transaction(px.sessions) as s:
            if dry_run:
                count = s.scalar(select(func.count()).select_from(model)
                                 .where(column < cutoff)) or 0
            else:
                audit.hold_chain(s)
                count = s.execute(delete(model).where(column < cutoff)
                                  .execution_options(synchronize_session=False)).rowcount or 0
                if count:
                    audit.record(s, f"retention.{key.split('_')[0]}_destroyed", count=count,
                                 reason=why, before=cutoff.isoformat(timespec="seconds"))
        done.append(Destruction(kind, "", count, why))
    return done


def _drafts(px: Pishkhan, at: datetime, dry_run: bool) -> list[Destruction]:
    """Blobs no attachment refers to and nobody has used for ``drafts_hours``: files held
    between the steps of the letter form, their listings, and files of destroyed letters
    whose deletion was interrupted."""
    period, why = _shortest(px, "drafts_hours")
    cutoff = at - period
    old = [b for b in px.blobs.all() if b.touched_at < cutoff]
    due = []
    for i in range(0, len(old), 500):
        chunk = old[i:i + 500]
        with px.sessions() as s:
            used = set(s.scalars(select(Attachment.sha256).where(
                Attachment.sha256.in_([b.digest for b in chunk]))))
        due += [b for b in chunk if b.digest not in used]
    if dry_run:
        return [Destruction("held files", "", len(due), why)]
    # Set aside first (of several workers, one wins each file; a file put again meanwhile is
    # kept), recorded, then deleted: a crash before the record leaves files set aside, which a
    # later run records and deletes.
    sizes = {b.digest: b.size for b in due}
    gone = [b.digest for b in due if px.blobs.claim(b.digest, untouched_since=cutoff)]
    gone += px.blobs.set_aside()
    gone = sorted(set(gone))
    if gone:
        with transaction(px.sessions) as s:
            audit.record(s, "retention.drafts_destroyed", count=len(gone),
                         bytes=sum(sizes.get(d, 0) for d in gone),
                         reason=f"{why}: held files never sent", blobs=gone[:100])
        for digest in gone:
            px.blobs.purge(digest)
    return [Destruction("held files", "", len(gone), why)]

