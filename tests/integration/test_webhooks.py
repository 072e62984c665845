"""Webhooks against a real HTTP receiver on loopback: CloudEvents 1.0 bodies, HMAC signatures,
each event once per subscription, retries that keep the event id, refusals that stop, and a
worker killed with SIGKILL in the middle of a send."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from connector.bootstrap import bootstrap
from connector.domain import clock
from connector.domain.errors import ValidationError
from connector.letters import usecases as letters
from connector.outbox import webhooks
from connector.store.channels import WebhookDelivery
from connector.store.db import upgrade
from tests.conftest import ROOT, make_settings
from tests.fakes import FakeSystem, RecordingGateway
from tests.integration.test_pipeline_store import submit

SECRET = "s3cret-for-tests"


class Receiver:
    """An integrator's endpoint. ``plan`` lists what to do with each request in turn:
    ``ok``, an HTTP status, ``hang`` (keep the request and never answer: the sender times
    out after we took the event) or ``block`` (hold until ``release`` is set)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.plan: list[str | int] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()},
                                          body))
                step = receiver.plan.pop(0) if receiver.plan else "ok"
                if step == "hang":
                    time.sleep(2.0)
                    return
                if step == "block":
                    receiver.release.wait(30)
                status = 204 if step in ("ok", "block") else int(step)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks?token=abc"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict]:
        return [json.loads(body) for _, body in self.requests]

    def processed(self) -> list[dict]:
        """What a receiver that keeps the ids it has seen (as CloudEvents asks) processes."""
        seen, out = set(), []
        for event in self.events():
            if event["id"] not in seen:
                seen.add(event["id"])
                out.append(event)
        return out

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _px(tmp_path, url, **env):
    settings = make_settings(tmp_path, **{"PISHKHAN_DATABASE_URL": url,
                                          "WEBHOOK_SECRET": SECRET,
                                          "PISHKHAN_WEBHOOK_TIMEOUT": "0.5", **env})
    upgrade(url)
    system, gateway = FakeSystem(), RecordingGateway()
    return bootstrap(settings, adapters={"demo": system, "demo-portal": system},
                     gateways={"": gateway, "demo": gateway, "demo-portal": gateway})


@pytest.fixture
def wpx(tmp_path, store_url):
    px = _px(tmp_path, store_url)
    yield px
    px.close()


def _rows(px):
    with px.sessions() as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_state_changes_reach_the_receiver_as_signed_cloud_events(wpx, receiver):
    webhooks.subscribe(wpx, "demo-portal", receiver.url, "WEBHOOK_SECRET")
    letter = submit(wpx, org="demo-portal")
    letters.reject(wpx, letter.tracking_code, "controller", "مدارک ناقص است")
    assert webhooks.dispatch_due(wpx, concurrency=1) == 2
    events = receiver.events()
    assert [e["type"] for e in events] == ["ir.pishkhan.letter.submitted",
                                           "ir.pishkhan.letter.rejected"]
    assert events[0]["data"]["status"] == "awaiting_approval"
    assert events[1]["data"]["previous_status"] == "awaiting_approval"
    for (headers, body), event in zip(receiver.requests, events):
        assert webhooks.verify(SECRET, body, headers["x-pishkhan-signature"])
        assert not webhooks.verify("another secret", body, headers["x-pishkhan-signature"])
        assert headers["content-type"].startswith("application/cloudevents+json")
        assert event["specversion"] == "1.0" and event["source"] == "urn:pishkhan:org:demo-portal"
        assert event["subject"] == letter.tracking_code and event["time"].endswith("Z")
        assert event["data"]["tracking_code"] == letter.tracking_code
    rejected = next(e for e in events if e["type"].endswith(".rejected"))
    assert rejected["data"]["rejection_reason"] == "مدارک ناقص است"
    assert {r.state for r in _rows(wpx)} == {"delivered"}
    assert webhooks.dispatch_due(wpx) == 0  # each event once


def test_a_subscription_gets_only_the_types_it_asked_for(wpx, receiver):
    webhooks.subscribe(wpx, "demo", receiver.url, "WEBHOOK_SECRET",
                       ["ir.pishkhan.letter.withdrawn"])
    letter = submit(wpx)
    letters.withdraw(wpx, letter.tracking_code, letter.mobile)
    webhooks.dispatch_due(wpx)
    assert [e["type"] for e in receiver.events()] == ["ir.pishkhan.letter.withdrawn"]


def test_a_change_that_rolls_back_sends_nothing(wpx, receiver):
    webhooks.subscribe(wpx, "demo", receiver.url, "WEBHOOK_SECRET")
    with pytest.raises(Exception):
        letters.submit(wpx, "demo", letters.LetterForm(), [], "09121234567")  # invalid form
    assert _rows(wpx) == []


def test_a_receiver_that_takes_the_event_and_times_out_gets_the_same_event_again(wpx,
                                                                                    receiver):
    webhooks.subscribe(wpx, "demo", receiver.url, "WEBHOOK_SECRET")
    receiver.plan = ["hang"]
    submit(wpx)
    webhooks.dispatch_due(wpx)
    (row,) = _rows(wpx)
    assert row.state == "pending" and row.last_error.startswith("ambiguous")
    assert "token" not in row.last_error  # the query string may carry a credential
    with clock.use(clock.ManualClock(clock.now() + timedelta(minutes=5))):
        assert webhooks.dispatch_due(wpx) == 1
    (row,) = _rows(wpx)
    assert row.state == "delivered" and row.attempts == 2
    first, second = receiver.requests
    assert first[1] == second[1]  # byte for byte, the same id
    assert second[0]["x-pishkhan-attempt"] == "2"
    assert len(receiver.processed()) == 1


def test_a_refusal_is_final_until_an_admin_retries(wpx, receiver):
    webhooks.subscribe(wpx, "demo", receiver.url, "WEBHOOK_SECRET")
    receiver.plan = [410]
    submit(wpx)
    webhooks.dispatch_due(wpx)
    (row,) = _rows(wpx)
    assert row.state == "dead" and "HTTP 410" in row.last_error
    assert webhooks.summary(wpx, "demo") == {"dead": 1}
    assert [r.id for r in webhooks.failures(wpx, "demo")] == [row.id]
    webhooks.retry(wpx, row.id)
    webhooks.dispatch_due(wpx)
    assert _rows(wpx)[0].state == "delivered"


def test_busy_receivers_and_missing_secrets_are_retried_with_growing_gaps(tmp_path, receiver):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    px = _px(tmp_path, url)
    try:
        webhooks.subscribe(px, "demo", receiver.url, "WEBHOOK_SECRET")
        webhooks.subscribe(px, "demo", receiver.url, "NOT_SET_ANYWHERE")
        receiver.plan = [503]
        submit(px)
        webhooks.dispatch_due(px, concurrency=1)
        busy, unsigned = _rows(px)
        assert busy.state == unsigned.state == "pending"
        assert "HTTP 503" in busy.last_error and "NOT_SET_ANYWHERE" in unsigned.last_error
        assert len(receiver.requests) == 1  # nothing goes out unsigned
        assert busy.next_attempt_at > clock.now() + timedelta(seconds=5)
        with clock.use(clock.ManualClock(clock.now() + timedelta(minutes=1))):
            webhooks.dispatch_due(px)
        assert [r.state for r in _rows(px)] == ["delivered", "pending"]
    finally:
        px.close()


def test_bad_subscriptions_are_refused_with_plain_messages(wpx):
    with pytest.raises(ValidationError) as caught:
        webhooks.subscribe(wpx, "demo", "ftp://example", "my secret", ["ir.pishkhan.nope"])
    assert set(caught.value.errors) == {"url", "secret_env", "types"}


@pytest.mark.postgres
def test_parallel_dispatchers_send_each_event_once(tmp_path, pg_url, receiver):
    px = _px(tmp_path, pg_url)
    try:
        webhooks.subscribe(px, "demo", receiver.url, "WEBHOOK_SECRET")
        for _ in range(20):
            submit(px)
        with ThreadPoolExecutor(32) as pool:
            list(pool.map(lambda _: webhooks.dispatch_due(px, limit=3, concurrency=1),
                          range(64)))
        while webhooks.dispatch_due(px):
            pass
        ids = [e["id"] for e in receiver.events()]
        assert len(ids) == 20 and len(set(ids)) == 20
    finally:
        px.close()


_DISPATCH = """
from connector.bootstrap import bootstrap
from connector.outbox import webhooks
webhooks.dispatch_due(bootstrap(), concurrency=1)
"""


@pytest.mark.postgres
def test_a_worker_killed_mid_send_leaves_the_event_to_the_next_one(tmp_path, pg_url, receiver):
    px = _px(tmp_path, pg_url, PISHKHAN_WEBHOOK_TIMEOUT="30")
    try:
        webhooks.subscribe(px, "demo", receiver.url, "WEBHOOK_SECRET")
        submit(px)
        receiver.plan = ["block"]
        env = {**os.environ, **px.settings.env}
        worker = subprocess.Popen([sys.executable, "-c", _DISPATCH], cwd=ROOT, env=env)
        deadline = time.monotonic() + 30
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.requests, "the worker never sent the event"
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        receiver.release.set()
        assert webhooks.dispatch_due(px) == 0  # its claim still holds
        with clock.use(clock.ManualClock(clock.now() + timedelta(minutes=3))):
            assert webhooks.dispatch_due(px) == 1
        (row,) = _rows(px)
        assert row.state == "delivered" and row.attempts == 2
        assert len(receiver.requests) == 2 and len(receiver.processed()) == 1
    finally:
        px.close()


def test_admins_manage_subscriptions_and_retry_dead_events_in_the_admin_pages(tmp_path,
                                                                              receiver):
    from connector.people import staff
    from connector.store import audit
    from portal import create_app
    from tests.conftest import csrf_of, staff_login
    px = _px(tmp_path, f"sqlite:///{tmp_path / 'store.db'}")
    client = create_app(px, {"TESTING": True}).test_client()
    staff.add_user(px, "adm", "long-enough-1", role="org_admin", orgs=["demo"])
    staff_login(client, "adm")
    assert client.get("/admin/demo-portal/webhooks").status_code == 404  # not their org
    page = client.get("/admin/demo/webhooks").get_data(as_text=True)
    bad = client.post("/admin/demo/webhooks", data={
        "csrf_token": csrf_of(page), "url": "not a url", "secret_env": "WEBHOOK_SECRET"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and "https://" in text and 'value="WEBHOOK_SECRET"' in text
    client.post("/admin/demo/webhooks", data={
        "csrf_token": csrf_of(page), "url": receiver.url, "secret_env": "WEBHOOK_SECRET",
        "types": ["ir.pishkhan.letter.submitted"]})
    page = client.get("/admin/demo/webhooks").get_data(as_text=True)
    assert receiver.url.split("?")[0] in page and "token=abc" not in page
    receiver.plan = [404]
    submit(px)
    webhooks.dispatch_due(px)
    page = client.get("/admin/demo/webhooks").get_data(as_text=True)
    counts = page.split('id="webhook-counts">', 1)[1].split("</p>", 1)[0]
    assert "HTTP 404" in page and "نرسیده (نیاز به بررسی): ۱" in counts
    assert "dead" not in counts  # the states read in Persian
    assert "رویداد نرسید" in client.get("/admin/demo").get_data(as_text=True)
    (event,) = webhooks.failures(px, "demo")
    client.post(f"/admin/demo/webhooks/events/{event.id}/retry",
                data={"csrf_token": csrf_of(page)})
    webhooks.dispatch_due(px)
    assert webhooks.summary(px, "demo") == {"delivered": 1}
    (sub,) = webhooks.subscriptions(px, "demo")
    client.post(f"/admin/demo/webhooks/{sub.id}/remove", data={"csrf_token": csrf_of(page)})
    assert webhooks.subscriptions(px, "demo") == []
    actions = [r.action for r in audit.search(px, audit.Filters(org="demo"))]
    assert {"webhook.add", "webhook.retry", "webhook.remove"} <= set(actions)


def test_an_sms_that_fails_for_good_is_an_event(tmp_path, receiver):
    from tests.fakes import ScriptedGateway
    url = f"sqlite:///{tmp_path / 'store.db'}"
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=url, WEBHOOK_SECRET=SECRET)
    upgrade(url)
    gateway = ScriptedGateway("only")
    px = bootstrap(settings, adapters={"demo": FakeSystem()},
                   gateways={"": gateway, "demo": gateway})
    try:
        webhooks.subscribe(px, "demo", receiver.url, "WEBHOOK_SECRET", ["ir.pishkhan.sms.failed"])
        gateway.script = ["bad-number"]
        letter = submit(px)
        from connector.outbox import sms as sms_outbox
        sms_outbox.dispatch_due(px)
        webhooks.dispatch_due(px)
        (event,) = receiver.events()
        assert event["type"] == "ir.pishkhan.sms.failed" and event["subject"] == letter.tracking_code
        assert event["data"]["kind"] == "receipt" and event["data"]["status"] == "permanent-failure"
    finally:
        px.close()


def test_the_command_line_adds_lists_and_removes_subscriptions(tmp_path):
    from click.testing import CliRunner

    from connector.cli import main
    settings = make_settings(tmp_path)
    upgrade(settings.database_url)
    env = {k: v for k, v in settings.env.items() if k.startswith("PISHKHAN_")}

    def run(*args):
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)

    added = run("webhooks", "add", "demo", "https://hooks.example.ir/in?key=k1",
                "--secret-env", "HOOK_SECRET", "--types", "ir.pishkhan.letter.registered")
    assert added.exit_code == 0 and "HOOK_SECRET اینجا مقدار ندارد" in added.output
    sub_id = int(added.output.strip().splitlines()[-1])
    listed = json.loads(run("webhooks", "list", "demo", "--json").output)
    assert listed == [{"id": sub_id, "org": "demo", "url": "https://hooks.example.ir/in",
                       "secret_env": "HOOK_SECRET", "types": ["ir.pishkhan.letter.registered"],
                       "active": True}]
    refused = run("webhooks", "add", "demo", "https://x.ir", "--secret-env", "S",
                  "--types", "letter.done")
    assert refused.exit_code != 0 and "types" in refused.output
    assert run("webhooks", "add", "nowhere", "https://x.ir", "--secret-env", "S").exit_code != 0
    assert run("webhooks", "remove", str(sub_id)).exit_code == 0
    assert json.loads(run("webhooks", "list", "--json").output) == []


def test_one_run_sends_every_due_event_batch_after_batch(wpx, receiver):
    """No batch per tick: a run claims batch after batch while there are more; a run past its
    time takes no new batch, and the next run goes on."""
    webhooks.subscribe(wpx, "demo", receiver.url, "WEBHOOK_SECRET")
    for _ in range(7):
        submit(wpx)
    assert webhooks.dispatch_due(wpx, limit=3, seconds=0) == 3
    assert webhooks.dispatch_due(wpx, limit=3) == 4
    assert webhooks.dispatch_due(wpx, limit=3) == 0
    assert len({e["id"] for e in receiver.events()}) == 7
