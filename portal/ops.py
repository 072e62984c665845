"""For operations: Prometheus metrics at /metrics (counted from the database, so every process
reports the same numbers as the dashboard), /healthz (the process answers) and /readyz (it can
work: database, schema, attachment store); and a request id on every request and log line."""
from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, g, jsonify, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from connector.bootstrap import Pishkhan
from connector.domain.letter import State
from connector.operations import health, logs, metrics

from . import pishkhan

bp = Blueprint("ops", __name__)
log = logging.getLogger("pishkhan.web")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class StoreCollector(Collector):
    def __init__(self, px: Pishkhan) -> None:
        self.px = px

    def collect(self) -> Iterator[Metric]:
        snap = metrics.snapshot(self.px)
        letters = GaugeMetricFamily("pishkhan_letters", "Letters by organization and state",
                                    labels=["org", "state"])
        oldest = GaugeMetricFamily("pishkhan_letters_oldest_age_seconds",
                                   "Time since the least recently changed letter in each state "
                                   "was last changed", labels=["org", "state"])
        # Every organization and state, zeros too: an alert on a series that is absent
        # until the first failure would never fire.
        keys = {(org, st.value) for org in self.px.orgs for st in State} | set(snap.letters)
        for org, state in sorted(keys):
            letters.add_metric([org, state], snap.letters.get((org, state), 0))
            if (org, state) in snap.oldest:
                oldest.add_metric([org, state], snap.oldest[(org, state)])
        sms = GaugeMetricFamily("pishkhan_sms", "SMS outbox messages by organization, state "
                                "and provider", labels=["org", "state", "provider"])
        for (org, state, gateway), n in sorted(snap.sms.items()):
            sms.add_metric([org, state, gateway], n)
        lag = GaugeMetricFamily("pishkhan_poll_lag_seconds",
                                "Seconds since the last successful routing poll", labels=["org"])
        poll_ok = GaugeMetricFamily("pishkhan_poll_ok", "1 if the last routing poll succeeded",
                                    labels=["org"])
        paused = GaugeMetricFamily("pishkhan_delivery_paused",
                                   "1 if an admin paused delivery to the organization",
                                   labels=["org"])
        for org in sorted(snap.paused):
            paused.add_metric([org], int(snap.paused[org]))
            poll_ok.add_metric([org], int(snap.poll_ok[org]))
            if org in snap.poll_lag:
                lag.add_metric([org], snap.poll_lag[org])
        window = int(metrics.LATENCY_WINDOW.total_seconds())
        latency = GaugeMetricFamily(
            "pishkhan_delivery_latency_seconds",
            f"Seconds from hand-in (or approval) to delivery, over letters delivered in the "
            f"last {window} s, by quantile", labels=["org", "quantile"])
        delivered = GaugeMetricFamily("pishkhan_delivered_recent",
                                      f"Letters delivered in the last {window} s",
                                      labels=["org"])
        for org, (count, _total, quantiles) in sorted(snap.latency.items()):
            delivered.add_metric([org], count)
            for q, value in quantiles.items():
                latency.add_metric([org, str(q)], value)
        yield from (letters, oldest, sms, lag, poll_ok, paused, latency, delivered)


@bp.get("/metrics")
def prometheus_metrics() -> Response:
    px = pishkhan()
    token = px.settings.metrics_token
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given, token):
            abort(401)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(px))
    return Response(generate_latest(registry), content_type=CONTENT_TYPE)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    checks = health.readiness(pishkhan())
    ok = all(c.ok for c in checks)
    return jsonify(status="ok" if ok else "unavailable",
                   checks={c.name: {"ok": c.ok, "detail": c.detail} for c in checks}), \
        200 if ok else 503


def _start_request() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex[:16]
    g.request_token = logs.request_id.set(g.request_id)
    g.request_started = time.monotonic()


def _finish_request(response: Any) -> Any:
    response.headers["X-Request-ID"] = g.get("request_id", "")
    if request.endpoint not in ("ops.healthz", "ops.readyz", "ops.prometheus_metrics",
                                "static"):
        # The path only: query strings may carry a mobile number or a tracking code.
        log.info("%s %s %s", request.method, request.path, response.status_code, extra={
            "method": request.method, "path": request.path, "status": response.status_code,
            "duration_ms": round((time.monotonic() - g.request_started) * 1000, 1)})
    return response


def _end_request(_exc: BaseException | None) -> None:
    token = g.pop("request_token", None)
    if token is not None:
        logs.request_id.reset(token)


def register(app: Flask) -> None:
    app.before_request(_start_request)
    app.after_request(_finish_request)
    app.teardown_request(_end_request)
    app.register_blueprint(bp)
