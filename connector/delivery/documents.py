"""Documents a citizen added to a letter already in the organization's system, sent to that
same letter where its adapter can add files (``capabilities.add_attachments``).

The files are stored with the letter at once (their positions join ``pending_files``) and sent
by the worker under a claim with a lease, like a delivery. A claim takes the positions pending
at that moment and settling removes only those, so files the citizen adds while the worker
sends earlier ones stay pending for the next run. Transient and ambiguous failures are retried
with growing pauses (the adapter skips a file the letter already has, so a retry adds nothing
twice). A permanent failure, or too many tries, sends the files instead as a follow-up letter
linked to the first, so nothing the citizen sent is lost; the letter's files are looked up
first where the adapter can, and those already on it are not sent again. Both outcomes are on
the letter's timeline.

Names are sent as :func:`connector.letters.files.unique_names` gives them for the letter's
whole file list, the same list the delivery used: a second ``image.jpg`` goes as
``image-2.jpg``, never mistaken for the first."""
from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.domain.clock import now
from connector.domain.errors import AmbiguousError, ExternalError, TransientError
from connector.domain.letter import OutgoingAttachment
from connector.letters import files as file_names
from connector.letters import followups, lifecycle
from connector.store.db import for_claim, for_update, transaction
from connector.store.models import Attachment, Letter

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
BACKOFF_BASE, BACKOFF_CAP = 30.0, 3600.0


@dataclass(frozen=True)
class Job:
    """One letter's claimed files: their positions, and the files as the system gets them."""

    letter_id: int
    org: str
    external_id: str
    code: str
    positions: tuple[int, ...]
    files: tuple[OutgoingAttachment, ...]
    attempts: int


def _claim(px: Pishkhan, limit: int) -> list[Job]:
    at = now()
    with transaction(px.sessions) as s:
        stmt = (select(Letter).where(Letter.files_retry_at.is_not(None),
                                     Letter.files_retry_at <= at)
                .order_by(Letter.files_retry_at).limit(limit))
        jobs = []
        for letter in s.scalars(for_claim(stmt, s)).all():
            letter.files_retry_at, letter.files_attempts = at + LEASE, letter.files_attempts + 1
            wanted = set(letter.pending_files or [])
            names = file_names.unique_names([a.name for a in letter.attachments])
            taken = [(a, name) for a, name in zip(letter.attachments, names)
                     if a.position in wanted]
            jobs.append(Job(letter.id, letter.org, letter.external_id or "",
                            letter.tracking_code, tuple(a.position for a, _ in taken),
                            tuple(OutgoingAttachment(name, a.content_type, px.blobs.get(a.sha256))
                                  for a, name in taken), letter.files_attempts))
        return jobs


def _retries(error: ExternalError, attempts: int) -> bool:
    return isinstance(error, (TransientError, AmbiguousError)) and attempts < MAX_ATTEMPTS


def _already_there(px: Pishkhan, job: Job) -> set[int]:
    """Positions of the claimed files the letter in the system already has (an ambiguous
    failure may have added them); none when the adapter cannot look them up."""
    try:
        flags = px.adapter(job.org).attachments_present(job.external_id, job.code, job.files)
    except NotImplementedError:
        return set()
    except ExternalError as exc:
        log.warning("documents for %s: looking up its files: %s: %s", job.code, exc.kind,
                    exc.detail)
        return set()
    return {p for p, there in zip(job.positions, flags) if there}


def _follow_up(px: Pishkhan, s: Session, letter: Letter, positions: Collection[int],
               error: str) -> None:
    """The files as a linked letter instead: the system could not take them on the first."""
    files = [a for a in letter.attachments if a.position in positions]
    child = followups.linked_letter(letter, "documents", followups.follow_up_subject(px, letter),
                                    followups.follow_up_body(px, letter), letter.unit_code)
    for i, a in enumerate(files):
        child.attachments.append(Attachment(position=i, name=a.name,
                                            content_type=a.content_type, size=a.size,
                                            sha256=a.sha256, scanned_by=a.scanned_by))
    lifecycle.record_event(child, "submitted")
    lifecycle.record_event(child, "follow_up_of", parent=letter.tracking_code)
    s.add(child)
    lifecycle.record_event(letter, "documents_follow_up", follow_up=child.tracking_code,
                           files=len(files), error=error[:500])


def _leave(letter: Letter, rest: set[int]) -> None:
    """Only ``rest`` still pending: files added while these were being sent go next."""
    letter.pending_files = sorted(rest) or None
    letter.files_retry_at = now() if rest else None
    letter.files_attempts = 0


def _settle(px: Pishkhan, job: Job, error: ExternalError | None,
            there: Collection[int] = ()) -> str:
    with transaction(px.sessions) as s:
        # Locked: the citizen may be adding files to this letter at the same moment.
        letter = s.scalars(for_update(select(Letter).where(Letter.id == job.letter_id), s)
                           ).first()
        if letter is None or letter.files_retry_at is None:
            return "gone"
        pending = set(letter.pending_files or [])
        mine = [p for p in job.positions if p in pending]
        if not mine:
            return "gone"
        if error is None:
            lifecycle.record_event(letter, "documents_delivered", files=len(mine))
            _leave(letter, pending - set(mine))
            return "sent"
        detail = f"{error.kind}: {error.detail}"
        if _retries(error, letter.files_attempts):
            pause = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, letter.files_attempts - 1))
            letter.files_retry_at = now() + timedelta(seconds=pause)
            letter.last_error = f"documents: {detail}"[:2000]
            return "retry"
        delivered = [p for p in mine if p in there]
        missing = [p for p in mine if p not in there]
        if delivered:
            lifecycle.record_event(letter, "documents_delivered", files=len(delivered))
        if missing:
            _follow_up(px, s, letter, missing, detail)
        _leave(letter, pending - set(mine))
        return "follow_up" if missing else "sent"


def push_pending(px: Pishkhan, limit: int = 10) -> int:
    """Send due documents; returns how many letters were tried."""
    jobs = _claim(px, limit)
    for job in jobs:
        error: ExternalError | None = None
        try:
            px.adapter(job.org).add_attachments(job.external_id, job.code, job.files)
        except NotImplementedError:
            error = ExternalError("this system cannot add files to a letter")
        except ExternalError as exc:
            log.warning("documents for %s: %s: %s", job.code, exc.kind, exc.detail)
            error = exc
        there = _already_there(px, job) if error and not _retries(error, job.attempts) \
            else set()
        _settle(px, job, error, there)
    return len(jobs)
