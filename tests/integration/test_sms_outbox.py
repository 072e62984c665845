"""The outbox state machine, failover, limits and quiet hours, with scripted providers that
implement the SmsGateway port and a clock moved by hand."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from connector.bootstrap import bootstrap
from connector.domain import clock
from connector.domain.errors import ValidationError
from connector.outbox import sms as sms_outbox
from connector.outbox import sms_status
from connector.plugins.ports import SmsResult
from connector.store.db import transaction, upgrade
from connector.store.models import Notification
from tests.conftest import make_settings
from tests.fakes import ScriptedGateway

# 10:00 in Tehran (UTC+3:30)
MORNING = datetime(2026, 11, 22, 6, 30)
TWO = """[sms]
rate_per_minute = {rate}
quiet_hours = "22:00-07:00"

[[sms.gateways]]
name = "a"
type = "file"
priority = 1
otp_template = "pishkhan-otp"

[[sms.gateways]]
name = "b"
type = "file"
priority = 2
"""


@pytest.fixture
def clk():
    c = clock.ManualClock(MORNING)
    with clock.use(c):
        yield c


def make_px(tmp_path, a, b, rate=100, url=None):
    settings = make_settings(tmp_path, **({"PISHKHAN_DATABASE_URL": url} if url else {}))
    demo = tmp_path / "orgs" / "demo.toml"
    demo.write_text(demo.read_text(encoding="utf-8").replace(
        '[sms]\ntype = "file"\n', TWO.format(rate=rate)), encoding="utf-8")
    upgrade(settings.database_url)
    px = bootstrap(settings, gateways={"demo": a, "demo/b": b, "": a})
    assert [p for p in px.problems if p.file.endswith("demo.toml")] == []
    return px


@pytest.fixture
def gw():
    return ScriptedGateway("a"), ScriptedGateway("b")


@pytest.fixture
def px(tmp_path, gw, clk, store_url):
    p = make_px(tmp_path, *gw, url=store_url)
    yield p
    p.close()


def add(px, kind="referred", to="09121234567", **variables):
    with transaction(px.sessions) as s:
        note = sms_outbox.queue(s, px, kind, to, {"tracking_code": "ABC", **variables},
                                   org="demo")
        s.flush()
        return note.id


def row(px, note_id) -> Notification:
    with px.sessions() as s:
        return s.get(Notification, note_id)


def test_a_provider_that_takes_the_message_then_times_out_never_leads_to_a_second_sms(px, gw,
                                                                                       clk):
    a, b = gw
    a.script = ["lost"]
    note = add(px)
    assert sms_outbox.dispatch_due(px) == 1
    n = row(px, note)
    assert n.state == "sending" and n.provider_message_id is None and "ambiguous" in n.last_error
    for _ in range(5):  # the worker keeps ticking
        assert sms_outbox.dispatch_due(px) == 0
        clk.advance(minutes=10)
        sms_status.check_statuses(px)
    n = row(px, note)
    assert n.state == "pending" and n.provider_message_id == f"a-{n.client_reference}"
    assert len(a.sent) == 1 and b.sent == {} and a.calls == 1


def test_without_lookup_by_reference_a_timed_out_message_waits_for_the_sweeper(tmp_path, clk):
    a, b = ScriptedGateway("a", by_reference=False), ScriptedGateway("b")
    px = make_px(tmp_path, a, b)
    a.script = ["lost"]
    note = add(px)
    sms_outbox.dispatch_due(px)
    for _ in range(4):
        clk.advance(hours=12)
        sms_outbox.dispatch_due(px)
        sms_status.check_statuses(px)
        assert sms_status.sweep(px) == 0
    clk.advance(hours=25)
    assert sms_status.sweep(px) == 1
    assert row(px, note).state == "temporary-failure"
    assert len(a.sent) == 1 and a.calls == 1 and b.calls == 0
    px.close()


def test_a_timeout_before_the_provider_took_it_is_resent_once_it_says_it_has_nothing(px, gw,
                                                                                        clk):
    a, _ = gw
    a.script = ["timeout"]
    note = add(px)
    sms_outbox.dispatch_due(px)
    for _ in range(sms_outbox.NOT_FOUND_CHECKS - 1):
        clk.advance(hours=1)
        sms_status.check_statuses(px)
        assert row(px, note).state == "sending"
    clk.advance(hours=1)
    sms_status.check_statuses(px)
    assert row(px, note).state == "created"
    sms_outbox.dispatch_due(px)
    assert row(px, note).state == "sending" and len(a.sent) == 1 and a.calls == 2


def test_an_unconfirmed_one_time_code_is_never_sent_again(px, gw, clk):
    a, _ = gw
    a.script = ["timeout"]
    note = add(px, kind="otp", code="12345")
    sms_outbox.dispatch_due(px)
    for _ in range(sms_outbox.NOT_FOUND_CHECKS + 2):
        clk.advance(hours=1)
        sms_status.check_statuses(px)
        sms_outbox.dispatch_due(px)
    n = row(px, note)
    assert n.state == "temporary-failure" and "new code" in n.last_error
    assert a.calls == 1


def test_a_provider_that_is_down_hands_over_to_the_next_and_is_restored_later(px, gw, clk):
    a, b = gw
    a.script = ["down"]
    first = add(px)
    sms_outbox.dispatch_due(px)
    n = row(px, first)
    assert n.state == "sending" and n.gateway == "b" and "a: transient" in n.last_error
    assert list(b.sent) == [n.client_reference] and a.sent == {}
    second = add(px)  # a is demoted: b is asked first
    sms_outbox.dispatch_due(px)
    assert row(px, second).gateway == "b" and a.calls == 1
    clk.advance(minutes=5)  # the cooldown is over: a is tried again, and answers
    third = add(px)
    sms_outbox.dispatch_due(px)
    assert row(px, third).gateway == "a" and a.calls == 2


def test_when_every_provider_is_down_it_waits_with_backoff_then_fails_technically(px, gw, clk):
    a, b = gw
    a.script = ["down"] * sms_outbox.MAX_ATTEMPTS
    b.script = ["down"] * sms_outbox.MAX_ATTEMPTS
    note = add(px)
    gaps = []
    for _ in range(sms_outbox.MAX_ATTEMPTS):
        clk.advance(hours=1)
        assert sms_outbox.dispatch_due(px) == 1
        n = row(px, note)
        if n.state == "created":
            gaps.append(n.next_attempt_at - clk.value)
    assert n.state == "technical-failure" and n.completed_at is not None
    assert gaps == sorted(gaps) and gaps[0] < gaps[-1]
    assert a.sent == {} and b.sent == {}


def test_a_bad_number_is_a_permanent_failure_without_trying_another_provider(px, gw):
    a, b = gw
    a.script = ["bad-number"]
    note = add(px)
    sms_outbox.dispatch_due(px)
    assert row(px, note).state == "permanent-failure" and b.calls == 0


def test_quiet_hours_hold_progress_texts_until_morning_but_not_the_otp(px, gw, clk):
    a, _ = gw
    clk.value = datetime(2026, 11, 22, 23, 0, tzinfo=timezone(timedelta(hours=3, minutes=30)))
    clk.value = clock.to_naive_utc(clk.value)
    progress = add(px, "referred")
    otp = add(px, "otp", code="48213")
    assert sms_outbox.dispatch_due(px) == 1
    assert row(px, otp).state == "sending"
    waiting = row(px, progress)
    assert waiting.state == "created"
    assert clock.local(waiting.next_attempt_at).strftime("%H:%M") == "07:00"
    clk.advance(hours=7, minutes=59)  # 06:59 in Tehran
    assert sms_outbox.dispatch_due(px) == 0
    clk.advance(minutes=1)
    assert sms_outbox.dispatch_due(px) == 1
    assert row(px, progress).state == "sending" and len(a.sent) == 2


def test_the_otp_goes_through_the_template_line_and_falls_back_to_plain_text(px, gw):
    a, _ = gw
    first = add(px, "otp", code="48213")
    sms_outbox.dispatch_due(px)
    assert a.templates == [("09121234567", "pishkhan-otp", {"code": "48213"})]
    a.script = ["template-refused"]
    second = add(px, "otp", code="99999")
    sms_outbox.dispatch_due(px)
    to, text = a.sent[row(px, second).client_reference]
    assert "99999" in text and not text.startswith("[")
    assert row(px, first).state == row(px, second).state == "sending"


def test_rate_limits_per_organization_spread_messages_over_minutes(tmp_path, clk):
    a, b = ScriptedGateway("a"), ScriptedGateway("b")
    px = make_px(tmp_path, a, b, rate=2)
    for _ in range(5):
        add(px)
    assert sms_outbox.dispatch_due(px) == 2
    assert sms_outbox.dispatch_due(px) == 0
    clk.advance(seconds=61)
    assert sms_outbox.dispatch_due(px) == 2
    px.close()


def test_a_global_rate_limit_caps_every_organization_together(tmp_path, clk):
    settings = make_settings(tmp_path, PISHKHAN_SMS_RATE_PER_MINUTE="3")
    upgrade(settings.database_url)
    a = ScriptedGateway("a")
    px = bootstrap(settings, gateways={"demo": a, "demo-portal": a})
    with transaction(px.sessions) as s:
        for org in ("demo", "demo-portal") * 3:
            sms_outbox.queue(s, px, "referred", "09121234567", {}, org=org)
    assert sms_outbox.dispatch_due(px) == 3
    clk.advance(seconds=61)
    assert sms_outbox.dispatch_due(px) == 3
    px.close()


def test_status_is_polled_with_backoff_and_the_first_final_status_wins(px, gw, clk):
    a, _ = gw
    note = add(px)
    sms_outbox.dispatch_due(px)
    pid = row(px, note).provider_message_id
    gaps = []
    for _ in range(3):
        clk.value = row(px, note).next_attempt_at
        a.states[pid] = SmsResult(pid, "pending", "4")
        sms_status.check_statuses(px)
        gaps.append(row(px, note).next_attempt_at - clk.value)
    assert gaps == sorted(gaps) and gaps[0] < gaps[-1]
    assert row(px, note).state == "pending" and row(px, note).checks == 3
    clk.value = row(px, note).next_attempt_at
    a.states[pid] = SmsResult(pid, "delivered", "10")
    sms_status.check_statuses(px)
    assert row(px, note).state == "delivered" and row(px, note).provider_status == "10"
    assert not sms_status.record_status(px, note, "temporary-failure", "11")
    assert row(px, note).state == "delivered"
    clk.advance(days=5)
    assert sms_status.sweep(px) == 0 and sms_status.check_statuses(px) == 0


def test_retry_sends_a_failed_message_again_under_a_new_reference(px, gw, clk):
    a, b = gw
    note = add(px)
    a.script = ["bad-number"]
    sms_outbox.dispatch_due(px)
    old = row(px, note).client_reference
    sms_status.retry(px, note)
    sms_outbox.dispatch_due(px)
    n = row(px, note)
    assert n.state == "sending" and n.client_reference != old and n.client_reference in a.sent
    with pytest.raises(ValidationError):
        sms_status.retry(px, note)


def test_concurrent_sends_send_each_message_once(px, gw):
    a, _ = gw
    ids = [add(px) for _ in range(20)]
    sms_outbox.dispatch_due(px, concurrency=8)
    with px.sessions() as s:
        states = s.scalars(select(Notification.state).where(Notification.id.in_(ids))).all()
    assert set(states) == {"sending"} and len(a.sent) == 20 and a.calls == 20


def test_a_worker_that_died_mid_send_leaves_a_message_found_at_whichever_provider_took_it(
        px, gw, clk):
    a, b = gw
    note = add(px)
    [job] = sms_outbox._claim(px, 1)  # a worker claims it, hands it to b, and dies
    _request_left(px, note)
    b.sent[job.ref] = (job.to, job.text)
    assert sms_status.check_statuses(px) == 0  # not before the claim's lease runs out
    clk.advance(seconds=61)
    sms_status.check_statuses(px)
    n = row(px, note)
    assert n.state == "pending" and n.gateway == "b" and n.provider_message_id == f"b-{job.ref}"
    sms_outbox.dispatch_due(px)
    assert a.calls == 0 and b.calls == 0  # never sent again


def _request_left(px, note_id) -> None:
    """What a worker writes just before its request to the provider leaves."""
    from sqlalchemy import update
    with transaction(px.sessions) as s:
        s.execute(update(Notification).where(Notification.id == note_id)
                  .values(request_sent_at=clock.now()))


def test_a_message_claimed_by_a_worker_that_died_before_sending_is_sent_again(tmp_path, clk):
    # Even through a provider that cannot be asked by reference: it provably never left us.
    a, b = ScriptedGateway("a", by_reference=False), ScriptedGateway("b")
    px = make_px(tmp_path, a, b)
    note = add(px)
    sms_outbox._claim(px, 1)  # claimed; the worker dies before the request leaves
    clk.advance(seconds=61)
    sms_status.check_statuses(px)
    n = row(px, note)
    assert n.state == "created" and "stopped before sending" in n.last_error
    assert sms_outbox.dispatch_due(px) == 1
    n = row(px, note)
    assert n.state == "sending" and len(a.sent) == 1 and a.calls == 1 and n.attempts == 2
    px.close()


def test_a_code_claimed_by_a_dead_worker_and_expired_meanwhile_is_not_sent(px, gw, clk):
    a, _ = gw
    note = add(px, kind="otp", code="12345")
    sms_outbox._claim(px, 1)
    clk.advance(seconds=px.settings.otp_ttl + 1)
    sms_status.check_statuses(px)
    n = row(px, note)
    assert n.state == "technical-failure" and "12345" not in n.text and not n.params
    assert sms_outbox.dispatch_due(px) == 0 and a.calls == 0


def test_an_unconfirmable_send_is_listed_for_the_admin_when_it_gives_up(tmp_path, clk):
    from connector.operations import dashboard, digest
    a, b = ScriptedGateway("a", by_reference=False), ScriptedGateway("b")
    px = make_px(tmp_path, a, b)
    note = add(px)
    sms_outbox._claim(px, 1)
    _request_left(px, note)  # the request left, then the worker died: nobody can tell
    clk.advance(seconds=61)
    sms_status.check_statuses(px)
    assert row(px, note).state == "sending"  # never resent blindly
    clk.advance(hours=73)
    assert sms_status.sweep(px) == 1
    assert row(px, note).state == "temporary-failure"
    assert [n.id for n in dashboard.dashboard(px, "demo").sms_failures] == [note]
    assert any("SMS not delivered" in line
               for line in digest.org_section(px, "demo", clock.now() - timedelta(days=1)))
    assert a.calls == 0
    px.close()
