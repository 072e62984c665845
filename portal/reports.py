"""Reports per organization and unit for admins: a table, a chart and a CSV file."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from flask import Blueprint, Response, render_template, request
from markupsafe import Markup

import messages
from connector.config.organizations import Organization
from connector.operations import reports
from connector.people import staff

from . import pishkhan
from .charts import grouped_bars
from .staff_ui import (
    day_start_utc,
    next_day_start_utc,
    org_where,
    orgs_where,
    parse_day,
    role_required,
    today,
    user,
)

bp = Blueprint("reports", __name__, url_prefix="/reports")
admin_only = role_required(*staff.ADMINS)
DEFAULT_DAYS = 30


def _orgs() -> list[Organization]:
    return orgs_where(staff.may_administer)


def _org(slug: str) -> Organization:
    return org_where(staff.may_administer, slug)


def _period() -> tuple[date, date, list[str]]:
    """The days asked for (Jalali or Gregorian), by default the last 30 days up to today."""
    bad = [k for k in ("since", "until") if request.args.get(k) and
           not parse_day(request.args[k])]
    until = parse_day(request.args.get("until", "")) or today()
    since = parse_day(request.args.get("since", "")) or until - timedelta(days=DEFAULT_DAYS - 1)
    return since, until, bad


def _report(org: Organization) -> tuple[reports.Report, date, date, list[str]]:
    since, until, bad = _period()
    report = reports.build(pishkhan(), org.slug, day_start_utc(since),
                           next_day_start_utc(until))
    report.total.name = messages.render("reports.all_units")  # the core leaves words to us
    return report, since, until, bad


@bp.get("/")
@admin_only
def index() -> str:
    return render_template("reports/index.html", user=user(), orgs=_orgs())


@bp.get("/<org>")
@admin_only
def org_report(org: str) -> tuple[str, int]:
    organization = _org(org)
    report, since, until, bad = _report(organization)
    units = [r for r in report.units if r.received] or report.units
    chart: Markup = grouped_bars(
        [r.name for r in units],
        [("رسیده", [r.received for r in units]), ("پذیرفته", [r.approved for r in units]),
         ("رد شده", [r.rejected for r in units]), ("دیرکرد", [r.overdue for r in units])],
        f"نامه‌های {organization.name} به تفکیک واحد")
    return render_template("reports/org.html", user=user(), org=organization, report=report,
                           since=since, until=until, bad=bad, chart=chart,
                           args=request.args), 400 if bad else 200


@bp.get("/<org>.csv")
@admin_only
def org_csv(org: str) -> Response:
    organization = _org(org)
    report, since, until, _ = _report(organization)
    out = io.StringIO()
    out.write("\ufeff")  # Excel reads the Persian names as UTF-8 only with a BOM
    csv.writer(out).writerows(reports.csv_rows(report))
    name = f"pishkhan-{organization.slug}-{since.isoformat()}-{until.isoformat()}.csv"
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
