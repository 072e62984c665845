"""Polling that never misses: systems without a routing feed are followed by per-letter status
snapshots (tests/fakes.py's system without its feed), and no change, repeated or late, moves a
letter backwards."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from connector.bootstrap import bootstrap
from connector.delivery import polling
from connector.delivery import push as delivery
from connector.domain.errors import TransientError
from connector.domain.letter import Capabilities, ChangeKind, DeliveryReceipt, RoutingChange
from connector.letters import usecases as letters
from connector.store.db import upgrade
from connector.store.models import OrgState
from tests.conftest import make_settings
from tests.fakes import FakeSystem, RecordingGateway
from tests.integration.test_pipeline_store import submit


class FeedlessSystem(FakeSystem):
    """A system that can only be asked about one letter at a time."""

    capabilities = Capabilities(changes_feed=False)

    def __init__(self) -> None:
        super().__init__()
        self.status: dict[str, tuple[str, str | None]] = {}

    def find(self, tracking_code: str) -> DeliveryReceipt | None:
        self.calls.append("find")
        if self.fail_next:
            raise self.fail_next.pop(0)
        external_id = self.by_reference.get(tracking_code)
        if external_id is None:
            return None
        status, number = self.status.get(tracking_code, ("pending", None))
        return DeliveryReceipt(external_id=external_id, status=status, letter_number=number)


@pytest.fixture
def fpx(tmp_path, store_url):
    system = FeedlessSystem()
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=store_url)
    upgrade(store_url)
    gateway = RecordingGateway()
    px = bootstrap(settings, adapters={"demo": system},
                   gateways={"": gateway, "demo": gateway})
    yield px, system
    px.close()


def test_snapshots_follow_letters_without_a_feed(fpx) -> None:
    px, system = fpx
    codes = [submit(px).tracking_code for _ in range(3)]
    delivery.run_once(px)
    assert polling.poll_org(px, "demo") == 0  # all pending in the inbox
    system.status[codes[0]] = ("registered", "1405/7")
    system.status[codes[1]] = ("rejected", None)
    assert polling.poll_org(px, "demo") == 2
    assert letters.get(px, codes[0]).letter_number == "1405/7"
    assert letters.get(px, codes[1]).state == "rejected"
    assert polling.poll_org(px, "demo") == 0  # the same snapshots again: nothing new
    system.status[codes[0]] = ("answered", "1405/7")
    assert polling.poll_org(px, "demo") == 1
    assert letters.get(px, codes[0]).state == "answered"
    # A stale look-up (the system's replica lagging) never moves the letter back.
    system.status[codes[0]] = ("registered", "1405/7")
    polling.poll_org(px, "demo")
    assert letters.get(px, codes[0]).state == "answered"


def test_snapshots_take_turns_and_a_failure_is_recorded(fpx) -> None:
    px, system = fpx
    codes = [submit(px).tracking_code for _ in range(3)]
    delivery.run_once(px)
    system.calls.clear()
    assert polling.poll_snapshots(px, "demo", batch=2) == 0
    system.status[codes[2]] = ("registered", "1405/9")
    # The third letter, never checked, comes first in the next batch.
    assert polling.poll_snapshots(px, "demo", batch=1) == 1
    system.fail_next.append(TransientError("down"))
    assert polling.poll_snapshots(px, "demo", batch=3) == 0
    with px.sessions() as s:
        assert "down" in s.get(OrgState, "demo").last_poll_error


def test_repeated_and_late_feed_changes_never_roll_back(tmp_path, store_url) -> None:
    system = FakeSystem()
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=store_url)
    upgrade(store_url)
    gateway = RecordingGateway()
    px = bootstrap(settings, adapters={"demo": system}, gateways={"": gateway, "demo": gateway})
    try:
        code = submit(px).tracking_code
        delivery.run_once(px)
        system.emit(code, ChangeKind.REGISTERED, number="1405/3")
        system.emit(code, ChangeKind.ANSWERED, text="پاسخ")
        assert polling.poll_org(px, "demo") == 2
        # The same registration again under its own id, and a late copy from another window.
        system.feed.append(system.feed[0])
        system.feed.append(RoutingChange(source_id="fake:late", kind=ChangeKind.REGISTERED,
                                         at=datetime.now(timezone.utc),
                                         external_id=system.by_reference[code],
                                         reference=code, number="1405/3"))
        polling.poll_org(px, "demo")
        assert letters.get(px, code).state == "answered"
    finally:
        px.close()


def test_one_letter_whose_look_up_always_fails_does_not_block_the_others(fpx) -> None:
    from connector.domain.errors import PermanentError

    px, system = fpx
    first, second = submit(px).tracking_code, submit(px).tracking_code
    delivery.run_once(px)
    system.status[second] = ("registered", "1405/8")
    # The look-up of the first letter (checked first: never checked before) is refused.
    system.fail_next = [PermanentError("archived letter")]
    polling.poll_org(px, "demo")
    assert letters.get(px, second).state == "registered"
    assert "archived letter" in letters.get(px, first).last_error
