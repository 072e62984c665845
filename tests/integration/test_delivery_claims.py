"""Delivery claims on PostgreSQL: a worker holds only the letters it is sending, a lost claim
counts as an attempt, a worker re-reads its own claim through another's brief lock, and the
poller waits for a delivery being recorded instead of holding a change it would never see."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, text, update

from connector.bootstrap import bootstrap
from connector.delivery import polling
from connector.delivery import push as delivery
from connector.domain.clock import now
from connector.domain.letter import ChangeKind
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.store.db import transaction, upgrade
from connector.store.models import Letter
from tests.conftest import make_settings
from tests.fakes import FakeSystem, RecordingGateway
from tests.races import at_once

MOBILE = "09121234567"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"


class HeldSystem(FakeSystem):
    """Each delivery waits until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Semaphore(0)
        self.go = threading.Event()

    def deliver(self, letter):
        self.entered.release()
        assert self.go.wait(30)
        return super().deliver(letter)


@pytest.fixture
def system():
    return HeldSystem()


@pytest.fixture
def ppx(tmp_path, pg_url, system):
    upgrade(pg_url)
    gateway = RecordingGateway()
    px = bootstrap(make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url),
                   adapters={"demo": system, "demo-portal": system},
                   gateways={"": gateway, "demo": gateway, "demo-portal": gateway})
    yield px
    px.close()


def submit(px) -> str:
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="مریم", last_name="احمدی", subject="درخواست",
                              body="متن نامه", service="street-repair")
    return letters.submit(px, "demo", form, [Upload("a.pdf", PDF)], MOBILE).tracking_code


def delivering(px) -> int:
    with px.sessions() as s:
        return s.scalar(select(func.count()).select_from(Letter)
                        .where(Letter.state == "delivering"))


def test_a_tick_claims_only_the_letters_it_starts(ppx, system):
    for _ in range(10):
        submit(ppx)
    tick = threading.Thread(target=delivery.run_once, args=(ppx,))
    tick.start()
    for _ in range(2):  # demo delivers two at a time
        assert system.entered.acquire(timeout=30)
    time.sleep(0.3)
    # A kill -9 now would strand these two, not the whole batch.
    assert delivering(ppx) == 2
    system.go.set()
    tick.join(60)
    with ppx.sessions() as s:
        assert set(s.scalars(select(Letter.state))) == {"delivered"}


def test_a_letter_that_keeps_killing_its_worker_stops_at_the_attempt_cap(ppx):
    code = submit(ppx)
    cap = ppx.settings.max_attempts
    with transaction(ppx.sessions) as s:
        s.execute(update(Letter).where(Letter.tracking_code == code).values(
            state="delivering", attempts=cap, claimed_until=now() - timedelta(seconds=1)))
    assert delivery.release_expired(ppx) == 1
    got = letters.get(ppx, code)
    assert got.state == "dead" and "worker stopped" in got.last_error
    assert delivery.run_once(ppx) == 0


def test_own_claim_is_read_through_the_pollers_brief_lock(ppx, system):
    system.go.set()
    code = submit(ppx)
    (letter_id, (lease, _)), = delivery.claim(ppx, 10).items()
    locked, release = threading.Event(), threading.Event()

    def poller() -> None:  # holds the letter's row for a moment, as adding an event does
        with ppx.engine.begin() as conn:
            conn.execute(text("SELECT id FROM letters WHERE id = :id FOR UPDATE"),
                         {"id": letter_id})
            locked.set()
            release.wait(10)
    holder = threading.Thread(target=poller)
    holder.start()
    assert locked.wait(10)
    threading.Timer(0.5, release.set).start()
    assert delivery.deliver_one(ppx, letter_id, lease) == "delivered"
    holder.join(10)
    assert letters.get(ppx, code).state == "delivered" and len(system.letters) == 1


def _waiting_for_locks(px) -> int:
    """Lock waits of this test's database only (the server may be serving others)."""
    with px.engine.connect() as conn:
        return conn.scalar(text(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid IN "
            "(SELECT pid FROM pg_stat_activity WHERE datname = current_database())"))


def _until(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_change_polled_while_the_delivery_is_recorded_moves_the_letter(ppx, system):
    """The delivery's transaction has locked the letter and read its timeline, and is held
    (here by a lock on the tally table it writes to) when the poller reads a change about the
    letter. Read unlocked, the letter looked not yet delivered, the change was kept for the
    delivery to replay, and the delivery, whose timeline did not have it, left the letter
    «delivered» for good. The poller now waits for the delivery and moves the letter on."""
    system.go.set()
    code = submit(ppx)
    (letter_id, (lease, _)), = delivery.claim(ppx, 10).items()
    with ppx.engine.connect() as gate:
        gate.execute(text("LOCK TABLE letter_tallies IN EXCLUSIVE MODE"))
        deliver = threading.Thread(target=delivery.deliver_one, args=(ppx, letter_id, lease))
        deliver.start()
        _until(lambda: _waiting_for_locks(ppx) == 1)  # recording, holding the letter's row
        system.emit(code, ChangeKind.REGISTERED, number="1405/31")
        poll = threading.Thread(target=polling.poll_org, args=(ppx, "demo"))
        poll.start()
        _until(lambda: not poll.is_alive() or _waiting_for_locks(ppx) == 2)
        gate.commit()
    deliver.join(30)
    poll.join(30)
    got = letters.get(ppx, code)
    assert got.state == "registered" and got.letter_number == "1405/31"


def test_parallel_claims_of_one_process_take_each_letter_once(ppx):
    """On PostgreSQL a worker's claims are not taken one at a time (SKIP LOCKED keeps them
    apart, so one organization's claims never wait behind another's): 32 threads claiming at
    once still take each due letter exactly once."""
    for _ in range(40):
        submit(ppx)
    claims = at_once(32, lambda _i: list(delivery.claim(ppx, 2, ["demo"])))
    taken = [letter_id for claimed in claims for letter_id in claimed]
    assert len(taken) == len(set(taken)) == 40
    assert delivering(ppx) == 40


def test_a_paused_organization_has_nothing_claimed_until_it_resumes(ppx):
    from connector.operations import dashboard

    submit(ppx)
    dashboard.set_paused(ppx, "demo", True)
    assert delivery.claim(ppx, 10) == {} and delivery.run_once(ppx) == 0
    dashboard.set_paused(ppx, "demo", False)
    assert len(delivery.claim(ppx, 10)) == 1


def test_a_letter_claimed_with_its_message_is_not_read_again_for_the_call(ppx, system):
    """claim reads what the call needs with the claim: the delivery then does not read the
    letter at all (its outcome is an UPDATE that returns the row, on PostgreSQL). Without it,
    it is read for the call."""
    system.go.set()
    seen: list[str] = []

    def note(_conn, _cursor, statement, _params, _context, _many):
        if statement.lstrip().upper().startswith("SELECT") and "FROM letters" in statement:
            seen.append(statement)

    submit(ppx)
    submit(ppx)
    claimed = delivery.claim(ppx, 2)
    (first, (lease, ready)), (second, (lease2, _)) = claimed.items()
    assert ready is not None and ready.message.tracking_code == ready.code
    event.listen(ppx.engine, "before_cursor_execute", note)
    try:
        assert delivery.deliver_one(ppx, first, lease, ready) == "delivered"
        with_message = len(seen)
        assert delivery.deliver_one(ppx, second, lease2) == "delivered"
    finally:
        event.remove(ppx.engine, "before_cursor_execute", note)
    assert with_message == 0, seen
    assert len(seen) - with_message == 1, seen[with_message:]
    assert len(system.letters) == 2
