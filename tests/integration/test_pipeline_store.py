"""The use cases against a real staging store (SQLite and PostgreSQL), with the fake system
(tests/fakes.py implements the adapter port in memory)."""
from __future__ import annotations

import pytest

from connector.bootstrap import bootstrap
from connector.delivery import polling
from connector.delivery import push as delivery
from connector.delivery.outgoing import outgoing
from connector.domain.errors import AmbiguousError, PermanentError, TransientError
from connector.domain.letter import ChangeKind
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.outbox import sms as sms_outbox
from connector.store.db import upgrade
from tests.conftest import make_settings
from tests.fakes import FakeSystem, RecordingGateway

MOBILE = "09121234567"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"


@pytest.fixture
def system():
    return FakeSystem()


@pytest.fixture
def gateway():
    return RecordingGateway()


@pytest.fixture
def spx(tmp_path, store_url, system, gateway):
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=store_url)
    upgrade(store_url)
    px = bootstrap(settings, adapters={"demo": system, "demo-portal": system},
                   gateways={"": gateway, "demo": gateway, "demo-portal": gateway})
    yield px
    px.close()


def form(**over):
    data = dict(applicant_type="natural", national_code="۰۰۷۶۲۲۹۶۴۵", first_name="علي",
                last_name="كريمی", subject="درخواست تعمیر آسفالت", body="کوچه ما خراب است.",
                service="street-repair")
    data.update(over)
    return letters.LetterForm(**data)


def submit(px, org="demo", **over):
    return letters.submit(px, org, form(**over), [Upload("عکس.pdf", PDF)], MOBILE)


def test_a_letter_whose_file_cannot_be_made_durable_is_not_committed(spx):
    """The file's waits for the disk run beside the letter's work (on PostgreSQL beside its
    statements); the commit still waits for them, and a file that fails takes its letter with
    it."""
    import hashlib

    from sqlalchemy import func, select

    from connector.store.models import Letter, Notification

    digest = hashlib.sha256(PDF).hexdigest()
    spx.blobs.root.mkdir(parents=True, exist_ok=True)
    (spx.blobs.root / digest[:2]).write_bytes(b"")  # a file where its folder must be
    with pytest.raises(OSError):
        submit(spx)
    with spx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Letter)) == 0
        assert s.scalar(select(func.count()).select_from(Notification)) == 0


def kinds(px, code):
    return [n["kind"] for n in sms_outbox.listing(px, to=MOBILE) if n["letter"] == code]


def test_submit_stages_normalizes_and_queues_the_receipt_sms(spx):
    letter = submit(spx)
    got = letters.get(spx, letter.tracking_code, MOBILE)
    assert got.state == "staged" and got.first_name == "علی" and got.last_name == "کریمی"
    assert got.national_code == "0076229645" and got.unit_code == "civil"
    assert got.attachments[0].content_type == "application/pdf"
    assert spx.blobs.get(got.attachments[0].sha256) == PDF
    assert kinds(spx, letter.tracking_code) == ["receipt"]
    assert sms_outbox.dispatch_due(spx) == 2 - 1  # the receipt
    assert letter.tracking_code in gateway_text(spx)


def gateway_text(px):
    return "\n".join(t for _, t, _ in px._gateways[""].sent + px._gateways["demo"].sent)


def test_the_whole_inbox_path(spx, system):
    letter = submit(spx)
    code = letter.tracking_code
    assert delivery.run_once(spx) == 1
    got = letters.get(spx, code)
    assert got.state == "delivered" and got.external_id in system.letters
    sent = system.letters[got.external_id]
    assert sent.unit_code == "CIV" and sent.attachments[0].content == PDF
    system.emit(code, ChangeKind.REGISTERED, number="1405/77")
    system.emit(code, ChangeKind.REFERRED, unit="امور فنی", person="مهندس رضایی",
                instruction="جهت اقدام")
    system.emit(code, ChangeKind.ANSWERED, text="انجام شد")
    system.emit(code, ChangeKind.CLOSED)
    assert polling.poll_org(spx, "demo") == 4
    got = letters.get(spx, code)
    assert got.state == "closed" and got.letter_number == "1405/77"
    assert got.current_unit == "امور فنی" and got.reply_available
    assert kinds(spx, code) == ["closed", "answered", "referred", "registered", "receipt"]
    assert polling.poll_org(spx, "demo") == 0  # the cursor moved on


def test_repeated_and_late_changes_never_roll_back(spx, system):
    code = submit(spx).tracking_code
    delivery.run_once(spx)
    reg = system.emit(code, ChangeKind.REGISTERED, number="1405/9")
    system.emit(code, ChangeKind.ANSWERED)
    polling.poll_org(spx, "demo")
    # The same change again (a feed that repeats) and a referral that arrives late.
    system.feed.append(reg)
    system.emit(code, ChangeKind.REFERRED, unit="بایگانی")
    polling.poll_org(spx, "demo")
    got = letters.get(spx, code)
    assert got.state == "answered" and got.current_unit is None
    assert [e.kind for e in got.events].count("registered") == 1
    assert "referred" in [e.kind for e in got.events]  # kept in the timeline
    assert kinds(spx, code).count("referred") == 0     # but no SMS for a stale change


def test_rejection_reaches_the_sms(spx, system):
    code = submit(spx).tracking_code
    delivery.run_once(spx)
    system.emit(code, ChangeKind.REJECTED, reason="مدارک کامل نیست")
    polling.poll_org(spx, "demo")
    got = letters.get(spx, code)
    assert got.state == "rejected" and got.rejection_reason == "مدارک کامل نیست"
    sms_outbox.dispatch_due(spx)
    assert "مدارک کامل نیست" in gateway_text(spx)


def test_transient_failure_retries_later_then_succeeds(spx, system):
    system.fail_next = [TransientError("down")] * 3  # beats the in-call retries
    code = submit(spx).tracking_code
    delivery.run_once(spx)
    got = letters.get(spx, code)
    assert got.state == "delivery_failed" and got.attempts == 1
    assert got.last_error == "transient: down" and not got.needs_reconcile
    delivery.run_once(spx)  # backoff base is 0 in tests
    assert letters.get(spx, code).state == "delivered"
    assert len(system.letters) == 1


def test_ambiguous_failure_is_reconciled_not_resent(spx, system):
    system.fail_next = [AmbiguousError("read timeout")]
    system.commit_before_failing = True  # the system kept the letter; the answer was lost
    code = submit(spx).tracking_code
    delivery.run_once(spx)
    got = letters.get(spx, code)
    assert got.state == "delivery_failed" and got.needs_reconcile
    delivery.run_once(spx)
    got = letters.get(spx, code)
    assert got.state == "delivered" and len(system.letters) == 1
    assert system.calls == ["deliver", "find"]


def test_permanent_failure_is_dead_until_an_admin_retries(spx, system):
    system.fail_next = [PermanentError("unit unknown")]
    code = submit(spx).tracking_code
    delivery.run_once(spx)
    assert letters.get(spx, code).state == "dead"
    assert delivery.run_once(spx) == 0  # dead letters wait for a person
    letters.retry(spx, code)
    delivery.run_once(spx)
    got = letters.get(spx, code)
    assert got.state == "delivered" and got.attempts == 1


def test_attempts_are_capped(spx, system, tmp_path):
    system.fail_next = [TransientError("down")] * 100
    code = submit(spx).tracking_code
    for _ in range(spx.settings.max_attempts):
        delivery.run_once(spx)
    got = letters.get(spx, code)
    assert got.state == "dead" and got.attempts == spx.settings.max_attempts


def test_portal_approval_and_rejection(spx, system):
    a = submit(spx, org="demo-portal").tracking_code
    b = submit(spx, org="demo-portal").tracking_code
    assert letters.get(spx, a).state == "awaiting_approval"
    assert delivery.run_once(spx) == 0  # nothing leaves before a decision
    assert [x.tracking_code for x in letters.queue_for(spx, "demo-portal")] == [a, b]
    letters.approve(spx, a, "operator")
    letters.reject(spx, b, "operator", "به این اداره مربوط نیست")
    delivery.run_once(spx)
    assert letters.get(spx, a).state == "delivered"
    assert letters.get(spx, b).rejection_reason == "به این اداره مربوط نیست"
    assert "rejected" in kinds(spx, b)


def test_withdraw_only_before_delivery(spx):
    a, b = submit(spx).tracking_code, submit(spx).tracking_code
    letters.withdraw(spx, a, MOBILE)
    assert letters.get(spx, a).state == "withdrawn"
    delivery.run_once(spx)
    with pytest.raises(letters.Forbidden):
        letters.withdraw(spx, b, MOBILE)


def test_a_worker_that_died_mid_delivery_is_reconciled(spx, system):
    from datetime import timedelta

    from connector.domain.clock import now
    from connector.store.models import Letter

    code = submit(spx).tracking_code
    ids = list(delivery.claim(spx, 10))  # claimed, then the worker "dies" before recording
    system.deliver(outgoing(spx, letters.get(spx, code)))
    with spx.sessions.begin() as s:
        s.get(Letter, ids[0]).claimed_until = now() - timedelta(seconds=1)
    delivery.run_once(spx)
    got = letters.get(spx, code)
    assert got.state == "delivered" and len(system.letters) == 1


def test_another_mobile_sees_nothing(spx):
    code = submit(spx).tracking_code
    with pytest.raises(letters.NotFound):
        letters.get(spx, code, "09350000000")


@pytest.mark.parametrize("a_sees", ["its lease still fresh", "its lease run out"])
def test_a_worker_whose_lease_ran_out_does_not_deliver(spx, system, a_sees):
    from datetime import timedelta

    from connector.domain.clock import now
    from connector.store.models import Letter

    code = submit(spx).tracking_code
    (letter_id, (lease, _)), = delivery.claim(spx, 10).items()
    # Worker A was slow; its lease ran out and worker B took the letter over. A's own clock
    # may say so too (A checks before the call), or not (its read of the letter tells).
    expired = now() - timedelta(seconds=1)
    if a_sees == "its lease run out":
        lease = expired
    with spx.sessions.begin() as s:
        s.get(Letter, letter_id).claimed_until = expired
    delivery.release_expired(spx)
    (_, (lease_b, _)), = delivery.claim(spx, 10).items()
    assert delivery.deliver_one(spx, letter_id, lease) is None  # A backs off
    assert system.letters == {}
    assert delivery.deliver_one(spx, letter_id, lease_b) == "delivered"  # B reconciles, sends
    assert len(system.letters) == 1 and system.calls == ["find", "deliver"]
    assert letters.get(spx, code).state == "delivered"


def test_a_change_seen_while_the_delivery_is_in_flight_is_applied_once(spx, system):
    from connector.domain.letter import DeliveryReceipt

    class RegisteringSystem(FakeSystem):
        """Numbers the letter on delivery, and our poller runs before the answer is recorded
        (it is another scheduler thread in the worker)."""

        def deliver(self, letter):
            receipt = super().deliver(letter)
            self.emit(letter.tracking_code, ChangeKind.REGISTERED, number="1405/5")
            assert polling.poll_org(spx, "demo") == 1  # kept, not applied yet
            assert letters.get(spx, letter.tracking_code).state == "delivering"
            return DeliveryReceipt(external_id=receipt.external_id, letter_number="1405/5")

    spx._adapters["demo"] = RegisteringSystem()
    code = submit(spx).tracking_code
    delivery.run_once(spx)
    got = letters.get(spx, code)
    assert got.state == "registered" and got.letter_number == "1405/5" and got.external_id
    assert [e.kind for e in got.events].count("registered") == 1
    assert kinds(spx, code).count("registered") == 1


def test_a_rejection_between_a_lost_answer_and_the_reconcile_is_not_lost(spx, system):
    system.fail_next = [AmbiguousError("read timeout")]
    system.commit_before_failing = True
    code = submit(spx).tracking_code
    delivery.run_once(spx)
    assert letters.get(spx, code).state == "delivery_failed"
    system.emit(code, ChangeKind.REJECTED, reason="امضا ندارد")
    polling.poll_org(spx, "demo")  # the cursor moves past it while we don't know the letter is in
    delivery.run_once(spx)  # find() reconciles
    got = letters.get(spx, code)
    assert got.state == "rejected" and got.rejection_reason == "امضا ندارد"
    assert "rejected" in kinds(spx, code) and len(system.letters) == 1


def test_a_lease_past_half_life_is_renewed_before_the_call(spx, system):
    from datetime import timedelta

    from connector.domain.clock import now
    from connector.store.models import Letter

    seen = []

    class Watching(FakeSystem):
        def deliver(self, letter):
            seen.append(letters.get(spx, letter.tracking_code).claimed_until)
            return super().deliver(letter)

    spx._adapters["demo"] = Watching()
    code = submit(spx).tracking_code
    (letter_id, _), = delivery.claim(spx, 10).items()
    soon = now() + timedelta(seconds=30)
    with spx.sessions.begin() as s:
        s.get(Letter, letter_id).claimed_until = soon
    assert delivery.deliver_one(spx, letter_id, soon) == "delivered"
    assert seen[0] > soon + timedelta(minutes=1)  # the call ran under a fresh lease
    assert letters.get(spx, code).claimed_until is None
