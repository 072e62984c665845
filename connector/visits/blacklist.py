"""People who must not enter: with the reason, who added them and until when. Every change is
audited; a blacklisted person at a gate or at the desk raises an alert for the security desk."""
from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connector.domain.clock import now
from connector.domain.errors import Message, NotFound, ValidationError, msg
from connector.domain.normalize import digits_only, national_code, text
from connector.store import audit
from connector.store.visits import BlacklistEntry, VisitAlert, Visitor
from connector.visits.people import Identity

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

MSG_WHO = msg("visit.blacklist_who")
MSG_REASON = msg("visit.blacklist_reason")


def add(px: Pishkhan, org: str, *, national_code_: str = "", passport: str = "",
        nationality: str = "", reason: str, until: datetime | None = None,
        name: str = "") -> BlacklistEntry:
    px.org(org)
    code = national_code(national_code_) if national_code_ else None
    passport = digits_only(passport).upper()
    errors = {}
    if not code and not (passport and text(nationality)):
        errors["national_code"] = MSG_WHO
    if not text(reason):
        errors["reason"] = MSG_REASON
    if errors:
        raise ValidationError(errors)
    actor = audit.current_actor()
    with px.sessions() as s, s.begin():
        entry = BlacklistEntry(org=org, national_code=code or "",
                               passport="" if code else passport,
                               nationality="" if code else text(nationality), name=text(name),
                               reason=text(reason), added_by=actor, until=until)
        s.add(entry)
        s.flush()
        audit.record(s, "blacklist.add", org=org, entry=entry.id, reason=entry.reason,
                     until=until.isoformat() if until else None,
                     who=f"***{(code or passport)[-4:]}")
    return entry


def remove(px: Pishkhan, org: str, entry_id: int) -> None:
    with px.sessions() as s, s.begin():
        entry = s.get(BlacklistEntry, entry_id)
        if entry is None or entry.org != org or entry.removed_at is not None:
            raise NotFound(f"blacklist entry {entry_id}")
        entry.removed_at = now()
        audit.record(s, "blacklist.remove", org=org, entry=entry.id)


def active_for(session: Session, org: str, visitor: Visitor | Identity
               ) -> BlacklistEntry | None:
    """The entry that keeps this person out now, if any."""
    if visitor.national_code:
        who = BlacklistEntry.national_code == visitor.national_code
    else:
        who = (BlacklistEntry.passport == visitor.passport) & \
              (BlacklistEntry.nationality == visitor.nationality)
    return session.scalars(select(BlacklistEntry).where(
        BlacklistEntry.org == org, who, BlacklistEntry.removed_at.is_(None),
        or_(BlacklistEntry.until.is_(None), BlacklistEntry.until > now()))
        .order_by(BlacklistEntry.id)).first()


def listing(px: Pishkhan, org: str) -> list[BlacklistEntry]:
    with px.sessions() as s:
        return list(s.scalars(select(BlacklistEntry).where(
            BlacklistEntry.org == org, BlacklistEntry.removed_at.is_(None),
            or_(BlacklistEntry.until.is_(None), BlacklistEntry.until > now()))
            .order_by(BlacklistEntry.created_at.desc())))


def alert(session: Session, org: str, kind: str, message: Message,
          visit_id: int | None = None) -> VisitAlert:
    """Shown on the security desk's page until someone there marks it seen. The row keeps the
    message's code and parameters (JSON), so the page says it in its reader's language."""
    text = json.dumps({"code": message.code, "params": dict(message.params)},
                      ensure_ascii=False)
    row = VisitAlert(org=org, kind=kind, message=text, visit_id=visit_id, at=now())
    session.add(row)
    return row


def open_alerts(px: Pishkhan, org: str, limit: int = 20) -> list[VisitAlert]:
    with px.sessions() as s:
        return list(s.scalars(select(VisitAlert).where(VisitAlert.org == org,
                                                       VisitAlert.seen_at.is_(None))
                              .order_by(VisitAlert.at.desc()).limit(limit)))


def mark_seen(px: Pishkhan, org: str, alert_id: int) -> None:
    with px.sessions() as s, s.begin():
        row = s.get(VisitAlert, alert_id)
        if row is None or row.org != org:
            raise NotFound(f"alert {alert_id}")
        if row.seen_at is None:
            row.seen_at, row.seen_by = now(), audit.current_actor()
            audit.record(s, "visit.alert_seen", org=org, alert=row.id)
