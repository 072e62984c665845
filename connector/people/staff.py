"""Staff accounts: controllers who approve letters in Pishkhan's console, front-desk staff and
admins. Passwords are argon2 hashes (or checked by the directory for LDAP accounts); repeated
failures lock the account for a while; every change and every sign-in is audited."""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from connector.domain.clock import now
from connector.domain.errors import ExternalError, NotFound, ValidationError, msg
from connector.people.credentials import Argon2Cost, check_password, hash_password, needs_rehash
from connector.people.directory import ldap_bind
from connector.store import audit
from connector.store.db import transaction
from connector.store.models import StaffUser

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)

ROLES = ("controller", "desk", "org_admin", "platform_admin", "host", "security")
DEMO_OPERATOR = ("operator", "pishkhan-demo")
DEMO_ADMIN = ("admin", "pishkhan-admin")
# Stored instead of a hash for accounts whose password the directory checks.
LDAP_MARKER = "ldap"
MSG_PASSWORD = msg("staff.password_short")


def _cost(px: Pishkhan) -> Argon2Cost:
    return Argon2Cost(px.settings.argon2_time_cost, px.settings.argon2_memory_kib)


def _check_password_rule(password: str) -> None:
    if len(password) < 8:
        raise ValidationError({"password": MSG_PASSWORD})


def add_user(px: Pishkhan, username: str, password: str | None, role: str = "controller",
             orgs: list[str] | None = None, display_name: str = "",
             ldap: bool = False) -> StaffUser:
    """``ldap=True`` makes an account that signs in with the directory's password."""
    if role not in ROLES:
        raise ValidationError({"role": msg("staff.role", roles=", ".join(ROLES))})
    if not ldap:
        _check_password_rule(password or "")
    unknown = sorted(set(orgs or []) - set(px.orgs))
    if unknown:
        raise ValidationError({"orgs": msg("staff.orgs", orgs=", ".join(unknown))})
    with transaction(px.sessions) as s:
        if s.scalars(select(StaffUser).where(StaffUser.username == username)).first():
            raise ValidationError({"username": msg("staff.username_taken")})
        user = StaffUser(username=username, role=role, orgs=list(orgs or []),
                         password_hash=LDAP_MARKER if ldap else
                         hash_password(password or "", _cost(px)),
                         display_name=display_name or username, failed_logins=0)
        s.add(user)
        audit.record(s, "user.add", target=username, role=role, orgs=list(orgs or []),
                     ldap=ldap or None)
    return user


@dataclass(frozen=True)
class Login:
    user: StaffUser | None
    problem: str = ""  # "", "bad", "locked", "directory"


def login(px: Pishkhan, username: str, password: str) -> Login:
    """Check a password; count failures and lock the account after too many.

    A try is counted before the password is checked, by the statement that also checks the
    limit and the lock: however many tries arrive at once, at most the limit are checked. An
    unknown account costs the same password check as a known one, so timing does not tell
    which accounts exist."""
    settings, at = px.settings, now()
    with transaction(px.sessions) as s:
        user = s.scalars(select(StaffUser).where(StaffUser.username == username)).first()
        if user is None or not user.active:
            check_password(password, _dummy_hash(_cost(px)))
            audit.record(s, "staff.login_failed", actor=f"staff:{username}", why="unknown or "
                         "disabled account")
            return Login(None, "bad")
        user_id, stored = user.id, user.password_hash
        claimed = s.execute(update(StaffUser).where(
            StaffUser.id == user_id,
            or_(StaffUser.locked_until.is_(None), StaffUser.locked_until <= at),
            StaffUser.failed_logins < settings.staff_max_failed_logins)
            .values(failed_logins=StaffUser.failed_logins + 1)
            .returning(StaffUser.id)).first()
        if claimed is None:
            audit.record(s, "staff.login_failed", actor=f"staff:{username}", why="locked")
            return Login(None, "locked")
    try:
        ok = ldap_bind(settings, username, password) if stored == LDAP_MARKER \
            else check_password(password, stored)
    except ExternalError as exc:
        log.error("directory sign-in for %s failed: %s", username, exc.detail)
        _uncount(px, user_id)  # the directory's outage is not a wrong password
        return Login(None, "directory")
    with transaction(px.sessions) as s:
        if not ok:
            # The try that reached the limit locks the account (and only that one).
            locked = s.execute(update(StaffUser).where(
                StaffUser.id == user_id,
                StaffUser.failed_logins >= settings.staff_max_failed_logins)
                .values(locked_until=now() + timedelta(seconds=settings.staff_lockout_seconds),
                        failed_logins=0).returning(StaffUser.id)).first() is not None
            audit.record(s, "staff.locked" if locked else "staff.login_failed",
                         actor=f"staff:{username}", why="wrong password")
            return Login(None, "locked" if locked else "bad")
        user = s.get(StaffUser, user_id)
        assert user is not None
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now()
        if user.password_hash != LDAP_MARKER and needs_rehash(user.password_hash, _cost(px)):
            user.password_hash = hash_password(password, _cost(px))
        audit.record(s, "staff.login", actor=f"staff:{username}")
        return Login(user)


def _uncount(px: Pishkhan, user_id: int) -> None:
    with transaction(px.sessions) as s:
        s.execute(update(StaffUser).where(StaffUser.id == user_id, StaffUser.failed_logins > 0)
                  .values(failed_logins=StaffUser.failed_logins - 1))


@lru_cache(maxsize=4)
def _dummy_hash(cost: Argon2Cost) -> str:
    """A hash of nothing anyone types, made with the configured cost: checking it takes as
    long as checking a real account's password."""
    return hash_password(secrets.token_hex(16), cost)


def get_user(px: Pishkhan, user_id: int) -> StaffUser | None:
    with px.sessions() as s:
        user = s.get(StaffUser, user_id)
        return user if user and user.active else None


def _change(px: Pishkhan, username: str, action: str, **fields: object) -> StaffUser:
    with transaction(px.sessions) as s:
        user = s.scalars(select(StaffUser).where(StaffUser.username == username)).first()
        if user is None:
            raise NotFound(f"no staff account {username!r}")
        for key, value in fields.items():
            setattr(user, key, value)
        audit.record(s, action, target=username)
        return user


def disable_user(px: Pishkhan, username: str) -> StaffUser:
    """The account can no longer sign in; its open sessions end at their next request."""
    return _change(px, username, "user.disable", active=False,
                   session_generation=StaffUser.session_generation + 1)


def enable_user(px: Pishkhan, username: str) -> StaffUser:
    return _change(px, username, "user.enable", active=True, failed_logins=0, locked_until=None)


def reset_password(px: Pishkhan, username: str, password: str) -> StaffUser:
    """A new password, which also lifts a lockout."""
    _check_password_rule(password)
    return _change(px, username, "user.reset_password",
                   password_hash=hash_password(password, _cost(px)),
                   failed_logins=0, locked_until=None,
                   session_generation=StaffUser.session_generation + 1)


def end_sessions(px: Pishkhan, user_id: int) -> None:
    """Signing out ends every session of the account (a copied cookie too), everywhere."""
    with transaction(px.sessions) as s:
        s.execute(update(StaffUser).where(StaffUser.id == user_id)
                  .values(session_generation=StaffUser.session_generation + 1))


DECIDERS = ("controller", "org_admin", "platform_admin")
ADMINS = ("org_admin", "platform_admin")
DESK = ("desk", "org_admin", "platform_admin")


def may_act_for(user: StaffUser, org: str) -> bool:
    return not user.orgs or org in user.orgs


def may_decide(user: StaffUser, org: str) -> bool:
    """Approving or rejecting is a controller's job; front-desk staff hand letters in only."""
    return user.role in DECIDERS and may_act_for(user, org)


def may_administer(user: StaffUser, org: str) -> bool:
    """The dashboard, the organization view, retries and pausing delivery."""
    return user.role in ADMINS and may_act_for(user, org)


def may_hand_in(user: StaffUser, org: str) -> bool:
    return user.role in DESK and may_act_for(user, org)


HOSTS = ("host", "security", "org_admin", "platform_admin")
SECURITY = ("security", "org_admin", "platform_admin")


def may_host(user: StaffUser, org: str) -> bool:
    """Pre-registering expected visitors (connector.visits)."""
    return user.role in HOSTS and may_act_for(user, org)


def may_guard(user: StaffUser, org: str) -> bool:
    """The security desk and the gate page: admitting, passes, the blacklist."""
    return user.role in SECURITY and may_act_for(user, org)


def may_read(user: StaffUser, org: str, channel: str) -> bool:
    """Who may open a letter's papers: its organization's deciders, and front-desk staff for
    the letters they handed in at the desk — not every citizen's letter."""
    return may_decide(user, org) or (channel == "desk" and may_hand_in(user, org))


def list_users(px: Pishkhan) -> list[StaffUser]:
    with px.sessions() as s:
        return list(s.scalars(select(StaffUser).order_by(StaffUser.username)))


def ensure_demo_operator(px: Pishkhan) -> tuple[str, str] | None:
    """The demo's operator (and an admin), created only when PISHKHAN_DEMO is on. Safe to call
    from several processes at once (gunicorn's workers each build the app): whoever loses the
    race to insert an account finds it made by the other."""
    if not px.settings.demo:
        return None
    for (username, password), role, name in (
            (DEMO_OPERATOR, "controller", "کنترل‌کننده نمونه"),
            (DEMO_ADMIN, "platform_admin", "مدیر سامانه نمونه")):
        with px.sessions() as s:
            exists = s.scalars(select(StaffUser).where(StaffUser.username == username)).first()
        if exists:
            continue
        try:
            add_user(px, username, password, role, display_name=name)
        except (IntegrityError, ValidationError):
            # The unique username refused a second insert: another process made it first.
            log.info("demo account %s was made by another process", username)
    return DEMO_OPERATOR
