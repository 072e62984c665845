"""Documents a citizen added to a letter already in the organization's system, sent to that
same letter where its adapter can add files (``capabilities.add_attachments``).

The files are stored with the letter at once (``pending_files``) and sent by the worker under a
claim with a lease, like a delivery: transient and ambiguous failures are retried with growing
pauses (the adapter skips a file the letter already has, so a retry adds nothing twice); a
permanent failure, or too many tries, sends them instead as a follow-up letter linked to the
first, so nothing the citizen sent is lost. Both outcomes are on the letter's timeline."""
from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.domain.clock import now
from connector.domain.errors import AmbiguousError, ExternalError, TransientError
from connector.domain.letter import OutgoingAttachment
from connector.letters import followups, lifecycle
from connector.store.db import for_claim, transaction
from connector.store.models import Attachment, Letter

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
BACKOFF_BASE, BACKOFF_CAP = 30.0, 3600.0


def _claim(px: Pishkhan, limit: int) -> list[tuple[int, str, str, str, list[OutgoingAttachment]]]:
    at = now()
    with transaction(px.sessions) as s:
        stmt = (select(Letter).where(Letter.files_retry_at.is_not(None),
                                     Letter.files_retry_at <= at)
                .order_by(Letter.files_retry_at).limit(limit))
        jobs = []
        for letter in s.scalars(for_claim(stmt, s)).all():
            letter.files_retry_at, letter.files_attempts = at + LEASE, letter.files_attempts + 1
            wanted = set(letter.pending_files or [])
            files = [OutgoingAttachment(a.name, a.content_type, px.blobs.get(a.sha256))
                     for a in letter.attachments if a.position in wanted]
            jobs.append((letter.id, letter.org, letter.external_id or "", letter.tracking_code,
                         files))
        return jobs


def _follow_up(px: Pishkhan, s: Session, letter: Letter, error: str) -> None:
    """The files as a linked letter instead: the system could not take them on the first."""
    wanted = set(letter.pending_files or [])
    files = [a for a in letter.attachments if a.position in wanted]
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
                           error=error[:500])
    letter.pending_files, letter.files_retry_at, letter.files_attempts = None, None, 0


def _settle(px: Pishkhan, letter_id: int, files: int, error: ExternalError | None) -> str:
    with transaction(px.sessions) as s:
        letter = s.get(Letter, letter_id)
        if letter is None or letter.files_retry_at is None:
            return "gone"
        if error is None:
            lifecycle.record_event(letter, "documents_delivered", files=files)
            letter.pending_files, letter.files_retry_at, letter.files_attempts = None, None, 0
            return "sent"
        detail = f"{error.kind}: {error.detail}"
        if isinstance(error, (TransientError, AmbiguousError)) and \
                letter.files_attempts < MAX_ATTEMPTS:
            pause = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, letter.files_attempts - 1))
            letter.files_retry_at = now() + timedelta(seconds=pause)
            letter.last_error = f"documents: {detail}"[:2000]
            return "retry"
        _follow_up(px, s, letter, detail)
        return "follow_up"


def push_pending(px: Pishkhan, limit: int = 10) -> int:
    """Send due documents; returns how many letters were tried."""
    jobs = _claim(px, limit)
    for letter_id, org, external_id, code, files in jobs:
        try:
            px.adapter(org).add_attachments(external_id, code, tuple(files))
        except NotImplementedError:
            _settle(px, letter_id, len(files),
                    ExternalError("this system cannot add files to a letter"))
            continue
        except ExternalError as exc:
            log.warning("documents for %s: %s: %s", code, exc.kind, exc.detail)
            _settle(px, letter_id, len(files), exc)
            continue
        _settle(px, letter_id, len(files), None)
    return len(jobs)
