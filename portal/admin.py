"""The admin pages: the dashboard of each organization (letters per state, failed and
dead deliveries with retry, SMS failures, poll lag, pause and resume), the organization view
(configuration with secrets masked, units, services, config check, test connection) and the
audit viewer. Organization admins see their own organizations; platform admins see all."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from connector.config.organizations import Organization
from connector.domain import tracking
from connector.domain.errors import Forbidden, NotFound
from connector.letters import usecases as letters
from connector.operations import dashboard
from connector.people import staff
from connector.store import audit

from . import pishkhan
from .staff_ui import (
    day_start_utc,
    next_day_start_utc,
    org_where,
    orgs_where,
    parse_day,
    role_required,
    user,
)

bp = Blueprint("admin", __name__, url_prefix="/admin")
admin_only = role_required(*staff.ADMINS)

Page = str | Response | tuple[str, int]


def _orgs() -> list[Organization]:
    return orgs_where(staff.may_administer)


def _org(slug: str) -> Organization:
    return org_where(staff.may_administer, slug)


@bp.get("/")
@admin_only
def index() -> Page:
    orgs = _orgs()
    return render_template("admin/index.html", user=user(), orgs=orgs,
                           overview=dashboard.overview(pishkhan(), [o.slug for o in orgs]))


@bp.get("/<org>")
@admin_only
def org_dashboard(org: str) -> Page:
    return render_template("admin/dashboard.html", user=user(),
                           d=dashboard.dashboard(pishkhan(), _org(org).slug))


@bp.post("/<org>/pause", defaults={"paused": True})
@bp.post("/<org>/resume", defaults={"paused": False})
@admin_only
def set_paused(org: str, paused: bool) -> Response:
    dashboard.set_paused(pishkhan(), _org(org).slug, paused)
    flash("فرستادن نامه‌های این سازمان متوقف شد. نامه‌ها در صف می‌مانند." if paused else
          "فرستادن نامه‌های این سازمان دوباره شروع شد.")
    return redirect(url_for("admin.org_dashboard", org=org))


@bp.post("/<org>/letters/<code>/retry")
@admin_only
def retry(org: str, code: str) -> Response:
    slug = _org(org).slug
    tracking_code = _letter_code(slug, code)
    try:
        dashboard.retry(pishkhan(), tracking_code)
        flash(f"نامه {tracking_code} دوباره فرستاده می‌شود.")
    except Forbidden:
        flash("این نامه دیگر در حالت خطا نیست.")
    return redirect(url_for("admin.org_dashboard", org=org))


def _letter_code(slug: str, code: str) -> str:
    """The tracking code, only for a letter of this organization."""
    try:
        letter = letters.get(pishkhan(), code)
    except NotFound:
        abort(404)
    if letter.org != slug:
        abort(404)
    return letter.tracking_code


@bp.post("/<org>/retry-dead")
@admin_only
def retry_dead(org: str) -> Response:
    n = dashboard.retry_all_dead(pishkhan(), _org(org).slug)
    flash(f"{n} نامه متوقف دوباره فرستاده می‌شود.")
    return redirect(url_for("admin.org_dashboard", org=org))


@bp.get("/<org>/settings")
@admin_only
def org_view(org: str) -> Page:
    return _org_view(_org(org))


@bp.post("/<org>/test-connection")
@admin_only
def test_connection(org: str) -> Page:
    organization = _org(org)
    return _org_view(organization, dashboard.test_connection(pishkhan(), organization.slug))


def _org_view(org: Organization, check: dashboard.ConnectionCheck | None = None) -> Page:
    return render_template("admin/org.html", user=user(), org=org, check=check,
                           adapter=dashboard.masked(org.adapter.options),
                           sms=dashboard.masked(org.sms.options),
                           problems=dashboard.config_problems(pishkhan(), org.slug))


@bp.get("/audit")
@admin_only
def audit_log() -> Page:
    args = request.args
    since, until = parse_day(args.get("since", "")), parse_day(args.get("until", ""))
    filters = audit.Filters(actor=args.get("actor", "").strip(),
                            action=args.get("action", "").strip(),
                            org=args.get("org", "").strip(),
                            letter=tracking.clean(args.get("letter", "")),
                            since=day_start_utc(since) if since else None,
                            until=next_day_start_utc(until) if until else None)
    mine = [o.slug for o in _orgs()]
    # An organization admin sees records of their organizations only; a platform admin all,
    # including sign-ins and account changes, which belong to no organization.
    scope = None if user().role == "platform_admin" else mine
    if filters.org and filters.org not in mine:
        scope = []
    before = args.get("before", type=int)
    records = audit.search(pishkhan(), filters, scope, limit=100, before_id=before)
    bad_dates = [k for k, v in (("since", since), ("until", until)) if args.get(k) and not v]
    return render_template("admin/audit.html", user=user(), records=records, f=args,
                           orgs=_orgs(), actions=audit.actions(pishkhan()),
                           bad_dates=bad_dates,
                           older=url_for("admin.audit_log",
                                         **{**args.to_dict(), "before": records[-1].id})
                           if len(records) == 100 else None)
