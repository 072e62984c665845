"""Use cases on letters: hand in, approve, reject, withdraw, retry, and what a citizen may see."""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from connector.domain import tracking
from connector.domain.clock import now
from connector.domain.errors import (
    ExternalError,
    Forbidden,
    Message,
    NotFound,
    TryLater,
    ValidationError,
    msg,
)
from connector.domain.letter import FINAL, WITHDRAWABLE, ApplicantType, Document, State
from connector.domain.normalize import legal_id, national_code, number, text
from connector.letters import files, followups, lifecycle, promise, timeline
from connector.letters.scanning import Scanning
from connector.plugins import identity
from connector.store.db import transaction
from connector.store.models import Attachment, Letter, Survey

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan
    from connector.config.organizations import Organization

# The message shown by each field of the form (sentences: the catalog's "letter.FIELD").
MSG = {name: msg(f"letter.{name}") for name in (
    "applicant_type", "national_code", "national_id", "company_name", "first_name",
    "last_name", "subject", "body", "service", "reason", "email", "email_needed", "notify_by")}
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


@dataclass
class LetterForm:
    applicant_type: str = "natural"
    national_code: str = ""
    national_id: str = ""
    company_name: str = ""
    first_name: str = ""
    last_name: str = ""
    subject: str = ""
    body: str = ""
    service: str = ""
    email: str = ""
    notify_by: str = "sms"

    @classmethod
    def from_mapping(cls, data: Any) -> LetterForm:
        return cls(**{k: str(data.get(k, "") or "") for k in cls.__dataclass_fields__})


@dataclass
class Cleaned:
    form: LetterForm
    attachments: list[tuple[files.Upload, str]] = field(default_factory=list)


def validate(org: Organization, form: LetterForm, uploads: list[files.Upload],
             scanner: Scanning) -> Cleaned:
    """The cleaned form and the accepted uploads (checked, measured and virus-scanned: nothing
    of them is stored yet), or ValidationError with a message per field — TryLater when the
    only thing wrong is a scanner that cannot answer now."""
    errors: dict[str, Message] = {}
    f = LetterForm(**{k: text(v) for k, v in vars(form).items()})
    if f.applicant_type not in (ApplicantType.NATURAL.value, ApplicantType.LEGAL.value):
        errors["applicant_type"] = MSG["applicant_type"]
    if f.applicant_type == ApplicantType.LEGAL.value:
        code = legal_id(f.national_id)
        if not code:
            errors["national_id"] = MSG["national_id"]
        f.national_id = code or f.national_id
        if not f.company_name:
            errors["company_name"] = MSG["company_name"]
        f.national_code = national_code(f.national_code) or "" if f.national_code else ""
    else:
        code = national_code(f.national_code)
        if not code:
            errors["national_code"] = MSG["national_code"]
        f.national_code = code or f.national_code
        f.national_id = f.company_name = ""
    for key in ("first_name", "last_name"):
        if not f.__dict__[key] or len(f.__dict__[key]) > 100:
            errors[key] = MSG[key]
    if not f.subject or len(f.subject) > 200:
        errors["subject"] = MSG["subject"]
    if not f.body or len(f.body) > 10_000:
        errors["body"] = MSG["body"]
    if org.service(f.service) is None:
        errors["service"] = MSG["service"]
    f.email = f.email.strip().lower()
    f.notify_by = f.notify_by or "sms"
    if f.email and (len(f.email) > 254 or not _EMAIL.match(f.email)):
        errors["email"] = MSG["email"]
    if f.notify_by not in ("sms", "email", "both"):
        errors["notify_by"] = MSG["notify_by"]
    elif f.notify_by != "sms" and not f.email:
        errors["email"] = MSG["email_needed"]
    accepted, file_errors = files.check(uploads, org.attachments, scanner)
    errors.update(file_errors)
    if errors:
        raise (TryLater if errors.get("attachments") == files.MSG_SCAN_DOWN
               else ValidationError)(errors)
    return Cleaned(form=f, attachments=accepted)


def submit(px: Pishkhan, org_slug: str, form: LetterForm, uploads: list[files.Upload],
           mobile: str, channel: str = "portal", resend_key: str | None = None) -> Letter:
    """Hand a letter in. ``resend_key`` is the sender's key for this submission (the preview
    page's, an API client's Idempotency-Key): the same letter sent again with it, from the
    same mobile to the same organization, gives the letter it made the first time, not a
    second one — a double click, a client's retry after a timeout, a resend after the database
    did not answer while it was committing the first. A different letter under the same key
    (a page reused with the back button, then changed) is a letter of its own."""
    org = px.org(org_slug)
    key = _submission(org.slug, resend_key, form)
    if key is not None and (earlier := _sent_with(px, mobile, key)) is not None:
        return earlier
    scanner = px.scanner(org.slug)
    cleaned = validate(org, form, uploads, scanner)
    f = cleaned.form
    if org.file is not None and org.file.identity.mobile_check and \
            f.applicant_type == "natural":
        identity.require_owner(px, org.slug, mobile, f.national_code)
    service = org.service(f.service)
    # Blobs first: if the transaction fails an orphan blob is harmless; the reverse is not.
    # Written now; their waits for the disk run while the letter is built, and end before
    # anything commits.
    pending = [(u, kind, px.blobs.put_soon(u.open())) for u, kind in cleaned.attachments]
    letter = lifecycle.new_letter(
        tracking_code=tracking.new_code(), org=org.slug, service_code=f.service,
        unit_code=service.unit if service else org.secretariat_unit,
        channel=channel, subject=f.subject, body=f.body,
        applicant_type=f.applicant_type, national_code=f.national_code,
        national_id=f.national_id, company_name=f.company_name,
        first_name=f.first_name, last_name=f.last_name, mobile=mobile,
        due_date=promise.due_date(px, org, service),
        email=f.email or None, notify_by=f.notify_by, submit_key=key)
    for i, (upload, kind, blob) in enumerate(pending):
        letter.attachments.append(Attachment(
            position=i, name=files.safe_name(upload.name, kind), content_type=kind,
            size=upload.size, sha256=blob.digest, scanned_by=scanner.name))
    lifecycle.record_event(letter, "submitted")
    if org.approval == "portal":
        lifecycle.move(letter, State.AWAITING_APPROVAL, event="awaiting_approval")
        letter.next_attempt_at = None
    # Built first, then written all at once (lifecycle.hand_in).
    try:
        lifecycle.hand_in(px, letter, ready=lambda: [b.wait() for _, _, b in pending])
    except IntegrityError:
        # Sent twice at the same moment: the unique key let one in, and that letter stands.
        earlier = _sent_with(px, mobile, key) if key is not None else None
        if earlier is None:
            raise
        return earlier
    return letter


def sent_before(px: Pishkhan, org_slug: str, mobile: str, form: LetterForm,
                resend_key: str | None) -> Letter | None:
    """The letter this submission (its key, its letter) already made, if any (:func:`submit`)."""
    key = _submission(org_slug, resend_key, form)
    return _sent_with(px, mobile, key) if key is not None else None


def _submission(org: str, resend_key: str | None, form: LetterForm) -> str | None:
    if not resend_key:
        return None
    letter = json.dumps(asdict(form), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(f"{org}\n{resend_key}\n{letter}".encode()).hexdigest()


def _sent_with(px: Pishkhan, mobile: str, key: str) -> Letter | None:
    with px.sessions() as s:
        code = s.scalar(select(Letter.tracking_code).where(
            Letter.mobile == mobile, Letter.submit_key == key))
    return get(px, code) if code is not None else None


def _load(s: Session, code: str, lock: bool = False) -> Letter:
    stmt = select(Letter).where(Letter.tracking_code == tracking.clean(code)).options(
        selectinload(Letter.attachments), selectinload(Letter.events),
        selectinload(Letter.survey))
    if lock and s.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    letter = s.scalars(stmt).first()
    if letter is None:
        raise NotFound(code)
    return letter


def approve(px: Pishkhan, code: str, operator: str) -> None:
    with transaction(px.sessions) as s:
        letter = _load(s, code, lock=True)
        lifecycle.move(letter, State.APPROVED, event="approved")
        letter.decided_by = operator
        letter.next_attempt_at = now()


def reject(px: Pishkhan, code: str, operator: str, reason: str) -> None:
    reason = text(reason)
    if not reason:
        raise ValidationError({"reason": MSG["reason"]})
    with transaction(px.sessions) as s:
        letter = _load(s, code, lock=True)
        letter.decided_by = operator
        letter.rejection_reason = reason
        lifecycle.move(letter, State.REJECTED, event="rejected", reason=reason, px=px, s=s,
                       sms="rejected")


def withdraw(px: Pishkhan, code: str, mobile: str) -> None:
    with transaction(px.sessions) as s:
        letter = _load(s, code, lock=True)
        if letter.mobile != mobile:
            raise NotFound(code)
        if State(letter.state) not in WITHDRAWABLE:
            raise Forbidden("the letter has already gone to the organization")
        lifecycle.move(letter, State.WITHDRAWN, event="withdrawn")
        letter.next_attempt_at = None


def retry(px: Pishkhan, code: str) -> str:
    """An admin's retry of a failed delivery: attempts start again from zero."""
    with transaction(px.sessions) as s:
        letter = _load(s, code, lock=True)
        if letter.state not in (State.DEAD.value, State.DELIVERY_FAILED.value):
            raise Forbidden(f"only failed deliveries can be retried (state: {letter.state})")
        letter.attempts = 0
        letter.next_attempt_at = now()
        return letter.state


def get(px: Pishkhan, code: str, mobile: str | None = None) -> Letter:
    """The letter, only for its own mobile when one is given (a code alone reveals nothing)."""
    if not tracking.is_valid(code):
        raise NotFound(code)
    with px.sessions() as s:
        letter = _load(s, code)
        if mobile is not None and letter.mobile != mobile:
            raise NotFound(code)
        s.expunge(letter)
        return letter


def for_mobile(px: Pishkhan, mobile: str) -> list[Letter]:
    with px.sessions() as s:
        rows = s.scalars(select(Letter).where(Letter.mobile == mobile)
                         .order_by(Letter.id.desc()).limit(100)).all()
        return list(rows)


def queue_for(px: Pishkhan, org_slug: str) -> list[Letter]:
    """Letters waiting for an operator's decision, oldest first."""
    with px.sessions() as s:
        rows = s.scalars(select(Letter).options(selectinload(Letter.attachments))
                         .where(Letter.org == org_slug,
                                Letter.state == State.AWAITING_APPROVAL.value)
                         .order_by(Letter.id)).all()
        return list(rows)


def view(px: Pishkhan, letter: Letter) -> dict[str, Any]:
    """The citizen's view of a letter (the JSON API's shape)."""
    org = px.orgs.get(letter.org)
    return {
        "tracking_code": letter.tracking_code,
        "org": letter.org,
        "org_name": org.name if org else letter.org,
        "subject": letter.subject,
        "status": letter.state,
        "letter_number": letter.letter_number,
        "registered_at": letter.letter_date.isoformat() + "Z" if letter.letter_date else None,
        "unit": letter.current_unit,
        "handler": letter.current_handler,
        "rejection_reason": letter.rejection_reason,
        "reply_available": letter.reply_available,
        "submitted_at": letter.created_at.isoformat() + "Z",
        "due_date": letter.due_date.isoformat() if letter.due_date else None,
        "notify_by": letter.notify_by,
        "attachments": [{"name": a.name, "size": a.size, "content_type": a.content_type}
                        for a in letter.attachments],
        "timeline": [{"at": e.at.isoformat() + "Z", "kind": e.kind,
                      "text": timeline.line(e.kind, e.data)} for e in letter.events],
        "final": State(letter.state) in FINAL,
        "can_withdraw": State(letter.state) in WITHDRAWABLE,
        "survey_open": letter.state == State.CLOSED.value and letter.survey is None,
        **followups.links(px, letter),
    }


def reply(px: Pishkhan, letter: Letter) -> Document:
    """The organization's answer, fetched from its system when asked for (the caller has
    already checked who may see the letter). Not kept here: the system stays the record."""
    if not letter.reply_available or not letter.external_id:
        raise NotFound(f"no reply for {letter.tracking_code}")
    try:
        document = px.adapter(letter.org).fetch_reply(letter.external_id)
    except ExternalError as exc:
        log.warning("reply of %s from %s failed (%s): %s", letter.tracking_code, letter.org,
                    exc.kind, exc.detail)
        raise
    if document is None or not (document.content or document.text):
        raise NotFound(f"no reply for {letter.tracking_code}")
    return document


def save_survey(px: Pishkhan, code: str, mobile: str, score: str | int, comment: str) -> int:
    """Record the citizen's 1–5 rating (typed in Persian or Latin digits); returns the score."""
    raw = number(str(score))
    if raw is None or len(raw) > 1 or not 1 <= int(raw) <= 5:
        raise ValidationError({"score": msg("survey.score")})
    score = int(raw)
    with transaction(px.sessions) as s:
        letter = _load(s, code)
        if letter.mobile != mobile:
            raise NotFound(code)
        if letter.state != State.CLOSED.value:
            raise Forbidden("the survey opens when the letter is closed")
        if letter.survey is not None:
            raise Forbidden("already rated")
        s.add(Survey(letter_id=letter.id, score=score, comment=text(comment)[:2000]))
    return score
