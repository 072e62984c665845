"""Visits: pre-registered by a host or made at the desk, admitted with a photo, finished at the
desk (categories 1, 2, 4) or through the gates (category 3), refused.

Pass codes are 12 random digits with a check digit (as tracking codes are); only their keyed hash
is stored, so printing a pass again issues a new code and the old one stops working."""
from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from persiantools.jdatetime import JalaliDateTime
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connector.domain import tracking
from connector.domain.clock import local, now
from connector.domain.errors import NotFound, ValidationError, msg
from connector.domain.normalize import text, to_persian_digits
from connector.outbox import sms as outbox
from connector.outbox import webhook_events
from connector.store import audit
from connector.store.visits import Visit, Visitor
from connector.visits import blacklist, hosts, images
from connector.visits.people import Identity, upsert

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

# The directive's four kinds of in-person service (their names are the pages'): 1 information
# only, 2 documents handed in without entering, 3 entry to meet someone, 4 service at the desk.
CATEGORIES = (1, 2, 3, 4)
ENTERING = 3  # the one category that enters the building with a pass
WALK_IN_HOURS = 4
MAX_WINDOW = timedelta(days=7)
MSG = {"category": msg("visit.category"), "window": msg("visit.window"),
       "past": msg("visit.past"), "host": msg("visit.host"), "state": msg("visit.not_open")}


def pass_hash(px: Pishkhan, code: str) -> str:
    key = px.settings.secret_key.encode()
    return hmac.new(key, b"visit-pass:" + tracking.clean(code).encode(),
                    hashlib.sha256).hexdigest()


def jalali_parts(at: datetime) -> tuple[str, str]:
    """(``۱۴۰۵/۰۹/۰۸``, ``۱۰:۳۰``): the day and the time in Tehran, in Persian digits."""
    wall = JalaliDateTime(local(at))
    return (to_persian_digits(wall.strftime("%Y/%m/%d")),
            to_persian_digits(wall.strftime("%H:%M")))


@dataclass
class Registered:
    visit: Visit
    pass_code: str | None


def _issue(px: Pishkhan, visit: Visit) -> str:
    code = tracking.new_code()
    visit.pass_hash = pass_hash(px, code)
    return code


def check_blacklist(px: Pishkhan, org: str, who: Identity | Visitor, where: str,
                    visit_id: int | None = None) -> None:
    """Raises Blacklisted for someone who must not enter; the alert and the audit record are
    committed on their own, so the refusal that follows does not roll them back."""
    with px.sessions() as s, s.begin():
        entry = blacklist.active_for(s, org, who)
        if entry is None:
            return
        name = f"{who.first_name} {who.last_name}".strip() or entry.name or "—"
        blacklist.alert(s, org, "blacklisted", msg("alert.blacklisted", name=name,
                                                   reason=entry.reason, where=where), visit_id)
        audit.record(s, "visit.blacklisted_attempt", org=org, entry=entry.id, where=where,
                     visit=visit_id)
    raise Blacklisted(entry.reason)


class Blacklisted(ValidationError):
    def __init__(self, reason: str) -> None:
        super().__init__({"identity": msg("visit.blacklisted", reason=reason)})
        self.reason = reason


def register(px: Pishkhan, org: str, ident: Identity, *, host: str, purpose: str,
             category: int = ENTERING, start: datetime | None = None,
             end: datetime | None = None, unit: str = "", admit: bool = False,
             photo: bytes | None = None, id_scan: bytes | None = None) -> Registered:
    """A visit: pre-registered by a host (``admit=False``; the visitor gets an SMS with the
    pass code) or made at the desk for someone standing there (``admit=True``). Categories other
    than 3 are finished at the desk and get no pass."""
    organization = px.org(org)
    errors: dict[str, str] = {}
    try:
        ident.clean()
    except ValidationError as exc:
        errors.update(exc.errors)
    if category not in CATEGORIES:
        errors["category"] = MSG["category"]
    at = now()
    start = start or at
    end = end or start + timedelta(hours=WALK_IN_HOURS)
    if end <= start or end - start > MAX_WINDOW:
        errors["window"] = MSG["window"]
    elif end <= at:
        errors["window"] = MSG["past"]
    if category == ENTERING and not host:
        errors["host"] = MSG["host"]
    if errors:
        raise ValidationError(errors)
    check_blacklist(px, org, ident, "visit.at_admission" if admit else "visit.at_registration")
    with px.sessions() as s, s.begin():
        host_user = hosts.by_username(s, org, host) if host else None
        profile = hosts.profile_of(s, host_user.id if host_user else None)
        visitor = upsert(s, org, ident)
        _store_images(px, visitor, photo, id_scan)
        entering = category == ENTERING
        visit = Visit(org=org, visitor=visitor, host_user_id=host_user.id if host_user else None,
                      host_name=(host_user.display_name or host_user.username) if host_user
                      else "", unit_code=unit or (profile.unit_code if profile else ""),
                      purpose=text(purpose), category=category,
                      state="planned" if entering else "served", window_start=start,
                      window_end=end, created_by=audit.current_actor(),
                      admitted_at=at if admit else None)
        s.add(visit)
        code = _issue(px, visit) if entering else None
        s.flush()
        webhook_events.visit_changed(s, visit, "admitted" if admit else "planned")
        audit.record(s, "visit.admit" if admit else "visit.register", org=org, visit=visit.id,
                     visitor=visitor.id, category=category)
        if code and not admit and visitor.mobile:
            day, time = jalali_parts(start)
            outbox.queue(s, px, "visit_invite", visitor.mobile, {
                "visitor": visitor.name, "day": day, "time": time, "pass_code": code,
                "place": organization.unit_name(visit.unit_code) or organization.name,
                "host": visit.host_name}, org=org)
        return Registered(visit, code)


def _store_images(px: Pishkhan, visitor: Visitor, photo: bytes | None,
                  id_scan: bytes | None) -> None:
    if photo:
        visitor.photo_sha256 = images.put(px, photo)
    if id_scan:
        visitor.id_scan_sha256 = images.put(px, id_scan)


def admit(px: Pishkhan, org: str, visit_id: int, *, photo: bytes | None = None,
          id_scan: bytes | None = None) -> Visit:
    """An expected visitor stands at the desk: identity checked, photo taken."""
    check_blacklist(px, org, get(px, org, visit_id).visitor, "visit.at_admission", visit_id)
    with px.sessions() as s, s.begin():
        visit = _get(s, org, visit_id)
        if visit.state != "planned":
            raise ValidationError({"visit": MSG["state"]})
        _store_images(px, visit.visitor, photo, id_scan)
        visit.admitted_at = now()
        webhook_events.visit_changed(s, visit, "admitted")
        audit.record(s, "visit.admit", org=org, visit=visit.id, visitor=visit.visitor_id)
        return visit


def issue_pass(px: Pishkhan, org: str, visit_id: int) -> tuple[Visit, str]:
    """A new pass code for printing; the one sent or printed before stops working."""
    with px.sessions() as s, s.begin():
        visit = _get(s, org, visit_id)
        if visit.category != ENTERING or visit.state not in ("planned", "inside"):
            raise ValidationError({"visit": MSG["state"]})
        code = _issue(px, visit)
        audit.record(s, "visit.pass", org=org, visit=visit.id)
        return visit, code


def refuse(px: Pishkhan, org: str, visit_id: int, reason: str) -> Visit:
    with px.sessions() as s, s.begin():
        done = s.execute(update(Visit).where(Visit.id == visit_id, Visit.org == org,
                                             Visit.state == "planned")
                         .values(state="refused", refusal_reason=text(reason) or "—",
                                 updated_at=now())).rowcount
        if not done:
            raise ValidationError({"visit": MSG["state"]})
        visit = _get(s, org, visit_id)
        webhook_events.visit_changed(s, visit, "refused")
        audit.record(s, "visit.refuse", org=org, visit=visit_id, reason=text(reason) or None)
        return visit


def _get(s: Session, org: str, visit_id: int) -> Visit:
    visit = s.get(Visit, visit_id)
    if visit is None or visit.org != org:
        raise NotFound(f"visit {visit_id}")
    return visit


def get(px: Pishkhan, org: str, visit_id: int) -> Visit:
    with px.sessions() as s:
        return _get(s, org, visit_id)


def by_pass(px: Pishkhan, org: str, code: str) -> Visit | None:
    with px.sessions() as s:
        return s.scalars(select(Visit).where(Visit.org == org,
                                             Visit.pass_hash == pass_hash(px, code))).first()


def expected(px: Pishkhan, org: str, day_start: datetime, day_end: datetime) -> list[Visit]:
    """Planned visits of the day (naive UTC bounds) whose window has not passed yet."""
    with px.sessions() as s:
        return list(s.scalars(select(Visit).where(
            Visit.org == org, Visit.state == "planned", Visit.window_start < day_end,
            Visit.window_end > max(day_start, now())).order_by(Visit.window_start)))


def inside(px: Pishkhan, org: str) -> list[Visit]:
    with px.sessions() as s:
        return list(s.scalars(select(Visit).where(Visit.org == org, Visit.state == "inside")
                              .order_by(Visit.entered_at)))


def listing(px: Pishkhan, org: str, *, only_inside: bool = False,
            host_user_id: int | None = None, limit: int = 200) -> list[Visit]:
    with px.sessions() as s:
        stmt = select(Visit).where(Visit.org == org)
        if only_inside:
            stmt = stmt.where(Visit.state == "inside")
        if host_user_id is not None:
            stmt = stmt.where(Visit.host_user_id == host_user_id)
        return list(s.scalars(stmt.order_by(Visit.window_start.desc()).limit(limit)))


def expire_due(px: Pishkhan, org: str | None = None) -> int:
    """Planned visits whose window has passed become ``expired`` (the gate denies them anyway;
    this keeps lists honest)."""
    with px.sessions() as s, s.begin():
        stmt = update(Visit).where(Visit.state == "planned", Visit.window_end < now())
        if org:
            stmt = stmt.where(Visit.org == org)
        return s.execute(stmt.values(state="expired", updated_at=now())).rowcount


def overstaying(visit: Visit) -> bool:
    return visit.state == "inside" and visit.window_end < now()


__all__ = ["CATEGORIES", "Blacklisted", "Registered", "register", "admit", "issue_pass",
           "refuse", "get", "by_pass", "expected", "inside", "listing", "expire_due",
           "overstaying"]
