"""The admin's day, over loopback with the real sandbox: stop the sandbox, watch deliveries fail
and the dashboard say so, start it again and retry; the audit trail and /metrics agree."""
from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from connector.bootstrap import bootstrap
from connector.cli import worker
from connector.people.staff import add_user
from connector.store.db import upgrade
from tests.conftest import make_settings
from tests.e2e.conftest import Stack, _serve, wait_for
from tests.sandbox_server import start_sandbox

MOBILE = "09121234567"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
FORM = {"applicant_type": "natural", "national_code": "0076229645", "first_name": "زهرا",
        "last_name": "محمدی", "subject": "درخواست تعمیر آسفالت کوچه",
        "body": "کوچه شماره ۳ خیابان بهار چاله‌های بزرگ دارد.", "service": "street-repair"}


class Restartable:
    """The sandbox on a fixed loopback port, so it can be stopped and started where it was."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url, _, self._stop = start_sandbox(folder)
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        self._stop()

    def start(self) -> None:
        _, _, self._stop = start_sandbox(self.folder, port=self.port)


@pytest.fixture
def ops(tmp_path: Path) -> Iterator[tuple[Stack, Restartable]]:
    from portal import create_app

    sandbox = Restartable(tmp_path / "oa")
    settings = make_settings(tmp_path, PISHKHAN_SANDBOX_URL=sandbox.url,
                             PISHKHAN_DELIVERY_INTERVAL="0.3", PISHKHAN_SMS_INTERVAL="0.3",
                             PISHKHAN_MAX_ATTEMPTS="3", PISHKHAN_CALL_RETRY_WAIT="0")
    for path in settings.orgs_dir.glob("*.toml"):
        text = re.sub(r"(?m)^poll_interval = .*$", "poll_interval = 1",
                      path.read_text(encoding="utf-8"))
        text = re.sub(r"(?m)^timeout = .*$", "timeout = 2", text)
        path.write_text(text, encoding="utf-8")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    portal_url, stop_portal = _serve(create_app(px, {"TESTING": True}))
    scheduler = worker.start_background(px)
    try:
        yield Stack(px=px, portal=portal_url, sandbox=sandbox.url), sandbox
    finally:
        scheduler.shutdown(wait=True)
        stop_portal()
        sandbox.stop()
        px.close()


def _csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _staff_session(stack: Stack, username: str, password: str) -> requests.Session:
    web = requests.Session()
    page = web.get(f"{stack.portal}/console/login", timeout=10).text
    resp = web.post(f"{stack.portal}/console/login", timeout=10, data={
        "csrf_token": _csrf(page), "username": username, "password": password})
    assert resp.status_code == 200 and "خروج" in resp.text
    return web


def _submit(stack: Stack, token: str) -> str:
    resp = stack.api("POST", "/orgs/demo/letters", token, data=FORM,
                     files=[("attachments", ("نقشه.pdf", PDF, "application/pdf"))])
    assert resp.status_code == 201, resp.text
    return resp.json()["tracking_code"]


def _in_sandbox(stack: Stack, code: str) -> list:
    return stack.oa("GET", "/letters", params={"reference": code}).json()["letters"]


def _metrics(stack: Stack) -> dict:
    from prometheus_client.parser import text_string_to_metric_families
    resp = requests.get(f"{stack.portal}/metrics", timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def _row(page: str, table: str, code: str) -> str | None:
    body = re.search(rf'<table class="grid" id="{table}">(.*?)</table>', page, re.S).group(1)
    row = re.search(rf'<tr data-code="{code}">(.*?)</tr>', body, re.S)
    return row.group(1) if row else None


def test_sandbox_down_dashboard_shows_it_and_retry_delivers_after_restart(ops):
    stack, sandbox = ops
    add_user(stack.px, "it-admin", "admin-pass-1", role="org_admin", orgs=["demo"])
    admin = _staff_session(stack, "it-admin", "admin-pass-1")
    token = stack.login(MOBILE)

    first = _submit(stack, token)
    wait_for(lambda: _in_sandbox(stack, first), 10, "the first letter in the sandbox")
    wait_for(lambda: "سالم" in admin.get(f"{stack.portal}/admin/demo", timeout=10).text, 10,
             "a healthy dashboard after a successful poll")

    sandbox.stop()
    code = _submit(stack, token)

    def dead_on_dashboard():
        page = admin.get(f"{stack.portal}/admin/demo", timeout=10).text
        return _row(page, "dead", code) and page
    page = wait_for(dead_on_dashboard, 20, "the letter to show as dead on the dashboard")
    assert 'id="health">خطا دارد' in page
    row = _row(page, "dead", code)
    assert "transient" in row or "configuration" in row or "ambiguous" in row
    assert re.search(r'data-state="dead"><td>[^<]+</td><td class="num">۱</td>', page)
    # /metrics is valid Prometheus text and counts what the dashboard shows.
    scraped = _metrics(stack)
    assert scraped[("pishkhan_letters", (("org", "demo"), ("state", "dead")))] == 1
    assert scraped[("pishkhan_letters", (("org", "demo"), ("state", "delivery_failed")))] == 0
    for state, count in re.findall(r'data-state="(\w+)"><td>[^<]+</td><td class="num">([۰-۹]+)',
                                   page):
        n = int(count.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")))
        assert scraped[("pishkhan_letters", (("org", "demo"), ("state", state)))] == n
    # The routing poll fails too, and says why.
    wait_for(lambda: "خطای آخرین بررسی" in admin.get(f"{stack.portal}/admin/demo",
                                                    timeout=10).text, 10, "the poll error")

    sandbox.start()
    page = admin.get(f"{stack.portal}/admin/demo", timeout=10).text
    resp = admin.post(f"{stack.portal}/admin/demo/letters/{code}/retry",
                      data={"csrf_token": _csrf(page)}, timeout=10)
    assert resp.status_code == 200 and "دوباره فرستاده می‌شود" in resp.text
    wait_for(lambda: _in_sandbox(stack, code), 15, "the retried letter in the sandbox")

    def recovered():
        page = admin.get(f"{stack.portal}/admin/demo", timeout=10).text
        return _row(page, "dead", code) is None and 'id="health">سالم' in page
    wait_for(recovered, 10, "the dashboard to recover")

    scraped = _metrics(stack)
    assert scraped[("pishkhan_letters", (("org", "demo"), ("state", "dead")))] == 0
    assert scraped[("pishkhan_delivered_recent", (("org", "demo"),))] == 2
    assert scraped[("pishkhan_delivery_latency_seconds", (("org", "demo"),
                                                         ("quantile", "0.5")))] >= 0
    assert scraped[("pishkhan_poll_ok", (("org", "demo"),))] in (0, 1)
    receipts = sum(v for (name, labels), v in scraped.items()
                   if name == "pishkhan_sms" and ("org", "demo") in labels)
    assert receipts == 2, [k for k in scraped if k[0] == "pishkhan_sms"]

    # The organization view's "test connection" reaches the running system.
    page = admin.get(f"{stack.portal}/admin/demo/settings", timeout=10).text
    checked = admin.post(f"{stack.portal}/admin/demo/test-connection", timeout=10,
                         data={"csrf_token": _csrf(page)}).text
    box = re.search(r'<div id="connection-check".*?</div>', checked, re.S).group(0)
    # The same check as `pishkhan adapter check demo`, line for line.
    assert "اتصال برقرار است." in box and "look-up by tracking code (dry run)" in box, box

    # Who retried is on the record, and the chain still verifies.
    from connector.store import audit
    records = audit.search(stack.px, audit.Filters(letter=code))
    assert any(r.action == "letter.retry" and r.actor == "staff:it-admin" for r in records)
    assert [r.detail.get("to") for r in reversed(records) if r.action == "letter.state"][-2:] \
        == ["delivering", "delivered"]
    assert audit.verify(stack.px).ok
    viewer = admin.get(f"{stack.portal}/admin/audit", params={"letter": code}, timeout=10).text
    assert "letter.retry" in viewer and "staff:it-admin" in viewer


def test_pause_holds_delivery_until_resumed(ops):
    stack, _ = ops
    add_user(stack.px, "it-admin", "admin-pass-1", role="org_admin", orgs=["demo"])
    admin = _staff_session(stack, "it-admin", "admin-pass-1")
    page = admin.get(f"{stack.portal}/admin/demo", timeout=10).text
    admin.post(f"{stack.portal}/admin/demo/pause", data={"csrf_token": _csrf(page)}, timeout=10)
    token = stack.login(MOBILE)
    code = _submit(stack, token)
    page = admin.get(f"{stack.portal}/admin/demo", timeout=10).text
    assert 'id="health">متوقف شده' in page
    import time
    time.sleep(1.0)  # three delivery ticks: a paused organization gets nothing
    assert _in_sandbox(stack, code) == []
    admin.post(f"{stack.portal}/admin/demo/resume", data={"csrf_token": _csrf(page)},
               timeout=10)
    wait_for(lambda: _in_sandbox(stack, code), 10, "delivery after resume")
    # Another organization's admin pages are not there for this admin.
    assert admin.get(f"{stack.portal}/admin/demo-portal", timeout=10).status_code == 404


def test_a_letter_handed_in_at_the_front_desk_reaches_the_system(ops):
    stack, _ = ops
    add_user(stack.px, "desk1", "desk-pass-1", role="desk", orgs=["demo"])
    desk = _staff_session(stack, "desk1", "desk-pass-1")
    page = desk.get(f"{stack.portal}/desk/", timeout=10).text  # straight to its organization
    resp = desk.post(f"{stack.portal}/desk/demo/new", timeout=10,
                     data={**FORM, "mobile": MOBILE, "csrf_token": _csrf(page)},
                     files=[("attachments", ("scan.pdf", PDF, "application/pdf"))])
    assert resp.status_code == 200 and 'id="receipt"' in resp.text
    code = re.search(r"/desk/demo/letters/(\d+)/receipt", resp.url).group(1)
    [oa] = wait_for(lambda: _in_sandbox(stack, code), 10, "the desk letter in the sandbox")
    assert [a["name"] for a in oa["attachments"]] == ["scan.pdf"]
    wait_for(lambda: stack.sms_to(MOBILE, "receipt"), 5, "the receipt SMS to the citizen")
