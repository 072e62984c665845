"""The outbox with real gateways against fake providers on loopback: an organization lists two
providers; one that takes a message and then times out is never asked to send it again, and
one that is down hands the message to the next."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from connector.bootstrap import bootstrap, check_plugins
from connector.domain import clock
from connector.outbox import sms as sms_outbox
from connector.outbox import sms_status
from connector.store.db import transaction, upgrade
from connector.store.models import Notification
from tests.conftest import make_settings
from tests.smsfakes import closed_port, ghasedak, kavenegar, serve, smsir

ORG_SMS = """[sms]
rate_per_minute = 100

[[sms.gateways]]
type = "{first}"
priority = 1
api_key_env = "{first_env}"
sender = "10004346"
url = "{first_url}"
timeout = 0.3
connect_timeout = 0.3

[[sms.gateways]]
type = "ghasedak"
priority = 2
api_key_env = "GHASEDAK_API_KEY"
sender = "30005088"
url = "{second_url}"
timeout = 0.3
"""


@pytest.fixture
def clk():
    c = clock.ManualClock(datetime(2026, 11, 22, 6, 30))
    with clock.use(c):
        yield c


def make_px(tmp_path, first_url, second_url, first="kavenegar", first_env="KAVENEGAR_API_KEY"):
    settings = make_settings(tmp_path, KAVENEGAR_API_KEY=kavenegar.KEY,
                             GHASEDAK_API_KEY=ghasedak.KEY, SMSIR_API_KEY=smsir.KEY)
    demo = tmp_path / "orgs" / "demo.toml"
    demo.write_text(demo.read_text(encoding="utf-8").replace('[sms]\ntype = "file"\n',
                    ORG_SMS.format(first=first, first_env=first_env, first_url=first_url,
                                   second_url=second_url)), encoding="utf-8")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    # Only the organization under test: other shipped demos may need drivers or services.
    mine = [p for p in px.problems + check_plugins(px) if Path(p.file).name == "demo.toml"]
    assert mine == []
    return px


def queue(px):
    with transaction(px.sessions) as s:
        note = sms_outbox.queue(s, px, "referred", "09121234567",
                                   {"tracking_code": "K7P2QX", "unit": "امور شهری"}, org="demo")
        s.flush()
        return note.id


def row(px, note_id) -> Notification:
    with px.sessions() as s:
        return s.get(Notification, note_id)


def test_a_provider_that_takes_then_times_out_sends_one_sms_only(tmp_path, clk):
    kave, ghas = kavenegar.FakeKavenegar(), ghasedak.FakeGhasedak()
    with serve(kave) as k_url, serve(ghas) as g_url:
        px = make_px(tmp_path, k_url, g_url)
        kave.delay = 0.6  # takes it, answers too late
        note = queue(px)
        sms_outbox.dispatch_due(px)
        kave.delay = 0
        assert row(px, note).state == "sending" and len(kave.messages) == 1
        for _ in range(6):
            clk.advance(minutes=5)
            sms_outbox.dispatch_due(px)
            sms_status.check_statuses(px)
        n = row(px, note)
        assert n.provider_message_id in kave.messages and n.gateway == "kavenegar"
        assert len(kave.messages) == 1 and ghas.messages == {}
        kave.messages[n.provider_message_id]["status"] = 10
        clk.value = n.next_attempt_at
        sms_status.check_statuses(px)
        assert row(px, note).state == "delivered"
        px.close()


def test_without_a_reference_lookup_a_lost_answer_is_not_resent(tmp_path, clk):
    fake, ghas = smsir.FakeSmsIr(), ghasedak.FakeGhasedak()
    with serve(fake) as s_url, serve(ghas) as g_url:
        px = make_px(tmp_path, s_url, g_url, first="smsir", first_env="SMSIR_API_KEY")
        fake.delay = 0.6
        note = queue(px)
        sms_outbox.dispatch_due(px)
        fake.delay = 0
        for _ in range(14):  # 84 hours of ticking
            clk.advance(hours=6)
            sms_outbox.dispatch_due(px)
            sms_status.check_statuses(px)
            sms_status.sweep(px)
        assert row(px, note).state == "temporary-failure"
        assert len(fake.messages) == 1 and ghas.messages == {}
        px.close()


def test_a_provider_that_is_down_hands_over_to_the_next(tmp_path, clk):
    ghas = ghasedak.FakeGhasedak()
    with serve(ghas) as g_url:
        px = make_px(tmp_path, closed_port(), g_url)
        notes = [queue(px) for _ in range(3)]
        # One at a time, so the order is known: the first finds kavenegar down.
        assert sms_outbox.dispatch_due(px, concurrency=1) == 3
        for note in notes:
            n = row(px, note)
            assert n.state == "sending" and n.gateway == "ghasedak"
            assert n.provider_message_id in ghas.messages
        assert "kavenegar: transient" in row(px, notes[0]).last_error
        assert row(px, notes[2]).last_error is None  # kavenegar was demoted: not asked again
        px.close()
