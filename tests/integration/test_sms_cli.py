"""`pishkhan sms list / send-test / retry` as an admin runs them, on the file gateway."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from connector.bootstrap import bootstrap
from connector.cli import main
from connector.outbox import sms as sms_outbox
from connector.store.db import transaction, upgrade
from connector.store.models import Notification
from sms import segments
from tests.conftest import make_settings


@pytest.fixture
def env(tmp_path):
    settings = make_settings(tmp_path)
    upgrade(settings.database_url)
    return {k: v for k, v in settings.env.items() if k.startswith("PISHKHAN_")}


def run(env, *args):
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def outbox(env):
    from pathlib import Path
    path = Path(env["PISHKHAN_VAR_DIR"]) / "sms-outbox.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_send_test_sends_at_once_and_list_shows_parts_and_status(env):
    done = run(env, "sms", "send-test", "demo", "۰۹۱۲۱۲۳۴۵۶۷")
    assert done.exit_code == 0, done.output
    [sent] = outbox(env)
    parts = segments.count(sent["text"])
    assert "delivered via file" in done.output and f"{parts} part(s)" in done.output
    assert sent["to"] == "09121234567" and "آزمایشی" in sent["text"]
    listed = run(env, "sms", "list")
    assert " test " in listed.output and "delivered" in listed.output
    assert f" {parts}p " in listed.output
    rows = json.loads(run(env, "sms", "list", "--json").output)
    assert set(rows[0]) == {"id", "to", "text", "kind", "letter", "status", "created_at"}
    assert rows[0]["kind"] == "test" and rows[0]["status"] == "delivered"


def test_send_test_refuses_a_bad_number_an_unknown_org_or_gateway(env):
    assert run(env, "sms", "send-test", "demo", "12345").exit_code == 2
    assert run(env, "sms", "send-test", "nowhere", "09121234567").exit_code == 2
    bad = run(env, "sms", "send-test", "demo", "09121234567", "--gateway", "kavenegar")
    assert bad.exit_code == 2 and "file" in bad.output


def test_retry_queues_a_failed_message_again_and_refuses_a_delivered_one(env, tmp_path):
    from connector.config.settings import load_settings
    px = bootstrap(load_settings(env))
    with transaction(px.sessions) as s:
        note = sms_outbox.queue(s, px, "referred", "09121234567", {}, org="demo")
        s.flush()
        note_id = note.id
        s.execute(update(Notification).where(Notification.id == note_id)
                  .values(state="technical-failure", last_error="transient: all down"))
    assert run(env, "sms", "retry", str(note_id)).exit_code == 0
    sms_outbox.dispatch_due(px)
    with px.sessions() as s:
        note = s.get(Notification, note_id)
    assert note.state == "delivered" and note.last_error is None
    assert [m["reference"] for m in outbox(env)] == [note.client_reference]
    again = run(env, "sms", "retry", str(note_id))
    assert again.exit_code == 1 and "delivered" in again.output
    assert run(env, "sms", "retry", "999").exit_code == 1
    px.close()
