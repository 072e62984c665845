"""Staff accounts (operators who approve letters in Pishkhan's console, and admins)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from .credentials import check_password, hash_password
from .db import transaction
from .errors import ValidationError
from .models import StaffUser

if TYPE_CHECKING:
    from .bootstrap import Pishkhan

ROLES = ("controller", "desk", "org_admin", "platform_admin")
DEMO_OPERATOR = ("operator", "pishkhan-demo")


def add_user(px: Pishkhan, username: str, password: str, role: str = "controller",
             orgs: list[str] | None = None, display_name: str = "") -> StaffUser:
    if role not in ROLES:
        raise ValidationError({"role": f"use one of: {', '.join(ROLES)}"})
    if len(password) < 8:
        raise ValidationError({"password": "رمز باید دست‌کم ۸ حرف باشد."})
    with transaction(px.sessions) as s:
        if s.scalars(select(StaffUser).where(StaffUser.username == username)).first():
            raise ValidationError({"username": "این نام کاربری پیش‌تر ساخته شده است."})
        user = StaffUser(username=username, password_hash=hash_password(password), role=role,
                         orgs=list(orgs or []), display_name=display_name or username)
        s.add(user)
    return user


def authenticate(px: Pishkhan, username: str, password: str) -> StaffUser | None:
    with px.sessions() as s:
        user = s.scalars(select(StaffUser).where(StaffUser.username == username,
                                                 StaffUser.active.is_(True))).first()
    if user is None or not check_password(password, user.password_hash):
        return None
    return user


def get_user(px: Pishkhan, user_id: int) -> StaffUser | None:
    with px.sessions() as s:
        user = s.get(StaffUser, user_id)
        return user if user and user.active else None


DECIDERS = ("controller", "org_admin", "platform_admin")


def may_act_for(user: StaffUser, org: str) -> bool:
    return not user.orgs or org in user.orgs


def may_decide(user: StaffUser, org: str) -> bool:
    """Approving or rejecting is a controller's job; front-desk staff hand letters in only."""
    return user.role in DECIDERS and may_act_for(user, org)


def list_users(px: Pishkhan) -> list[StaffUser]:
    with px.sessions() as s:
        return list(s.scalars(select(StaffUser).order_by(StaffUser.username)))


def ensure_demo_operator(px: Pishkhan) -> tuple[str, str] | None:
    """The demo's operator, created only when PISHKHAN_DEMO is on."""
    if not px.settings.demo:
        return None
    username, password = DEMO_OPERATOR
    with px.sessions() as s:
        exists = s.scalars(select(StaffUser).where(StaffUser.username == username)).first()
    if not exists:
        add_user(px, username, password, "controller", display_name="کنترل‌کننده نمونه")
    return username, password
