"""Gates: the JSON API for turnstile controllers and barcode readers (bearer gate token), and
the browser gate page for a USB reader that types the code and presses Enter — no script
needed. Both decide through :func:`connector.visits.gates.scan`."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, abort, jsonify, render_template, request, url_for
from sqlalchemy import select

import messages
from connector.domain.clock import now
from connector.domain.errors import NotFound, ValidationError
from connector.people import staff
from connector.store import audit
from connector.store.visits import GateScan, Visit
from connector.visits import gates, images

from . import pishkhan
from .errors import error_response
from .staff_ui import org_where, role_required, user

api = Blueprint("gates_api", __name__, url_prefix="/api/v1/gates")
page = Blueprint("visits_gate", __name__, url_prefix="/visits")
guard_only = role_required(*staff.SECURITY)
MSG_TOKEN = "توکن دروازه درست نیست یا باطل شده است."
MSG_CODE = "کد کارت را بفرستید."
PHOTO_FOR = timedelta(minutes=10)  # a gate sees a photo only just after scanning its pass


def _gate(name: str) -> gates.Gate:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        raise gates.GateUnauthorized(name)
    return gates.by_token(pishkhan(), name, token.strip())


@api.errorhandler(gates.GateUnauthorized)
def _unauthorized(_exc: gates.GateUnauthorized) -> Response:
    return error_response(401, MSG_TOKEN, headers={"WWW-Authenticate": "Bearer"})


@api.post("/<gate>/scan")
def scan(gate: str) -> Response:
    found = _gate(gate)
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else request.form
    code = str(body.get("code", "") or "").strip()
    if not code:
        raise ValidationError({"code": MSG_CODE})
    direction = str(body.get("direction", "") or "") or None
    with audit.acting_as(f"gate:{found.org}/{found.name}"):
        result = gates.scan(pishkhan(), found, code, direction)
    photo = pishkhan().settings.public_url + url_for(
        "gates_api.photo", gate=gate, visitor_id=result.visitor_id) \
        if result.has_photo else None
    reason = messages.render(result.reason) if result.reason else ""  # the API speaks Persian
    return jsonify(decision=result.decision, direction=result.direction, reason=reason,
                   visitor={"name": result.visitor_name, "photo_url": photo})


@api.get("/<gate>/visitors/<int:visitor_id>/photo")
def photo(gate: str, visitor_id: int) -> Response:
    found = _gate(gate)
    px = pishkhan()
    with px.sessions() as s:
        visit = s.scalars(select(Visit).join(GateScan, GateScan.visit_id == Visit.id).where(
            GateScan.gate_id == found.id, Visit.visitor_id == visitor_id,
            GateScan.at >= now() - PHOTO_FOR)).first()
        digest = visit.visitor.photo_sha256 if visit else None
    if not digest:
        abort(404)
    data = images.get(px, digest)
    return Response(data, mimetype="image/png" if data[:4] == b"\x89PNG" else "image/jpeg")


@page.get("/<org>/gates")
@guard_only
def gate_list(org: str) -> str:
    organization = org_where(staff.may_guard, org)
    return render_template("visits/gates.html", user=user(), org=organization,
                           gates=[g for g in gates.listing(pishkhan(), org) if g.active])


@page.route("/<org>/gates/<name>", methods=["GET", "POST"])
@guard_only
def gate_page(org: str, name: str) -> tuple[str, int] | str:
    organization = org_where(staff.may_guard, org)
    try:
        gate = gates.by_name(pishkhan(), org, name)
    except NotFound:
        abort(404)
    result, direction = None, request.form.get("direction", "in")
    if request.method == "POST":
        code = request.form.get("code", "").strip()
        if code:
            result = gates.scan(pishkhan(), gate, code,
                                direction if direction in gates.DIRECTIONS else None)
    return render_template("visits/gate.html", user=user(), org=organization, gate=gate,
                           result=result, direction=direction)
