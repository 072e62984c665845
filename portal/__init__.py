"""The Flask app: citizen pages, the operator console and the JSON API.

A thin layer: each view turns an HTTP request into one call of the core (``connector``) and the
result, or the core's error, back into HTTP. Business rules live in the core, never here.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from connector.bootstrap import Pishkhan, bootstrap
from connector.people.staff import ensure_demo_operator

from .multipart import PortalRequest

EXTENSION = "pishkhan"


def pishkhan() -> Pishkhan:
    """The core container of the running app (set by :func:`create_app`)."""
    return current_app.extensions[EXTENSION]


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session; a request without the cookie (every API call with a
    bearer token) gets its empty session without a signer being built for it first."""

    def open_session(self, app: Flask, request: Any) -> SecureCookieSession | None:
        if not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def max_request_bytes(px: Pishkhan) -> int:
    """The largest organization's attachments plus the form and multipart overhead."""
    return max((o.attachments.max_files * o.attachments.max_bytes for o in px.orgs.values()),
               default=0) + 2 * 1024 * 1024


def create_app(px: Pishkhan | None = None, config: dict[str, Any] | None = None) -> Flask:
    # The composition root (bootstrap) reads the environment; the portal reads none itself.
    px = px or bootstrap()
    https = px.settings.public_url.startswith("https://")
    app = Flask(__name__)
    app.request_class = PortalRequest
    app.session_interface = _Sessions()
    app.config.from_mapping(
        SECRET_KEY=px.settings.secret_key,
        MAX_CONTENT_LENGTH=max_request_bytes(px),
        # A text field is parsed whatever its length (up to the whole request), so the form's
        # own check names the field that is too long instead of a 413 about files.
        MAX_FORM_MEMORY_SIZE=max_request_bytes(px),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=https,
        # __Host-: only ever sent back over HTTPS to this exact host, never to a sibling domain.
        SESSION_COOKIE_NAME="__Host-pishkhan" if https else "pishkhan",
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=px.settings.token_ttl),
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # Persian stays readable
    if config:
        app.config.update(config)
    app.extensions[EXTENSION] = px
    app.config["DEMO_OPERATOR"] = ensure_demo_operator(px)

    from . import (
        admin,
        api,
        citizen,
        console,
        desk,
        errors,
        filters,
        i18n,
        limits,
        ops,
        reports,
        security,
        staff_ui,
        visits,
        visits_gate,
        webhooks_admin,
    )

    ops.register(app)  # first: the request id is set before any other hook logs
    i18n.register(app)
    filters.register(app)
    security.register(app)
    errors.register(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(citizen.bp)
    app.register_blueprint(console.bp)
    staff_ui.register(app)
    app.register_blueprint(admin.bp)
    app.register_blueprint(desk.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(webhooks_admin.bp)
    app.register_blueprint(visits.bp)
    app.register_blueprint(visits_gate.page)
    app.register_blueprint(visits_gate.api)
    limits.register(app, px.settings)
    if px.settings.proxy_fix > 0:
        # Behind nginx the client's address, scheme and host arrive in X-Forwarded-* headers;
        # only as many hops as there are proxies of ours are trusted, so a client cannot pick
        # its own address (and rate-limit key) by sending the header itself.
        from werkzeug.middleware.proxy_fix import ProxyFix
        hops = px.settings.proxy_fix
        app.wsgi_app = ProxyFix(app.wsgi_app,  # type: ignore[method-assign]
                                x_for=hops, x_proto=hops, x_host=hops)
    return app
