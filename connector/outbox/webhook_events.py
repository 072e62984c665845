"""What each webhook event says: the ``data`` of every type in the registry
(connector/outbox/webhook_types.py), built from the change it reports and queued with
:func:`connector.outbox.webhooks.emit` on the caller's connection — so in the same transaction
as the change, and gone with it if the change rolls back.

Nothing secret leaves here: no pass codes or their hashes, no file contents, national codes
and passport numbers masked, no mobile numbers."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from connector.domain.normalize import mask_id
from connector.outbox.webhook_types import PREFIX
from connector.outbox.webhooks import emit
from connector.store.models import Attachment, Letter
from connector.store.visits import Visit, Visitor


def _time(at: datetime | None) -> str | None:
    return at.isoformat(timespec="seconds") + "Z" if at else None


def _files(attachments: Iterable[Attachment]) -> list[dict[str, Any]]:
    return [{"name": a.name, "content_type": a.content_type, "size": a.size,
             "sha256": a.sha256} for a in attachments]


# --- letters ----------------------------------------------------------------------------------

def letter_change(entry: Mapping[str, Any]) -> tuple[str, str, str, dict[str, Any]]:
    """(org, type, subject, data) of the event of one letter state change (an audit entry of
    the lifecycle)."""
    detail = entry["detail"]
    kind = "submitted" if detail.get("from") is None else detail["to"]
    data = {"tracking_code": entry["letter"], "status": detail["to"],
            "previous_status": detail.get("from")}
    if detail.get("reason"):
        data["rejection_reason"] = detail["reason"]
    return entry["org"], f"{PREFIX}letter.{kind}", entry["letter"], data


def letter_changed(conn: Connection, entry: Mapping[str, Any]) -> None:
    emit(conn, *letter_change(entry))


def documents_requested(s: Session, letter: Letter, note: str, source: str) -> None:
    """``source``: ``console`` (a controller in Pishkhan) or ``system`` (a routing change of the
    organization's own system)."""
    emit(s.connection(), letter.org, f"{PREFIX}letter.documents_requested",
         letter.tracking_code,
         {"tracking_code": letter.tracking_code, "letter_number": letter.letter_number,
          "note": note, "requested_in": source,
          "resume_status": letter.resume_state or letter.state})


def documents_added(s: Session, letter: Letter, added: Iterable[Attachment], added_to: str,
                    follow_up: str | None) -> None:
    emit(s.connection(), letter.org, f"{PREFIX}letter.documents_added", letter.tracking_code,
         {"tracking_code": letter.tracking_code, "letter_number": letter.letter_number,
          "files": _files(added), "added_to": added_to, "follow_up_tracking_code": follow_up,
          "status": letter.state})


def objection_filed(s: Session, letter: Letter, objection: Letter) -> None:
    """On the rejected letter (its subject), linking the objection's own tracking code."""
    emit(s.connection(), letter.org, f"{PREFIX}letter.objection_filed", letter.tracking_code,
         {"tracking_code": letter.tracking_code, "letter_number": letter.letter_number,
          "objection_tracking_code": objection.tracking_code,
          "unit_code": objection.unit_code, "files": _files(objection.attachments),
          "objection_status": objection.state})


# --- the in-person desk -----------------------------------------------------------------------

def _mask_passport(value: str) -> str:
    return "*" * max(0, len(value) - 4) + value[-4:] if len(value) > 4 else ("***" if value
                                                                               else "")


def visitor(v: Visitor) -> dict[str, str]:
    return {"name": v.name, "kind": v.kind,
            "national_code": mask_id(v.national_code) if v.national_code else "",
            "passport": _mask_passport(v.passport), "nationality": v.nationality}


def visit_data(visit: Visit, gate: str | None = None) -> dict[str, Any]:
    return {"visit_id": visit.id, "state": visit.state, "category": visit.category,
            "host": visit.host_name, "unit_code": visit.unit_code,
            "window_start": _time(visit.window_start), "window_end": _time(visit.window_end),
            "visitor": visitor(visit.visitor), "admitted_at": _time(visit.admitted_at),
            "entered_at": _time(visit.entered_at), "left_at": _time(visit.left_at),
            "gate": gate, "refusal_reason": visit.refusal_reason}


def visit_changed(s: Session, visit: Visit, what: str, gate: str | None = None) -> None:
    """``what``: planned, admitted, entered, left or refused. The subject is the visit's id,
    which opens nothing (a pass code does; it is never sent)."""
    emit(s.connection(), visit.org, f"{PREFIX}visit.{what}", str(visit.id),
         visit_data(visit, gate))


def gate_denied(s: Session, org: str, gate: str, direction: str, reason: str,
                visit: Visit | None) -> None:
    emit(s.connection(), org, f"{PREFIX}gate.denied", str(visit.id) if visit else None,
         {"gate": gate, "direction": direction, "reason": reason,
          "visit_id": visit.id if visit else None,
          "visitor": visitor(visit.visitor) if visit else None})


# --- SMS --------------------------------------------------------------------------------------

def sms_failed(conn: Connection, org: str, row: Any) -> None:
    emit(conn, org, f"{PREFIX}sms.failed", row.tracking_code,
         {"sms_id": row.id, "kind": row.kind, "status": row.state,
          "tracking_code": row.tracking_code, "error": row.last_error})
