"""An emulated identity registry: a civil-registry look-up (national code -> name, father's
name, alive) and a Shahkar-style mobile ownership check, over JSON with HTTP basic auth (the
sandbox's username and password), like the licensed intermediaries that sell them.

A handful of demo people, and failure modes switched at ``POST /registry/faults``:
``{"latency_ms": 3000}`` (slow), ``{"down": true}`` (503 on every call), ``{}`` clears.
A national code not in the list answers 404 ``NOT_FOUND``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from sandbox.state import current_sandbox

bp = Blueprint("registry", __name__, url_prefix="/registry")

# national code -> (first name, last name, father's name, alive, birth date, mobiles)
PEOPLE: dict[str, tuple[str, str, str, bool, str, tuple[str, ...]]] = {
    "0076229645": ("مریم", "احمدی", "علی", True, "1370/01/15", ("09121234567",)),
    "0012345679": ("رضا", "محمدی", "حسن", True, "1365/06/01", ("09351112233",)),
    "0023456787": ("زهرا", "کریمی", "محمود", True, "1380/11/20", ("09190000000",)),
    "0034567895": ("حسین", "رضایی", "عباس", False, "1320/03/03", ()),
}
_lock = threading.Lock()


def _faults() -> dict[str, Any]:
    """This sandbox's registry faults (each app its own, as tests run several)."""
    return current_app.extensions.setdefault("registry_faults", {})


def _authorized() -> bool:
    auth = request.authorization
    sandbox = current_sandbox()
    return bool(auth and auth.username == sandbox.username and auth.password == sandbox.password)


@bp.before_request
def _misbehave() -> Response | None:
    if request.endpoint == "registry.faults":
        return None
    with _lock:
        faults_now = _faults()
        latency, down = float(faults_now.get("latency_ms", 0) or 0), bool(faults_now.get("down"))
    if latency:
        time.sleep(latency / 1000)
    if down:
        return Response('{"status": "UNAVAILABLE"}', status=503, mimetype="application/json")
    if not _authorized():
        return Response('{"status": "UNAUTHORIZED"}', status=401,
                        mimetype="application/json")
    return None


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


@bp.post("/v1/persons/lookup")
def person() -> tuple[Response, int]:
    body = _body()
    found = PEOPLE.get(str(body.get("nationalCode", "")))
    birth = str(body.get("birthDate", "") or "")
    if found is None or (birth and birth != found[4]):
        return jsonify(status="NOT_FOUND"), 404
    first, last, father, alive, _, _ = found
    return jsonify(status="OK", data={"firstName": first, "lastName": last,
                                      "fatherName": father, "isAlive": alive}), 200


@bp.post("/v1/shahkar")
def shahkar() -> tuple[Response, int]:
    body = _body()
    found = PEOPLE.get(str(body.get("nationalCode", "")))
    match = bool(found and str(body.get("mobile", "")) in found[5])
    return jsonify(status="OK", data={"match": match}), 200


@bp.route("/faults", methods=["GET", "POST"])
def faults() -> Response:
    if request.method == "POST":
        data = _body()
        unknown = sorted(set(data) - {"latency_ms", "down"})
        if unknown:
            return Response(f'{{"error": "unknown faults: {", ".join(unknown)}"}}', status=400,
                            mimetype="application/json")
        with _lock:
            _faults().clear()
            _faults().update(data)
    with _lock:
        return jsonify(dict(_faults()))
