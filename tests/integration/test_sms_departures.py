"""Sending many SMS at once (32 in parallel, on SQLite and PostgreSQL): each message's
departure is committed before its request leaves, each goes once, and results recorded in
batches never overwrite a status that arrived meanwhile."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from connector.domain.clock import now
from connector.outbox import sms as sms_outbox
from connector.outbox import sms_status
from connector.store.models import Notification
from tests.fakes import ScriptedGateway
from tests.integration.test_sms_outbox import add, clk, make_px, row  # noqa: F401 (clk)


class Watching(ScriptedGateway):
    """A provider that, as each request reaches it, reads from another connection whether
    the outbox had committed the message's departure; ``on_send`` runs during the call."""

    def __init__(self) -> None:
        super().__init__("a")
        self.engine = None
        self.unwritten: list[str] = []
        self.on_send = None

    def send(self, to: str, text: str, client_reference: str):
        with self.engine.connect() as conn:
            left = conn.scalar(select(Notification.request_sent_at).where(
                Notification.client_reference == client_reference))
        if left is None:
            with self._lock:
                self.unwritten.append(client_reference)
        if self.on_send is not None:
            self.on_send(client_reference)
        return super().send(to, text, client_reference)


def test_32_sends_at_once_each_written_before_it_leaves_and_sent_once(tmp_path, clk,
                                                                       store_url):
    a = Watching()
    px = make_px(tmp_path, a, ScriptedGateway("b"), rate=1000, url=store_url)
    a.engine = px.engine
    try:
        ids = [add(px) for _ in range(96)]
        claimed = 0
        while claimed < len(ids):
            sent = sms_outbox.dispatch_due(px, limit=200, concurrency=32)
            assert sent, "everything due was claimed"
            claimed += sent
        assert claimed == 96 and a.calls == 96 and len(a.sent) == 96
        assert a.unwritten == []
        rows = [row(px, i) for i in ids]
        assert {(n.state, n.attempts, n.gateway) for n in rows} == {("sending", 1, "a")}
        assert sorted(n.provider_message_id for n in rows) == sorted(
            f"a-{n.client_reference}" for n in rows)
        assert sms_outbox.dispatch_due(px, limit=200, concurrency=32) == 0
    finally:
        px.close()


def test_one_run_sends_the_whole_queue_and_stops_claiming_when_its_time_is_up(tmp_path, clk,
                                                                             store_url):
    """No batch per tick: one run (as the worker's tick starts it, with no limit) sends a
    queue of any length at its concurrency. A run past its time claims nothing more; the
    next one goes on."""
    a = ScriptedGateway("a")
    px = make_px(tmp_path, a, ScriptedGateway("b"), rate=1000, url=store_url)
    try:
        for _ in range(130):
            add(px)
        assert sms_outbox.dispatch_due(px, concurrency=4, seconds=0) == 8  # one claim, 2 rounds
        assert sms_outbox.dispatch_due(px, concurrency=4, seconds=60) == 122 and a.calls == 130
        assert sms_outbox.dispatch_due(px, concurrency=4) == 0
    finally:
        px.close()


def test_a_status_that_arrives_during_the_send_is_kept(tmp_path, clk, store_url):
    a = Watching()
    px = make_px(tmp_path, a, ScriptedGateway("b"), rate=1000, url=store_url)
    a.engine = px.engine
    try:
        ids = [add(px) for _ in range(12)]
        early = row(px, ids[5])

        def delivery_report(ref: str) -> None:
            # The provider's delivery report overtakes its answer to the send.
            if ref == early.client_reference:
                assert sms_outbox.settle(px, early.id, ("sending",), state="delivered",
                                         completed_at=now())

        a.on_send = delivery_report
        assert sms_outbox.dispatch_due(px, limit=50, concurrency=8) == 12
        states = {i: row(px, i).state for i in ids}
        assert states.pop(early.id) == "delivered"
        assert set(states.values()) == {"sending"}
        assert row(px, early.id).provider_message_id is None  # the late answer did not land
    finally:
        px.close()


def test_a_job_whose_lease_ran_out_while_it_waited_is_not_sent(tmp_path, clk, store_url):
    """Claimed two rounds ahead, the second message waits in the pool while the first one's
    provider is slow; its lease runs out, the status job queues it again and another worker
    sends it. The old job then must not send it a second time, nor record anything."""
    a = Watching()
    px = make_px(tmp_path, a, ScriptedGateway("b"), rate=1000, url=store_url)
    a.engine = px.engine
    try:
        first, second = add(px), add(px)
        slow = []

        def lease_runs_out(ref: str) -> None:
            if slow:
                return
            slow.append(ref)
            clk.advance(seconds=61)
            sms_status.check_statuses(px)
            assert row(px, second).state == "created"  # queued again: it never left
            assert sms_outbox.dispatch_due(px, limit=5, concurrency=1) == 1  # another worker

        a.on_send = lease_runs_out
        assert sms_outbox.dispatch_due(px, limit=5, concurrency=1) == 2
        again = row(px, second)
        assert a.calls == 2, "the message went out twice"
        assert (again.state, again.attempts) == ("sending", 2)
        assert again.provider_message_id == f"a-{again.client_reference}"
        assert row(px, first).provider_message_id is not None
    finally:
        px.close()


def test_a_store_failure_mid_dispatch_sends_nothing_unrecorded(tmp_path, clk, store_url):
    """Writing a batch of results fails (the database went away for a moment) while more
    claimed messages are in flight or waiting. Those waiting are not sent (the status job
    queues them again); those in flight have their results recorded; nothing reaches a phone
    without a record."""
    gate = threading.Event()

    class Gated(ScriptedGateway):
        def send(self, to: str, text: str, client_reference: str):
            with self._lock:
                late = self.calls >= 4
            if late:  # the first four answer at once, the rest wait for the failure
                gate.wait(60)
            return super().send(to, text, client_reference)

    a = Gated("a")
    px = make_px(tmp_path, a, ScriptedGateway("b"), rate=1000, url=store_url)
    failed = []

    def database_goes_away(conn, cursor, statement, *args):
        # The first read of a batch of results (the rows held before they are written).
        if not failed and statement.lstrip().startswith("SELECT notifications.id") and \
                "notifications.state IN" in statement and "notifications.org" not in statement:
            failed.append(statement)
            gate.set()
            raise OperationalError(statement, None, Exception("server closed the connection"))

    try:
        ids = [add(px) for _ in range(16)]
        event.listen(px.engine, "before_cursor_execute", database_goes_away)
        with pytest.raises(OperationalError):
            sms_outbox.dispatch_due(px, limit=50, concurrency=4)
        event.remove(px.engine, "before_cursor_execute", database_goes_away)
        assert failed
        rows = {n.client_reference: n for n in (row(px, i) for i in ids)}
        assert len(a.sent) > 4  # some were in flight when it failed
        for ref in a.sent:
            assert rows[ref].provider_message_id == f"a-{ref}", "sent but not recorded"
        for ref, n in rows.items():
            if ref not in a.sent:
                assert n.state in ("sending", "created") and n.request_sent_at is None
        assert a.calls == len(a.sent)
    finally:
        px.close()
