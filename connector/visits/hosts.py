"""Hosts: staff members visitors come to see. Their mobile (for the enter/leave SMS) and unit
live beside the staff account."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.domain.errors import NotFound, ValidationError, msg
from connector.domain.normalize import mobile as clean_mobile
from connector.store import audit
from connector.store.models import StaffUser
from connector.store.visits import HostProfile

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

MSG_MOBILE = msg("visit.host_mobile")
HOSTING_ROLES = ("host", "security", "desk", "controller", "org_admin", "platform_admin")


def set_profile(px: Pishkhan, username: str, *, mobile: str = "", unit: str = "") -> HostProfile:
    m = clean_mobile(mobile) if mobile else ""
    if m is None:
        raise ValidationError({"mobile": MSG_MOBILE})
    with px.sessions() as s, s.begin():
        user = s.scalars(select(StaffUser).where(StaffUser.username == username)).first()
        if user is None:
            raise NotFound(f"no staff account {username!r}")
        profile = s.get(HostProfile, user.id) or HostProfile(user_id=user.id)
        profile.mobile = m or profile.mobile or ""
        profile.unit_code = unit or profile.unit_code or ""
        s.add(profile)
        audit.record(s, "visit.host_profile", target=username, unit=profile.unit_code or None)
        return profile


def profile_of(session: Session, user_id: int | None) -> HostProfile | None:
    return session.get(HostProfile, user_id) if user_id else None


def hosts(px: Pishkhan, org: str) -> list[StaffUser]:
    """Staff who may receive visitors in ``org``."""
    with px.sessions() as s:
        return [u for u in s.scalars(select(StaffUser).where(StaffUser.active.is_(True))
                                     .order_by(StaffUser.display_name))
                if (not u.orgs or org in u.orgs) and u.role in HOSTING_ROLES]


def by_username(session: Session, org: str, username: str) -> StaffUser:
    user = session.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    if user is None or not user.active or (user.orgs and org not in user.orgs):
        raise ValidationError({"host": msg("visit.host_unknown")})
    return user
