"""Missing documents and objections: what follows a letter after it was handed in.

- **Missing documents.** A controller (in the console, or in the organization's own system as
  a ``documents_requested`` routing change) asks the citizen for a document with a note; the
  letter waits in ``awaiting_documents`` and its promise is paused. The citizen adds the files
  on the tracking page, with the letter form's checks. A letter not yet delivered simply gets
  them as more attachments; one in a system whose adapter can add files to a letter gets them
  there (sent by the worker: connector/delivery/documents.py); otherwise they go as a
  *follow-up letter* linked to it (its subject and body name the first letter's tracking code
  and number), which travels the normal delivery path to the organization's system.
- **Objections.** A rejected letter may be objected to once, within the organization's
  window (``[objections] window_days``, working days, default 10), with a text and files. The
  objection is a new letter linked to the first, routed to the unit the organization names
  (default: the secretariat), and both timelines show the link. "Once" is a unique index on
  (first letter, objection), so two objections at the same moment cannot both be kept.
"""
from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from connector.domain import tracking
from connector.domain.clock import local, now
from connector.domain.errors import ExternalError, Forbidden, NotFound, ValidationError, msg
from connector.domain.letter import State
from connector.domain.normalize import text
from connector.letters import files, lifecycle, promise
from connector.outbox import webhook_events
from connector.store.db import transaction
from connector.store.models import Attachment, Letter

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

MSG = {name: msg(f"followups.{name}") for name in (
    "note", "attachments", "objection", "not_waiting", "not_rejected", "window", "once")}


def _locked(s: Session, code: str) -> Letter:
    stmt = select(Letter).where(Letter.tracking_code == tracking.clean(code)).options(
        selectinload(Letter.attachments), selectinload(Letter.events))
    if s.get_bind().dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    letter = s.scalars(stmt).first()
    if letter is None:
        raise NotFound(code)
    return letter


def _owned(s: Session, code: str, mobile: str) -> Letter:
    letter = _locked(s, code)
    if letter.mobile != mobile:
        raise NotFound(code)
    return letter


def request_documents(px: Pishkhan, code: str, operator: str, note: str) -> None:
    note = text(note)[:1000]
    if not note:
        raise ValidationError({"note": MSG["note"]})
    with transaction(px.sessions) as s:
        lifecycle.ask_for_documents(px, s, _locked(s, code), note, operator)


def documents_note(letter: Letter) -> str:
    """The organization's last request, as the citizen should read it."""
    for event in reversed(letter.events):
        if event.kind == "documents_requested":
            return str(event.data.get("note") or event.data.get("instruction")
                       or event.data.get("text") or "")
    return ""


def _checked(px: Pishkhan, org: str, uploads: list[files.Upload], required: bool
             ) -> list[tuple[files.Upload, str, str, str]]:
    """The letter form's checks (and its virus scanner): (upload, type, blob digest, scanner)."""
    if required and not uploads:
        raise ValidationError({"attachments": MSG["attachments"]})
    scanner = px.scanner(org)
    accepted, errors = files.check(uploads, px.org(org).attachments, scanner)
    if errors:
        raise ValidationError(errors)
    # Blobs first: if the transaction fails an orphan blob is harmless; the reverse is not.
    return [(u, kind, px.blobs.put(u.open()), scanner.name) for u, kind in accepted]


def _attach(letter: Letter, stored: list[tuple[files.Upload, str, str, str]]
            ) -> list[Attachment]:
    start = len(letter.attachments)
    added = [Attachment(position=start + i, name=files.safe_name(upload.name, kind),
                        content_type=kind, size=upload.size, sha256=digest,
                        scanned_by=scanned_by)
             for i, (upload, kind, digest, scanned_by) in enumerate(stored)]
    letter.attachments.extend(added)
    return added


def linked_letter(letter: Letter, link: str, subject: str, body: str, unit: str) -> Letter:
    """A new letter of the same citizen, linked to ``letter``."""
    return lifecycle.new_letter(
        tracking_code=tracking.new_code(), org=letter.org, service_code=letter.service_code,
        unit_code=unit, channel=letter.channel, subject=subject[:300], body=body,
        applicant_type=letter.applicant_type, national_code=letter.national_code,
        national_id=letter.national_id, company_name=letter.company_name,
        first_name=letter.first_name, last_name=letter.last_name, mobile=letter.mobile,
        email=letter.email, notify_by=letter.notify_by, parent_id=letter.id, link_kind=link)


def _values(letter: Letter) -> dict[str, str]:
    return {"tracking_code": letter.tracking_code, "letter_number": letter.letter_number or "",
            "note": documents_note(letter), "reason": letter.rejection_reason or "-"}


def follow_up_subject(px: Pishkhan, letter: Letter) -> str:
    return px.texts.render("follow_up_subject", _values(letter))


def follow_up_body(px: Pishkhan, letter: Letter) -> str:
    """Written by the text catalog (sms/texts.py), like the SMS: the letter's own words."""
    return px.texts.render("follow_up_body", _values(letter))


def _adds_files(px: Pishkhan, org: str) -> bool:
    try:
        return px.adapter(org).capabilities.add_attachments
    except ExternalError:
        return False


def add_documents(px: Pishkhan, code: str, mobile: str, uploads: list[files.Upload]
                  ) -> str | None:
    """The citizen's files for a letter awaiting documents. A letter still in our queue takes
    them itself; one in a system that can add files to a letter gets them there (sent by the
    worker, connector/delivery/documents.py); otherwise they go as a follow-up letter, whose
    tracking code is returned."""
    first = get_owned(px, code, mobile)
    stored = _checked(px, first.org, uploads, required=True)
    same_letter = _adds_files(px, first.org)
    with transaction(px.sessions) as s:
        letter = _owned(s, code, mobile)
        if letter.state != State.AWAITING_DOCUMENTS.value:
            raise Forbidden(MSG["not_waiting"])
        follow_up = None
        if letter.external_id is None and letter.resume_state == State.AWAITING_APPROVAL.value:
            added_to, added = "letter", _attach(letter, stored)  # still ours: it takes them
        elif letter.external_id is not None and same_letter:
            start = len(letter.attachments)
            added_to, added = "system_letter", _attach(letter, stored)
            # Under the row lock: files of an earlier request still waiting (or being sent
            # under the worker's lease, which then settles only the ones it took) stay pending.
            letter.pending_files = sorted({*(letter.pending_files or []),
                                           *range(start, start + len(stored))})
            if letter.files_retry_at is None:
                letter.files_retry_at, letter.files_attempts = now(), 0
        else:
            child = linked_letter(letter, "documents", follow_up_subject(px, letter),
                                  follow_up_body(px, letter), letter.unit_code)
            added_to, added = "follow_up", _attach(child, stored)
            lifecycle.record_event(child, "submitted")
            lifecycle.record_event(child, "follow_up_of", parent=letter.tracking_code)
            s.add(child)
            follow_up = child.tracking_code
        lifecycle.documents_in(px, s, letter, added, added_to, follow_up)
    return follow_up


def get_owned(px: Pishkhan, code: str, mobile: str) -> Letter:
    if not tracking.is_valid(code):
        raise NotFound(code)
    with px.sessions() as s:
        letter = _owned(s, code, mobile)
        s.expunge(letter)
        return letter


def objection_deadline(px: Pishkhan, letter: Letter) -> date | None:
    """The last day a rejected letter may be objected to, or None (not rejected, or the
    organization takes no objections)."""
    org = px.orgs.get(letter.org)
    if letter.state != State.REJECTED.value or org is None or not org.objections.window_days:
        return None
    rejected = [e.at for e in letter.events if e.kind == "rejected"]
    day = local(rejected[-1] if rejected else letter.updated_at).date()
    return px.calendar(letter.org).add(day, org.objections.window_days)


def object_to(px: Pishkhan, code: str, mobile: str, reason: str,
              uploads: list[files.Upload]) -> Letter:
    """The citizen's one objection to a rejection: a new letter linked to the first."""
    reason = text(reason)
    if not reason or len(reason) > 5000:
        raise ValidationError({"objection": MSG["objection"]})
    first = get_owned(px, code, mobile)
    stored = _checked(px, first.org, uploads, required=False)
    org = px.org(first.org)
    try:
        with transaction(px.sessions) as s:
            letter = _owned(s, code, mobile)
            if letter.state != State.REJECTED.value:
                raise Forbidden(MSG["not_rejected"])
            deadline = objection_deadline(px, letter)
            if deadline is None or promise.today() > deadline:
                raise Forbidden(MSG["window"])
            if s.scalar(select(Letter.id).where(Letter.parent_id == letter.id,
                                                Letter.link_kind == "objection")):
                raise Forbidden(MSG["once"])
            unit = org.objections.unit or org.secretariat_unit
            child = linked_letter(
                letter, "objection", px.texts.render("objection_subject", _values(letter)),
                f"{reason}\n\n{px.texts.render('objection_footer', _values(letter))}", unit)
            child.due_date = promise.due_date(px, org, org.service(letter.service_code))
            _attach(child, stored)
            lifecycle.record_event(child, "submitted")
            lifecycle.record_event(child, "objection_of", parent=letter.tracking_code)
            if org.approval == "portal":
                lifecycle.move(child, State.AWAITING_APPROVAL, event="awaiting_approval")
                child.next_attempt_at = None
            s.add(child)
            s.flush()
            lifecycle.record_event(letter, "objected", child=child.tracking_code)
            lifecycle.notify(px, s, child, "receipt")
            webhook_events.objection_filed(s, letter, child)
    except IntegrityError:
        raise Forbidden(MSG["once"]) from None  # another objection won the race
    return child


def links(px: Pishkhan, letter: Letter) -> dict[str, Any]:
    """What the tracking page and the API show about linked letters."""
    with px.sessions() as s:
        parent = s.get(Letter, letter.parent_id) if letter.parent_id else None
        children = s.execute(select(Letter.tracking_code, Letter.link_kind)
                             .where(Letter.parent_id == letter.id).order_by(Letter.id)).all()
    deadline = objection_deadline(px, letter)
    objected = any(kind == "objection" for _, kind in children)
    return {
        "parent": parent.tracking_code if parent else None,
        "link_kind": letter.link_kind,
        "linked": [{"tracking_code": c, "kind": k} for c, k in children],
        "documents_note": documents_note(letter) if letter.state ==
        State.AWAITING_DOCUMENTS.value else None,
        "objection_until": deadline.isoformat() if deadline and not objected
        and promise.today() <= deadline else None,
    }
