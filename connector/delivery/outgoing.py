"""What the call for a letter carries: the letter as the organization's system receives it,
read once with the claim (see push.claim) or again by the call itself."""
from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from connector.domain.letter import ApplicantType, OutgoingAttachment, OutgoingLetter
from connector.letters import files
from connector.store.models import Letter

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan


@dataclass(frozen=True)
class Ready:
    """What the call for a claimed letter needs, read in the claim's own transaction: the
    call then does not read the letter a second time."""
    slug: str
    code: str
    reconcile: bool
    steps: dict[str, Any] | None  # the delivery progress so far
    message: OutgoingLetter

    @classmethod
    def of(cls, px: Pishkhan, letter: Letter | ClaimedRow, s: Session | None) -> Ready:
        return cls(letter.org, letter.tracking_code, letter.needs_reconcile,
                   letter.delivery_progress, outgoing(px, letter, s))


class ClaimedRow:
    """A letter's row as the claim returns it (its columns by name, ``files`` as [name,
    content type, sha256] in order), read as :func:`outgoing` reads a Letter: no ORM object
    to build."""
    applicant_name = Letter.applicant_name

    def __init__(self, row: dict[str, Any]) -> None:
        self.__dict__.update(row)
        self.attachments = [SimpleNamespace(name=name, content_type=kind, sha256=sha256)
                            for name, kind, sha256 in row["files"] or ()]


def outgoing(px: Pishkhan, letter: Letter | ClaimedRow, s: Session | None = None
             ) -> OutgoingLetter:
    org = px.org(letter.org)
    service = org.service(letter.service_code)
    unit_code = org.system_unit_for(service)
    if letter.link_kind == "objection":
        # Objections go to the unit the organization names for them, not the service's.
        unit = org.unit(letter.unit_code)
        unit_code = unit.system_code if unit and unit.system_code else letter.unit_code
    parent = None
    if letter.parent_id:
        if s is None:
            with px.sessions() as own:
                parent = own.get(Letter, letter.parent_id)
        else:
            parent = s.get(Letter, letter.parent_id)
    return OutgoingLetter(
        tracking_code=letter.tracking_code, subject=letter.subject, body=letter.body,
        sender_name=letter.applicant_name,
        sender_national_code=letter.national_id or letter.national_code,
        sender_mobile=letter.mobile, applicant_type=ApplicantType(letter.applicant_type),
        unit_code=unit_code, service_title=service.title if service else "",
        submitted_at=letter.created_at, service_code=letter.service_code,
        attachments=tuple(OutgoingAttachment(name, a.content_type, px.blobs.get(a.sha256))
                          for a, name in zip(letter.attachments, files.unique_names(
                              [a.name for a in letter.attachments]))),
        relation=(letter.link_kind or "") if parent else "",
        related_letter_id=(parent.external_id or "") if parent else "",
        related_number=(parent.letter_number or "") if parent else "",
        related_code=parent.tracking_code if parent else "")
