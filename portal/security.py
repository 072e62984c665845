"""Who is asking: the citizen's session, the staff session, the API's bearer token — and the
CSRF check that every HTML form passes.

Citizen and staff logins live under separate keys of the signed session, so signing in or out of
one never touches the other. The CSRF token is per session; the JSON API is exempt because it
authenticates with a bearer header that a browser never adds on its own.
"""
from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, g, redirect, request, session, url_for
from markupsafe import Markup
from werkzeug.exceptions import Unauthorized

from connector.domain import clock
from connector.domain.errors import NotFound
from connector.domain.normalize import mask_mobile
from connector.letters import usecases as letters
from connector.people import citizens, staff
from connector.store import audit
from connector.store.models import Letter, StaffUser

from . import pishkhan

F = TypeVar("F", bound=Callable[..., Any])

CSRF_KEY = "_csrf"
CSRF_FIELD = "csrf_token"
CITIZEN_KEY = "citizen_mobile"
STAFF_KEY = "staff_id"
STAFF_SINCE = "staff_since"
STAFF_SEEN = "staff_seen"
STAFF_GENERATION = "staff_gen"
STAFF_BLUEPRINTS = frozenset({"console", "admin", "desk", "reports", "visits", "visits_gate"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_EXEMPT_BLUEPRINTS = frozenset({"api", "gates_api"})  # bearer tokens, no cookies
# Pages load only our own stylesheet, fonts and (optional) scripts; no inline code at all, so
# injected markup can't run. Forms post only to us.
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# Attachments, receipts and JSON: nothing in them may run or load anything; PDFs and images may
# still be shown by the browser's own viewer.
# (No "sandbox": Chrome refuses to open a PDF in a sandboxed document.)
FILE_CSP = "default-src 'none'; img-src 'self'; object-src 'self'; frame-ancestors 'none'"


class CsrfError(Exception):
    """The form did not carry this session's token (forged, or the session has expired)."""


# --- CSRF -------------------------------------------------------------------------------------

def csrf_token() -> str:
    if CSRF_KEY not in session:
        session[CSRF_KEY] = secrets.token_urlsafe(32)
    return str(session[CSRF_KEY])


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token())


def _check_csrf() -> None:
    if request.method in SAFE_METHODS or request.blueprint in CSRF_EXEMPT_BLUEPRINTS:
        return
    if request.routing_exception is not None:
        return  # no route: the 404 or 405 answers, not a token error
    if request.path.startswith("/static/"):
        return
    expected = session.get(CSRF_KEY)
    given = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(str(expected), given):
        raise CsrfError()


def _rotate_csrf() -> None:
    # A new login gets a new token, so a token seen before login is worth nothing after it.
    session[CSRF_KEY] = secrets.token_urlsafe(32)


# --- citizens ---------------------------------------------------------------------------------

def current_mobile() -> str | None:
    return session.get(CITIZEN_KEY)


def login_citizen(mobile: str) -> None:
    session.permanent = True
    session[CITIZEN_KEY] = mobile
    _rotate_csrf()


def logout_citizen() -> None:
    session.pop(CITIZEN_KEY, None)


def citizen_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_mobile():
            return redirect(url_for("citizen.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapped  # type: ignore[return-value]


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path on this site: an open redirect would help phishing for OTP codes."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return default
    return target


# --- staff ------------------------------------------------------------------------------------

def _staff_session_alive() -> bool:
    """Idle too long, or signed in too long ago: the staff member signs in again."""
    settings, t = pishkhan().settings, clock.timestamp()
    since, seen = session.get(STAFF_SINCE, 0), session.get(STAFF_SEEN, 0)
    if t - seen > settings.staff_idle_seconds or t - since > settings.staff_session_seconds:
        return False
    if t - seen > 30:  # refresh the idle clock without rewriting the cookie on every request
        session[STAFF_SEEN] = int(t)
    return True


def current_staff() -> StaffUser | None:
    if "staff_user" not in g:
        user_id = session.get(STAFF_KEY)
        if user_id and not _staff_session_alive():
            logout_staff()
            user_id = None
        user = staff.get_user(pishkhan(), int(user_id)) if user_id else None
        if user is not None and session.get(STAFF_GENERATION) != user.session_generation:
            # Signed out elsewhere, password reset or account disabled since this sign-in:
            # the cookie (however copied) is worth nothing now.
            logout_staff()
            user = None
        g.staff_user = user
    return g.staff_user


def login_staff(user: StaffUser) -> None:
    session[STAFF_KEY] = user.id
    session[STAFF_GENERATION] = user.session_generation
    session[STAFF_SINCE] = session[STAFF_SEEN] = int(clock.timestamp())
    g.pop("staff_user", None)
    _rotate_csrf()


def logout_staff() -> None:
    for key in (STAFF_KEY, STAFF_SINCE, STAFF_SEEN, STAFF_GENERATION):
        session.pop(key, None)
    g.pop("staff_user", None)


def staff_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_staff() is None:
            return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)
    return wrapped  # type: ignore[return-value]


def require_org(user: StaffUser, org_slug: str) -> None:
    """A 404 rather than a 403, so the console does not confirm what exists elsewhere."""
    if not staff.may_decide(user, org_slug):
        abort(404)


# --- the API's bearer token -------------------------------------------------------------------

def bearer_mobile() -> str:
    # Looked up once per request: the audit hook and the view both ask.
    if "bearer_mobile" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        g.bearer_mobile = citizens.mobile_for_token(pishkhan(), token.strip()) \
            if scheme.lower() == "bearer" else None
    mobile: str | None = g.bearer_mobile
    if not mobile:
        raise Unauthorized()
    return mobile


def _audit_actor() -> None:
    """Whatever this request changes is recorded in the audit trail as done by its user."""
    user = current_staff() if request.blueprint in STAFF_BLUEPRINTS else None
    mobile = current_mobile()
    if request.blueprint == "api" and request.headers.get("Authorization"):
        try:
            mobile = bearer_mobile()
        except Unauthorized:
            mobile = None  # the view answers 401 itself
    actor = f"staff:{user.username}" if user else \
        f"citizen:{mask_mobile(mobile)}" if mobile else "web"
    g.audit_token = audit.set_actor(actor)


def _reset_audit_actor(_exc: BaseException | None) -> None:
    token = g.pop("audit_token", None)
    if token is not None:
        audit.reset_actor(token)


def readable_letter(code: str) -> Letter:
    """The letter for its owner (bearer token or citizen session) or for staff who may read it
    (:func:`connector.people.staff.may_read`). Anyone else gets the same 404 as for a code that does
    not exist."""
    px = pishkhan()
    if request.headers.get("Authorization"):
        return letters.get(px, code, bearer_mobile())
    mobile, user = current_mobile(), current_staff()
    if mobile is None and user is None:
        raise Unauthorized()
    if mobile is not None:
        try:
            return letters.get(px, code, mobile)
        except NotFound:
            if user is None:
                raise
    letter = letters.get(px, code)
    if user is None or not staff.may_read(user, letter.org, letter.channel):
        raise NotFound(code)
    return letter


def register(app: Flask) -> None:
    app.before_request(_check_csrf)
    app.before_request(_audit_actor)
    app.teardown_request(_reset_audit_actor)
    app.jinja_env.globals.update(csrf_token=csrf_token, csrf_field=csrf_field,
                                 current_mobile=current_mobile)

    # The same on every answer; a view's own value wins (setdefault, done as one pass over
    # the headers it set: Headers.setdefault scans them once per call).
    fixed = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
             # Tracking codes travel in our URLs: don't hand them to other sites as a Referer.
             ("Referrer-Policy", "same-origin"), ("Cross-Origin-Opener-Policy", "same-origin"),
             ("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")]

    @app.after_request
    def _headers(response: Any) -> Any:
        present = {key.lower() for key in response.headers.keys()}
        wanted = [*fixed, ("Content-Security-Policy",
                           PAGE_CSP if response.mimetype == "text/html" else FILE_CSP)]
        if app.config.get("SESSION_COOKIE_SECURE"):
            wanted.append(("Strict-Transport-Security", "max-age=31536000"))
        if not request.path.startswith("/static/"):
            # Pages and API answers carry personal data: shared phones must not cache them.
            wanted.append(("Cache-Control", "no-store"))
        for key, value in wanted:
            if key.lower() not in present:
                response.headers.add(key, value)
        return response
