"""/healthz, /readyz, /metrics and the logs: request ids, JSON lines, masked personal data."""
from __future__ import annotations

import io
import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from connector.bootstrap import bootstrap
from connector.operations import logs
from tests.conftest import make_settings


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "ok"


def test_not_ready_until_the_schema_is_migrated(tmp_path):
    from connector.store.db import upgrade
    from portal import create_app
    settings = make_settings(tmp_path)
    upgrade(settings.database_url, "0001")  # the code expects a newer schema
    px = bootstrap(settings)
    try:
        resp = create_app(px, {"TESTING": True}).test_client().get("/readyz")
        body = resp.get_json()
        assert resp.status_code == 503 and body["checks"]["database"]["ok"]
        assert not body["checks"]["schema"]["ok"]
        assert "pishkhan db upgrade" in body["checks"]["schema"]["detail"]
    finally:
        px.close()


def test_metrics_are_valid_and_may_require_a_token(tmp_path):
    from connector.store.db import upgrade
    from portal import create_app
    settings = make_settings(tmp_path, PISHKHAN_METRICS_TOKEN="scrape-me")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        client = create_app(px, {"TESTING": True}).test_client()
        assert client.get("/metrics").status_code == 401
        resp = client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
        families = {f.name: f for f in text_string_to_metric_families(resp.get_data(True))}
        zeros = {(s.labels["org"], s.labels["state"]): s.value
                 for s in families["pishkhan_letters"].samples}
        assert zeros[("demo", "dead")] == 0 and zeros[("demo-portal", "staged")] == 0
    finally:
        px.close()


def _capture(fmt: str) -> tuple[logging.Handler, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logs.MaskingFilter())
    handler.setFormatter(logs.JsonFormatter() if fmt == "json" else logs.TextFormatter())
    return handler, out


def test_json_logs_carry_the_request_id_and_mask_personal_data(client):
    handler, out = _capture("json")
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        resp = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert resp.headers["X-Request-ID"] == "abc-123"
        client.get("/track", headers={"X-Request-ID": "bad id with spaces"})
        logging.getLogger("connector.test").warning(
            "sms to %s for %s failed", "09121234567", "۰۰۷۶۲۲۹۶۴۵")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    track = next(x for x in lines if x.get("path") == "/track")
    assert track["status"] in (200, 302) and len(track["request_id"]) == 16
    assert "bad id" not in out.getvalue()
    last = lines[-1]
    assert last["msg"] == "sms to 0912***4567 for ******9645 failed"
    assert last["level"] == "warning" and "09121234567" not in out.getvalue()


def test_mask_leaves_tracking_codes_alone():
    assert logs.mask("letter 123456789012 for +989121234567") == \
        "letter 123456789012 for 0912***4567"
    assert logs.mask("code 0076229645.") == "code ******9645."
