"""The in-person desk's staff pages: hosts pre-register visitors; the security desk sees who is
expected today, admits them with a photo, prints passes, records desk-only visits, keeps the
blacklist and sees alerts; a visitor's file; the live board. The gate page is in
:mod:`portal.visits_gate`, the pass PDF in :mod:`portal.visits_pass`."""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for

import messages
from connector.config.organizations import Organization
from connector.domain.clock import now
from connector.domain.errors import Message, NotFound, ValidationError, msg
from connector.people import staff
from connector.plugins import identity
from connector.visits import blacklist, hosts, images, people
from connector.visits import usecases as visits

from . import pishkhan
from . import visits_forms as forms
from .i18n import translate
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
from .visits_labels import CATEGORY, STATE
from .visits_pass import pass_response

bp = Blueprint("visits", __name__, url_prefix="/visits")
any_visits = role_required(*sorted(set(staff.HOSTS) | set(staff.SECURITY)))
guard_only = role_required(*staff.SECURITY)

Page = str | Response | tuple[str, int]
LABELS = {"national_code": "کد ملی", "passport": "شماره گذرنامه", "nationality": "کشور",
          "first_name": "نام", "last_name": "نام خانوادگی", "father_name": "نام پدر",
          "mobile": "شماره همراه", "purpose": "موضوع ملاقات", "host": "میزبان",
          "category": "نوع مراجعه", "day": "روز", "start": "از ساعت", "end": "تا ساعت",
          "window": "زمان ملاقات", "photo": "عکس", "id_scan": "تصویر کارت شناسایی",
          "identity": "شخص", "visit": "مراجعه", "reason": "دلیل", "until": "تا روز"}


@bp.app_template_filter("visit_state")
def visit_state(state: str) -> str:
    return STATE.get(state, state)


@bp.app_template_filter("alert_text")
def alert_text(message: str) -> str:
    """An alert as stored (its message's code and parameters, JSON) in the reader's words; a
    parameter that is itself a code (a gate's reason, where it happened) is said first."""
    try:
        data = json.loads(message)
        params = dict(data["params"])
    except (ValueError, KeyError, TypeError):
        return message
    for key, value in params.items():
        if isinstance(value, str) and value in messages.FA:
            params[key] = translate(value, reason=params.get("detail", ""))
    if "who" in params and not params["who"]:
        params["who"] = translate("visit.unknown_card")
    return translate(str(data.get("code", "")), **params)


def _org(slug: str, may: Any = None) -> Organization:
    return org_where(may or (lambda u, o: staff.may_host(u, o) or staff.may_guard(u, o)), slug)


def _is_guard(slug: str) -> bool:
    return staff.may_guard(user(), slug)


@bp.after_request
def _camera(response: Response) -> Response:
    # The admit form may use the browser's camera (from our own origin only).
    response.headers["Permissions-Policy"] = \
        "camera=(self), microphone=(), geolocation=(), payment=()"
    return response


@bp.get("/")
@any_visits
def index() -> Page:
    orgs = orgs_where(lambda u, o: staff.may_host(u, o) or staff.may_guard(u, o))
    if len(orgs) == 1:
        return redirect(url_for("visits.desk", org=orgs[0].slug))
    return render_template("visits/index.html", user=user(), orgs=orgs)


@bp.get("/<org>/")
@any_visits
def desk(org: str) -> Page:
    organization = _org(org)
    px, day = pishkhan(), today()
    start, end = day_start_utc(day), next_day_start_utc(day)
    if not _is_guard(org):  # a host sees their own visitors
        mine = visits.listing(px, org, host_user_id=user().id, limit=50)
        return render_template("visits/host.html", user=user(), org=organization, visits=mine)
    return render_template(
        "visits/desk.html", user=user(), org=organization,
        expected=visits.expected(px, org, start, end), inside=visits.inside(px, org),
        alerts=blacklist.open_alerts(px, org), found=None, q="", now=now())


@bp.get("/<org>/search")
@guard_only
def search(org: str) -> Page:
    organization = _org(org, staff.may_guard)
    q = request.args.get("q", "")
    px = pishkhan()
    by_code = visits.by_pass(px, org, q) if q else None
    if by_code is not None:
        return redirect(url_for("visits.visit", org=org, visit_id=by_code.id))
    found = people.search(px, org, q)
    return render_template("visits/desk.html", user=user(), org=organization, expected=[],
                           inside=[], alerts=blacklist.open_alerts(px, org), found=found, q=q,
                           now=now())


def _form_page(organization: Organization, template: str, form: Any, errors: dict[str, str],
               status: int = 200, notice: Message | None = None) -> tuple[str, int]:
    return render_template(template, user=user(), org=organization, form=form, errors=errors,
                           labels=LABELS, hosts=hosts.hosts(pishkhan(), organization.slug),
                           categories=CATEGORY, guard=_is_guard(organization.slug),
                           day=parse_day(form.get("day", "")) or today(), notice=notice,
                           lookup_on=identity.lookups(pishkhan()).adapter is not None), status


def _fill_from_registry(organization: Organization, form: Any,
                        template: str) -> tuple[str, int]:
    """The desk's «find the name» button: the civil registry fills the names (works without
    script: the form comes back with everything typed so far)."""
    filled = form.to_dict()
    outcome = identity.lookup_person(pishkhan(), filled.get("national_code", ""),
                                     org=organization.slug, purpose="visit desk")
    if outcome.status == "not_found":
        return _form_page(organization, template, filled, {"national_code": outcome.message},
                          400)
    if outcome.person is not None:
        filled.update(first_name=outcome.person.first_name,
                      last_name=outcome.person.last_name,
                      father_name=outcome.person.father_name)
    return _form_page(organization, template, filled, {},
                      notice=outcome.message or msg("identity.found"))


@bp.route("/<org>/new", methods=["GET", "POST"])
@any_visits
def new(org: str) -> Page:
    """Pre-registration: a host (or the desk for a host) expects someone at a time."""
    organization = _org(org)
    form = request.form if request.method == "POST" else _prefill(org)
    if request.method == "GET":
        return _form_page(organization, "visits/new.html", form, {})
    if form.get("action") == "lookup":
        return _fill_from_registry(organization, form, "visits/new.html")
    start, end, errors = forms.window(form)
    host = user().username if user().role == "host" else form.get("host", "")
    try:
        if errors:
            raise ValidationError(errors)
        reg = visits.register(pishkhan(), org, forms.identity(form), host=host,
                              purpose=form.get("purpose", ""), start=start, end=end,
                              unit=form.get("unit", ""))
    except ValidationError as exc:
        return _form_page(organization, "visits/new.html", form, {**errors, **exc.errors}, 400)
    return render_template("visits/registered.html", user=user(), org=organization,
                           visit=reg.visit, pass_code=reg.pass_code)


def _prefill(org: str) -> dict[str, str]:
    """A returning visitor's known details, when the desk starts from their file."""
    visitor_id = request.args.get("visitor", "")
    if not visitor_id.isdigit():
        return {}
    try:
        v = people.visitor_file(pishkhan(), org, int(visitor_id)).visitor
    except NotFound:
        return {}
    return {"kind": v.kind, "national_code": v.national_code, "passport": v.passport,
            "nationality": v.nationality, "first_name": v.first_name, "last_name": v.last_name,
            "father_name": v.father_name, "mobile": v.mobile}


@bp.route("/<org>/walk-in", methods=["GET", "POST"])
@guard_only
def walk_in(org: str) -> Page:
    """Someone at the desk now: a visit that enters (category 3, with a pass) or one finished
    at the desk (1, 2, 4, no pass)."""
    organization = _org(org, staff.may_guard)
    if request.method == "GET":
        return _form_page(organization, "visits/walk_in.html", _prefill(org), {})
    form, errors = request.form, {}
    if form.get("action") == "lookup":
        return _fill_from_registry(organization, form, "visits/walk_in.html")
    photo = forms.image(request, "photo", errors)
    id_scan = forms.image(request, "id_scan", errors)
    category = forms.category(form, visits.ENTERING)
    try:
        if errors:
            raise ValidationError(errors)
        reg = visits.register(pishkhan(), org, forms.identity(form), host=form.get("host", ""),
                              purpose=form.get("purpose", ""), category=category,
                              unit=form.get("unit", ""), admit=True, photo=photo,
                              id_scan=id_scan)
    except ValidationError as exc:
        return _form_page(organization, "visits/walk_in.html", form, {**errors, **exc.errors},
                          400)
    return redirect(url_for("visits.visit", org=org, visit_id=reg.visit.id))


@bp.get("/<org>/v/<int:visit_id>")
@any_visits
def visit(org: str, visit_id: int) -> Page:
    organization = _org(org)
    try:
        v = visits.get(pishkhan(), org, visit_id)
    except NotFound:
        abort(404)
    if not _is_guard(org) and v.host_user_id != user().id:
        abort(404)
    return render_template("visits/visit.html", user=user(), org=organization, visit=v,
                           guard=_is_guard(org), errors={}, labels=LABELS,
                           categories=CATEGORY,
                           overstaying=visits.overstaying(v))


@bp.post("/<org>/v/<int:visit_id>/admit")
@guard_only
def admit(org: str, visit_id: int) -> Page:
    organization = _org(org, staff.may_guard)
    errors: dict[str, str] = {}
    photo = forms.image(request, "photo", errors)
    id_scan = forms.image(request, "id_scan", errors)
    try:
        if errors:
            raise ValidationError(errors)
        visits.admit(pishkhan(), org, visit_id, photo=photo, id_scan=id_scan)
    except ValidationError as exc:
        v = visits.get(pishkhan(), org, visit_id)
        return render_template("visits/visit.html", user=user(), org=organization, visit=v,
                               guard=True, errors={**errors, **exc.errors}, labels=LABELS,
                               categories=CATEGORY,
                               overstaying=visits.overstaying(v)), 400
    return redirect(url_for("visits.visit", org=org, visit_id=visit_id))


@bp.post("/<org>/v/<int:visit_id>/pass")
@guard_only
def print_pass(org: str, visit_id: int) -> Response:
    """A new pass code on paper (80 mm receipt printer or A6); the earlier code stops working."""
    organization = _org(org, staff.may_guard)
    v, code = visits.issue_pass(pishkhan(), org, visit_id)
    size = "a6" if request.form.get("size") == "a6" else "80mm"
    return pass_response(organization, v, code, size)


@bp.post("/<org>/v/<int:visit_id>/refuse")
@guard_only
def refuse(org: str, visit_id: int) -> Response:
    _org(org, staff.may_guard)
    visits.refuse(pishkhan(), org, visit_id, request.form.get("reason", ""))
    return redirect(url_for("visits.visit", org=org, visit_id=visit_id))


@bp.get("/<org>/visitors/<int:visitor_id>")
@guard_only
def visitor_file(org: str, visitor_id: int) -> Page:
    organization = _org(org, staff.may_guard)
    try:
        file = people.visitor_file(pishkhan(), org, visitor_id)
    except NotFound:
        abort(404)
    return render_template("visits/visitor.html", user=user(), org=organization, file=file,
                           categories=CATEGORY)


@bp.get("/<org>/visitors/<int:visitor_id>/<any(photo, id_scan):which>")
@any_visits
def visitor_image(org: str, visitor_id: int, which: str) -> Response:
    _org(org)
    try:
        file = people.visitor_file(pishkhan(), org, visitor_id)
        # A host sees the photo of their own visitors only; the desk sees everyone's.
        if not _is_guard(org) and not any(x.host_user_id == user().id for x in file.visits):
            raise NotFound(f"visitor {visitor_id}")
        v = file.visitor
        digest = v.photo_sha256 if which == "photo" else v.id_scan_sha256
        data = images.get(pishkhan(), digest or "")
    except NotFound:
        abort(404)
    return Response(data, mimetype="image/png" if data[:4] == b"\x89PNG" else "image/jpeg")


@bp.route("/<org>/blacklist", methods=["GET", "POST"])
@guard_only
def blacklist_page(org: str) -> Page:
    organization = _org(org, staff.may_guard)
    errors: dict[str, str] = {}
    form = request.form
    if request.method == "POST":
        until = parse_day(form.get("until", "")) if form.get("until") else None
        if form.get("until") and until is None:
            errors["until"] = forms.MSG_DAY
        try:
            if errors:
                raise ValidationError(errors)
            blacklist.add(pishkhan(), org, national_code_=form.get("national_code", ""),
                          passport=form.get("passport", ""),
                          nationality=form.get("nationality", ""),
                          reason=form.get("reason", ""), name=form.get("name", ""),
                          until=next_day_start_utc(until) if until else None)
            return redirect(url_for("visits.blacklist_page", org=org))
        except ValidationError as exc:
            errors = {**errors, **exc.errors}
    return render_template("visits/blacklist.html", user=user(), org=organization,
                           entries=blacklist.listing(pishkhan(), org), form=form,
                           errors=errors, labels=LABELS), 400 if errors else 200


@bp.post("/<org>/blacklist/<int:entry_id>/remove")
@guard_only
def blacklist_remove(org: str, entry_id: int) -> Response:
    _org(org, staff.may_guard)
    blacklist.remove(pishkhan(), org, entry_id)
    return redirect(url_for("visits.blacklist_page", org=org))


@bp.post("/<org>/alerts/<int:alert_id>/seen")
@guard_only
def alert_seen(org: str, alert_id: int) -> Response:
    _org(org, staff.may_guard)
    blacklist.mark_seen(pishkhan(), org, alert_id)
    return redirect(url_for("visits.desk", org=org))


@bp.get("/<org>/alerts.json")
@guard_only
def alerts_json(org: str) -> Response:
    """Polled by the desk page's script, so an alert shows without reloading the page."""
    _org(org, staff.may_guard)
    return jsonify(alerts=[{"id": a.id, "kind": a.kind, "message": alert_text(a.message)}
                           for a in blacklist.open_alerts(pishkhan(), org)])


@bp.get("/<org>/logo.png")
@any_visits
def logo(org: str) -> Response:
    data = images.org_logo(_org(org).path)
    if data is None:
        abort(404)
    return Response(data, mimetype="image/png")


@bp.get("/<org>/board")
@any_visits
def board(org: str) -> Page:
    """Who is inside now, with photos; for a monitor at the desk (refreshes itself)."""
    organization = _org(org)
    return render_template("visits/board.html", user=user(), org=organization,
                           inside=visits.inside(pishkhan(), org), now=now(),
                           overstaying=visits.overstaying,
                           has_logo=images.org_logo(organization.path) is not None)

from . import visits_reports  # noqa: E402,F401  (adds the report pages to bp)
