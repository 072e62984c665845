"""Delivery per organization: no per-tick ceiling, a hanging system fills only its own slots,
and on PostgreSQL a new letter or an approval wakes the workers at once."""
from __future__ import annotations

import re
import shutil
import threading
import time

import psycopg
import pytest

from connector.bootstrap import bootstrap
from connector.delivery import dispatcher as dispatcher_mod
from connector.delivery import push as delivery
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.store import wakeup
from connector.store.db import upgrade
from tests.conftest import ROOT, make_settings
from tests.fakes import FakeSystem, RecordingGateway

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
FORM = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                          first_name="علی", last_name="کریمی", subject="درخواست",
                          body="متن", service="street-repair")


class HangingSystem(FakeSystem):
    """A correspondence system that takes every call until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.started = 0
        self._count = threading.Lock()

    def deliver(self, letter):
        with self._count:
            self.started += 1
        assert self.gate.wait(30), "never released"
        return super().deliver(letter)


@pytest.fixture
def two_orgs(tmp_path, store_url):
    """demo (inbox approval) answers only when released; demo-portal answers at once."""
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=store_url)
    upgrade(store_url)
    slow, fast, gateway = HangingSystem(), FakeSystem(), RecordingGateway()
    px = bootstrap(settings, adapters={"demo": slow, "demo-portal": fast},
                   gateways={"": gateway, "demo": gateway, "demo-portal": gateway})
    yield px, slow, fast
    slow.gate.set()
    px.close()


def _states(px, codes):
    return [letters.get(px, c).state for c in codes]


def _until(check, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_hanging_system_holds_only_its_own_letters_and_there_is_no_ceiling(two_orgs):
    px, slow, fast = two_orgs
    stuck = [letters.submit(px, "demo", FORM, [Upload("a.pdf", PDF)], "09121234567")
             .tracking_code for _ in range(3)]
    quick = []
    for _ in range(60):  # more than the old fixed 50 per tick
        code = letters.submit(px, "demo-portal", FORM, [], "09121234567").tracking_code
        letters.approve(px, code, "ali")
        quick.append(code)
    dispatcher = dispatcher_mod.Dispatcher(px)
    try:
        dispatcher.pump()  # one tick
        _until(lambda: len(fast.letters) == 60)
        _until(lambda: set(_states(px, quick)) == {"delivered"})
        # The hanging system got exactly its budget (delivery_concurrency = 2); its third
        # letter was not claimed, so no lease runs out on it while it waits.
        assert slow.started == 2
        assert sorted(_states(px, stuck)) == ["delivering", "delivering", "staged"]
        slow.gate.set()
        _until(lambda: set(_states(px, stuck)) == {"delivered"})
        assert dispatcher.wait_idle(10)
    finally:
        slow.gate.set()
        dispatcher.close()
    assert slow.started == 3 and len(slow.letters) == 3


def test_run_once_serves_organizations_side_by_side(two_orgs):
    px, slow, fast = two_orgs
    letters.submit(px, "demo", FORM, [], "09121234567")
    code = letters.submit(px, "demo-portal", FORM, [], "09121234567").tracking_code
    letters.approve(px, code, "ali")
    done = threading.Thread(target=lambda: delivery.run_once(px))
    done.start()
    _until(lambda: letters.get(px, code).state == "delivered")  # while demo still hangs
    assert slow.started == 1
    slow.gate.set()
    done.join(30)
    assert not done.is_alive()


def test_a_new_letter_or_an_approval_wakes_listening_workers(tmp_path, pg_url):
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url)
    upgrade(pg_url)
    system, gateway = FakeSystem(), RecordingGateway()
    px = bootstrap(settings, adapters={"demo": system, "demo-portal": system},
                   gateways={"": gateway, "demo": gateway, "demo-portal": gateway})
    woken: list[str] = []
    listener = wakeup.Listener(px.engine, woken.append, poll_seconds=0.2).start()
    try:
        time.sleep(0.5)  # LISTEN is in place
        letters.submit(px, "demo", FORM, [], "09121234567")  # inbox: due at once
        _until(lambda: woken == ["demo"], 10)
        code = letters.submit(px, "demo-portal", FORM, [], "09121234567").tracking_code
        time.sleep(0.5)
        assert woken == ["demo"]  # awaiting approval: nothing to deliver yet
        letters.approve(px, code, "ali")
        _until(lambda: woken == ["demo", "demo-portal"], 10)
        with pytest.raises(RuntimeError), px.sessions() as s, s.begin():
            s.add(letters.Letter(**{**_fields(), "tracking_code": "1234567890123"}))
            s.flush()
            raise RuntimeError("rolled back")
        time.sleep(0.5)
        assert woken == ["demo", "demo-portal"]  # a rollback wakes nobody
    finally:
        listener.stop()
        px.close()


def _fields():
    from connector.letters import lifecycle
    return {k: v for k, v in vars(lifecycle.new_letter(
        org="demo", subject="s", body="b", applicant_type="natural", mobile="09121234567"))
        .items() if not k.startswith("_")}


class GatedSystem(FakeSystem):
    """Answers call number ``held`` only when the test lets it go; every other call at once."""

    def __init__(self, held: int = 1) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.held = held
        self.started = 0

    def deliver(self, letter):
        self.started += 1
        if self.started == self.held:
            assert self.gate.wait(30), "never released"
        return super().deliver(letter)


def _one_slot(tmp_path, pg_url, system, approved, budget=1):
    """A core on PostgreSQL whose demo-portal has one delivery slot (or ``budget``), calling
    ``system``, with ``approved`` letters due; returns it and their tracking codes."""
    orgs = tmp_path / "orgs"
    shutil.copytree(ROOT / "config" / "organizations", orgs)
    toml = orgs / "demo-portal.toml"
    toml.write_text(re.sub(r"(?m)^delivery_concurrency = .*$",
                           f"delivery_concurrency = {budget}", toml.read_text("utf-8")), "utf-8")
    upgrade(pg_url)
    gateway = RecordingGateway()
    px = bootstrap(make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url),
                   adapters={"demo": system, "demo-portal": system},
                   gateways={"": gateway, "demo": gateway, "demo-portal": gateway})
    codes = []
    for _ in range(approved):
        code = letters.submit(px, "demo-portal", FORM, [], "09121234567").tracking_code
        letters.approve(px, code, "ali")
        codes.append(code)
    return px, codes


@pytest.mark.parametrize("engine", ["dispatcher", "run_once"])
def test_a_slot_calls_the_next_letter_while_the_last_outcome_is_written(
        tmp_path, pg_url, engine):
    """One slot: the second letter's call does not wait for the first's record (held here by
    a row lock, as a slow store would hold it); the system's pace, not ours, sets the rate."""
    system = GatedSystem()
    px, codes = _one_slot(tmp_path, pg_url, system, 2)
    first = letters.get(px, codes[0])
    dispatcher = dispatcher_mod.Dispatcher(px)
    runner = threading.Thread(target=lambda: delivery.run_once(px))
    try:
        if engine == "dispatcher":
            dispatcher.pump()
        else:
            runner.start()
        _until(lambda: system.started == 1, 10)
        with psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql")) as lock:
            lock.execute("SELECT id FROM letters WHERE tracking_code = %s FOR UPDATE",
                         (first.tracking_code,))
            system.gate.set()
            _until(lambda: letters.get(px, codes[1]).state == "delivered", 10)
            assert letters.get(px, codes[0]).state == "delivering"  # its record waits
        _until(lambda: letters.get(px, codes[0]).state == "delivered", 10)
        assert dispatcher.wait_idle(10)
    finally:
        system.gate.set()
        if runner.is_alive():
            runner.join(30)
        dispatcher.close()
        px.close()


def test_a_quick_system_gets_its_next_letter_claimed_while_a_call_is_under_way(
        tmp_path, pg_url):
    """One slot: once a call has come back quickly, the next letter is claimed while the
    following call is under way, and starts the moment that call ends; a system that has not
    answered (the hanging one above) gets nothing claimed ahead."""
    system = GatedSystem(held=2)
    px, codes = _one_slot(tmp_path, pg_url, system, 4)
    dispatcher = dispatcher_mod.Dispatcher(px)
    try:
        dispatcher.pump()
        _until(lambda: system.started == 2, 10)
        _until(lambda: _states(px, codes).count("delivering") == 2, 10)
        assert system.started == 2  # the letter claimed ahead waits for the slot
        assert _states(px, codes).count("approved") == 1
        system.gate.set()
        _until(lambda: set(_states(px, codes)) == {"delivered"}, 10)
        assert dispatcher.wait_idle(10)
    finally:
        system.gate.set()
        dispatcher.close()
        px.close()


class CountingSystem(FakeSystem):
    """Takes 20 ms a call and notes the most calls it had under way at once."""

    def __init__(self) -> None:
        super().__init__()
        self._count = threading.Lock()
        self.now = self.most = 0

    def deliver(self, letter):
        with self._count:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            time.sleep(0.02)
            return super().deliver(letter)
        finally:
            with self._count:
                self.now -= 1


def _deliver_all(tmp_path, pg_url, system: CountingSystem, letters_due: int, budget: int
                 ) -> None:
    """The dispatcher delivers ``letters_due`` letters at ``budget``: every one once, and
    never more than ``budget`` calls at once."""
    px, codes = _one_slot(tmp_path, pg_url, system, letters_due, budget=budget)
    dispatcher = dispatcher_mod.Dispatcher(px)
    try:
        dispatcher.pump()
        _until(lambda: set(_states(px, codes)) == {"delivered"}, 60)
        assert dispatcher.wait_idle(10)
    finally:
        dispatcher.close()
        px.close()
    assert system.most <= budget
    assert sorted(letter.tracking_code for letter in system.letters.values()) == sorted(codes)


def test_calls_under_way_never_pass_the_budget_with_letters_claimed_ahead(tmp_path, pg_url):
    """48 due letters, a budget of 4, a quick system (so letters are claimed ahead): never
    more than 4 calls at once, and every letter delivered once."""
    system = CountingSystem()
    _deliver_all(tmp_path, pg_url, system, 48, budget=4)
    assert system.most == 4


class LeaseNotingSystem(CountingSystem):
    """As CountingSystem, and notes at each call the letter's lease, read from the store:
    every claim gives all the letters it takes one lease, so the leases tell the claims
    apart."""

    def __init__(self, pg_url: str) -> None:
        super().__init__()
        self.conn = psycopg.connect(pg_url.replace("postgresql+psycopg", "postgresql"),
                                    autocommit=True)
        self.leases: dict[str, object] = {}
        self._reading = threading.Lock()

    def deliver(self, letter):
        with self._reading:  # one connection, a query at a time
            self.leases[letter.tracking_code], = self.conn.execute(
                "SELECT claimed_until FROM letters WHERE tracking_code = %s",
                (letter.tracking_code,)).fetchone()
        return super().deliver(letter)


def test_a_busy_quick_system_has_its_letters_claimed_in_batches(tmp_path, pg_url):
    """A budget of 16 and a quick system: after the first claim (16 letters), letters are
    claimed four or more at a time (a quarter of the budget), not one per finished call; never
    more than 16 calls at once, and every letter delivered once."""
    assert [dispatcher_mod.claim_batch(b) for b in (1, 4, 7, 8, 16, 64)] == [1, 1, 1, 2, 4, 16]
    system = LeaseNotingSystem(pg_url)
    try:
        _deliver_all(tmp_path, pg_url, system, 64, budget=16)
    finally:
        system.conn.close()
    claims = len(set(system.leases.values()))
    # One per letter after the first would be 49; in batches of four or more, at most 13.
    assert claims <= 1 + (64 - 16) // 4, claims
