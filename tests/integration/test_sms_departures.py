"""Sending many SMS at once (32 in parallel, on SQLite and PostgreSQL): each message's
departure is committed before its request leaves, each goes once, and results recorded in
batches never overwrite a status that arrived meanwhile."""
from __future__ import annotations

from sqlalchemy import select

from connector.domain.clock import now
from connector.outbox import sms as sms_outbox
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
