"""The visits report page: a table per host and unit, per day and per category, a chart and a
CSV file (UTF-8 with BOM, for Excel), over days typed in Jalali or Gregorian."""
from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from flask import Response, render_template, request

from connector.people import staff
from connector.visits import reports

from . import pishkhan
from .charts import grouped_bars
from .staff_ui import (
    day_start_utc,
    jalali_day,
    next_day_start_utc,
    org_where,
    parse_day,
    role_required,
    today,
    user,
)
from .visits import bp
from .visits_labels import CATEGORY

guard_only = role_required(*staff.SECURITY)


def _report(org: str) -> tuple[reports.VisitReport, date, date, list[str]]:
    bad = [k for k in ("since", "until") if request.args.get(k) and
           not parse_day(request.args[k])]
    until = parse_day(request.args.get("until", "")) or today()
    since = parse_day(request.args.get("since", "")) or until - timedelta(days=13)
    return (reports.build(pishkhan(), org, day_start_utc(since), next_day_start_utc(until)),
            since, until, bad)


@bp.get("/<org>/report")
@guard_only
def report(org: str) -> tuple[str, int]:
    organization = org_where(staff.may_guard, org)
    data, since, until, bad = _report(org)
    chart = grouped_bars([jalali_day(d)[5:] for d, _, _ in data.days],
                         [("مراجعه", [n for _, n, _ in data.days]),
                          ("تردد ردشده", [r for _, _, r in data.days])],
                         f"مراجعه‌ها و ترددهای ردشده {organization.name} به تفکیک روز")
    return render_template("visits/report.html", user=user(), org=organization, report=data,
                           since=since, until=until, bad=bad, chart=chart,
                           categories=CATEGORY, args=request.args), 400 if bad else 200


@bp.get("/<org>/report.csv")
@guard_only
def report_csv(org: str) -> Response:
    organization = org_where(staff.may_guard, org)
    data, since, until, _ = _report(org)
    out = io.StringIO()
    out.write("\ufeff")
    csv.writer(out).writerows(reports.csv_rows(data))
    name = f"pishkhan-visits-{organization.slug}-{since}-{until}.csv"
    return Response(out.getvalue(), content_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
