"""The operator console: secretariat controllers of organizations with ``approval = "portal"``
read waiting letters and approve or reject them (a rejection always carries a reason)."""
from __future__ import annotations

from collections import Counter

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from connector.config.organizations import Organization
from connector.domain.errors import Forbidden, InvalidTransition, ValidationError
from connector.letters import followups
from connector.letters import usecases as letters
from connector.people import staff
from connector.store import audit
from connector.store.models import Letter, StaffUser

from . import attachments, pishkhan
from .security import (
    current_staff,
    login_staff,
    logout_staff,
    require_org,
    safe_next,
    staff_required,
)

bp = Blueprint("console", __name__, url_prefix="/console")

MSG_LOGIN = "نام کاربری یا رمز درست نیست."
MSG_LOGIN_PROBLEM = {
    "locked": "چند بار رمز نادرست وارد شد و حساب شما برای مدتی بسته شد. کمی بعد دوباره "
              "امتحان کنید یا از مدیر سامانه بخواهید رمز را تازه کند.",
    "directory": "سرور ورود سازمان (اکتیو دایرکتوری) پاسخ نمی‌دهد. کمی بعد دوباره امتحان کنید.",
}
MSG_DECIDED = "این نامه پیش‌تر بررسی شده یا پس گرفته شده است."

Page = str | Response | tuple[str, int]


def _user() -> StaffUser:
    user = current_staff()
    assert user is not None  # staff_required ran first
    return user


def _portal_orgs(user: StaffUser) -> list[Organization]:
    return [o for o in pishkhan().orgs.values()
            if o.approval == "portal" and staff.may_decide(user, o.slug)]


def _console_org(slug: str) -> Organization:
    """The organization, if this console decides its letters and the user may act for it."""
    org = pishkhan().org(slug)
    if org.approval != "portal":
        abort(404)
    require_org(_user(), slug)
    return org


@bp.route("/login", methods=["GET", "POST"])
def login() -> Page:
    next_url = safe_next(request.values.get("next"), url_for("console.index"))
    username = request.form.get("username", "").strip()
    error = None
    if request.method == "POST":
        result = staff.login(pishkhan(), username, request.form.get("password", ""))
        if result.user is not None:
            login_staff(result.user)
            return redirect(next_url)
        error = MSG_LOGIN_PROBLEM.get(result.problem, MSG_LOGIN)
    return render_template("console/login.html", username=username, error=error, next=next_url,
                           demo=pishkhan().settings.demo), (401 if error else 200)


@bp.post("/logout")
def logout() -> Response:
    user = current_staff()
    if user is not None:
        audit.log(pishkhan(), "staff.logout", actor=f"staff:{user.username}")
        staff.end_sessions(pishkhan(), user.id)
    logout_staff()
    return redirect(url_for("console.login"))


@bp.get("/")
@staff_required
def index() -> Page:
    if _user().role == "desk":  # the front desk decides nothing: its own page is the desk
        return redirect(url_for("desk.index"))
    if _user().role in ("host", "security"):  # visits are their work (portal/visits.py)
        return redirect(url_for("visits.index"))
    px = pishkhan()
    orgs = _portal_orgs(_user())
    counts = {o.slug: len(letters.queue_for(px, o.slug)) for o in orgs}
    return render_template("console/index.html", orgs=orgs, counts=counts, user=_user())


def _unit() -> str:
    """The unit whose queue the controller is working through ('' = all units)."""
    return request.values.get("unit", "")


def _back(org: Organization) -> Response:
    return redirect(url_for("console.queue", org=org.slug, unit=_unit() or None))


def _queue_page(org: Organization, status: int = 200,
                errors: dict[str, dict[str, str]] | None = None,
                typed: dict[str, dict[str, str]] | None = None) -> Page:
    """``errors`` and ``typed`` are keyed by tracking code: only that letter's form shows them.
    The queue can be narrowed to one unit; it stays oldest first."""
    waiting = letters.queue_for(pishkhan(), org.slug)
    per_unit = Counter(letter.unit_code for letter in waiting)
    unit = _unit()
    return render_template("console/queue.html", org=org, user=_user(),
                           letters=[x for x in waiting if not unit or x.unit_code == unit],
                           total=len(waiting), per_unit=per_unit, unit=unit,
                           errors=errors or {}, typed=typed or {}), status


@bp.get("/<org>")
@staff_required
def queue(org: str) -> Page:
    return _queue_page(_console_org(org))


def _letter_of(org: str, code: str) -> tuple[Organization, Letter]:
    """The letter, only through the console of its own organization."""
    organization = _console_org(org)
    letter = letters.get(pishkhan(), code)
    if letter.org != organization.slug:
        abort(404)
    return organization, letter


@bp.post("/<org>/letters/<code>/approve")
@staff_required
def approve(org: str, code: str) -> Response:
    organization, letter = _letter_of(org, code)
    try:
        letters.approve(pishkhan(), letter.tracking_code, _user().username)
        flash(f"نامه {letter.tracking_code} پذیرفته شد و به سامانه سازمان فرستاده می‌شود.")
    except (InvalidTransition, Forbidden):
        flash(MSG_DECIDED)
    return _back(organization)


@bp.post("/<org>/letters/<code>/reject")
@staff_required
def reject(org: str, code: str) -> Page:
    organization, letter = _letter_of(org, code)
    code = letter.tracking_code
    # A written reason wins over the chosen one: the operator typed it on purpose.
    written = request.form.get("reason", "")
    chosen = request.form.get("reason_choice", "")
    try:
        letters.reject(pishkhan(), code, _user().username, written.strip() or chosen)
    except ValidationError as exc:
        return _queue_page(organization, 400, errors={code: exc.errors},
                           typed={code: {"text": written, "choice": chosen}})
    except (InvalidTransition, Forbidden):
        flash(MSG_DECIDED)
        return _back(organization)
    flash(f"نامه {code} رد شد و دلیل آن برای متقاضی پیامک می‌شود.")
    return _back(organization)


@bp.post("/<org>/letters/<code>/request-documents")
@staff_required
def request_documents(org: str, code: str) -> Page:
    """Ask the citizen for a missing document; the note is sent by SMS (and e-mail)."""
    organization, letter = _letter_of(org, code)
    code = letter.tracking_code
    note = request.form.get("note", "")
    try:
        followups.request_documents(pishkhan(), code, _user().username, note)
    except ValidationError as exc:
        return _queue_page(organization, 400, errors={code: exc.errors},
                           typed={code: {"note": note}})
    except (InvalidTransition, Forbidden):
        flash(MSG_DECIDED)
        return _back(organization)
    flash(f"درخواست مدرک برای متقاضی نامه {code} پیامک می‌شود؛ نامه تا رسیدن مدرک کنار می‌رود.")
    return _back(organization)


@bp.get("/<org>/letters/<code>/attachments/<int:index>")
@staff_required
def attachment(org: str, code: str, index: int) -> Response:
    _, letter = _letter_of(org, code)
    return attachments.send(letter, index, inline=request.args.get("download") != "1")
