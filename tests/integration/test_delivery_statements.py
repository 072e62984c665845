"""The delivery's claim and outcome on PostgreSQL are written by the lifecycle's own statements,
not the ORM (lifecycle.moving_picked, moving): each move still comes with its audit record,
its count, its timeline event and its SMS, and a letter the short path cannot serve as the ORM
would — the citizen wants e-mail, the system's changes are held in its timeline, the claim is
no longer ours — goes the ORM's way, with nothing of the short path left behind."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from connector.bootstrap import bootstrap
from connector.delivery import push as delivery
from connector.domain.clock import now
from connector.domain.letter import DeliveryReceipt
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.store.channels import Email
from connector.store.db import transaction, upgrade
from connector.store import tallies
from connector.store.models import AuditRecord, Event, Letter, Notification
from tests.conftest import make_settings
from tests.fakes import FakeSystem, RecordingGateway

MOBILE = "09121234567"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def ppx(tmp_path, pg_url):
    upgrade(pg_url)
    gateway = RecordingGateway()
    px = bootstrap(make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url),
                   adapters={"demo": FakeSystem()}, gateways={"": gateway, "demo": gateway})
    yield px
    px.close()


def submit(px, files=(("a.pdf", PDF),), **fields) -> str:
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="مریم", last_name="احمدی", subject="درخواست",
                              body="متن نامه", service="street-repair", **fields)
    return letters.submit(px, "demo", form, [Upload(n, d) for n, d in files],
                          MOBILE).tracking_code


def claim_one(px) -> tuple[int, object]:
    (letter_id, (lease, _)), = delivery.claim(px, 1).items()
    return letter_id, lease


def registered(letter_id: int, lease, number: str = "1405/77") -> delivery.Attempt:
    return delivery.Attempt(letter_id, lease,
                            receipt=DeliveryReceipt(external_id="OA-1", letter_number=number))


def tallies_of(px, org: str) -> dict[str, int]:
    return {state: n for (_, state), n in tallies.letter_counts(px, [org]).items()}


def rows(px, stmt):
    with px.sessions() as s:
        return s.execute(stmt).all()


def test_the_claim_moves_each_letter_with_its_audit_record_count_and_files(ppx):
    first = submit(ppx, files=(("نامه.pdf", PDF), ("عکس.png", PNG)))
    submit(ppx)
    before = tallies_of(ppx, "demo")
    claimed = delivery.claim(ppx, 1)
    (letter_id, (lease, ready)), = claimed.items()
    assert ready is not None and ready.code == first  # oldest first
    assert [a.name for a in ready.message.attachments] == ["نامه.pdf", "عکس.png"]
    assert ready.message.attachments[1].content == PNG
    letter = letters.get(ppx, first)
    assert (letter.state, letter.attempts, letter.claimed_until) == ("delivering", 1, lease)
    audit = rows(ppx, select(AuditRecord.letter, AuditRecord.detail)
                 .where(AuditRecord.letter == first).order_by(AuditRecord.id))
    assert audit[-1] == (first, {"from": "staged", "to": "delivering"})
    after = tallies_of(ppx, "demo")
    assert after.get("delivering", 0) == before.get("delivering", 0) + 1
    assert after["staged"] == before["staged"] - 1


def test_a_registration_is_recorded_with_its_event_sms_and_audit(ppx):
    code = submit(ppx)
    letter_id, lease = claim_one(ppx)
    assert delivery.record(ppx, registered(letter_id, lease)) == "registered"
    letter = letters.get(ppx, code)
    assert (letter.letter_number, letter.external_id, letter.claimed_until) == \
        ("1405/77", "OA-1", None)
    events = rows(ppx, select(Event.source_id, Event.data).where(Event.letter_id == letter_id)
                  .order_by(Event.id))
    assert events[-1] == (f"pishkhan:registered:{len(events) - 1}", {"number": "1405/77"})
    sms = rows(ppx, select(Notification.kind, Notification.text)
               .where(Notification.letter_id == letter_id).order_by(Notification.id))
    assert sms[-1][0] == "registered" and "1405/77" in sms[-1][1]
    audit = rows(ppx, select(AuditRecord.detail).where(AuditRecord.letter == code)
                 .order_by(AuditRecord.id))
    assert audit[-1] == ({"from": "delivering", "to": "registered"},)


def test_a_citizen_who_chose_email_hears_of_the_registration_by_email(ppx):
    code = submit(ppx, email="maryam@example.ir", notify_by="email")
    letter_id, lease = claim_one(ppx)
    assert delivery.record(ppx, registered(letter_id, lease)) == "registered"
    kinds = [k for k, in rows(ppx, select(Email.kind).where(Email.letter_id == letter_id))]
    assert "registered" in kinds
    assert ("registered",) not in rows(ppx, select(Notification.kind)
                                       .where(Notification.letter_id == letter_id))
    assert letters.get(ppx, code).state == "registered"


def test_a_change_held_in_the_timeline_is_replayed_when_the_delivery_is_recorded(ppx):
    """The poller saw the system refer the letter while it was being delivered, and kept the
    change in its timeline: recording the delivery moves the letter on by it."""
    code = submit(ppx)
    letter_id, lease = claim_one(ppx)
    with transaction(ppx.sessions) as s:
        s.add(Event(letter_id=letter_id, source_id="feed:9", kind="referred", at=now(),
                    data={"unit": "فنی"}))
    assert delivery.record(ppx, registered(letter_id, lease)) == "in_progress"
    letter = letters.get(ppx, code)
    assert letter.state == "in_progress" and letter.current_unit == "فنی"
    assert letter.letter_number == "1405/77"


def test_an_outcome_is_not_recorded_over_a_claim_another_worker_took(ppx):
    code = submit(ppx)
    letter_id, lease = claim_one(ppx)
    with transaction(ppx.sessions) as s:
        s.execute(update(Letter.__table__).where(Letter.id == letter_id)
                  .values(claimed_until=lease + timedelta(minutes=1)))
    assert delivery.record(ppx, registered(letter_id, lease)) is None
    letter = letters.get(ppx, code)
    assert (letter.state, letter.letter_number) == ("delivering", None)
    assert not rows(ppx, select(Notification.id).where(Notification.letter_id == letter_id,
                                                       Notification.kind == "registered"))


def test_each_finished_step_is_added_to_what_is_stored_not_written_over_it(ppx):
    """Two holders of one letter's progress (the second read it before the first's step):
    the stored progress keeps both steps."""
    submit(ppx)
    letter_id, _ = claim_one(ppx)
    first = delivery.StoredProgress(ppx, letter_id, None, uncertain=False)
    stale = delivery.StoredProgress(ppx, letter_id, None, uncertain=False)
    first.put("letter", {"id": "OA-9", "note": "ثبت شد"})
    stale.put("file:1", "F-1")
    with ppx.sessions() as s:
        stored = s.get(Letter, letter_id).delivery_progress
    assert stored == {"letter": {"id": "OA-9", "note": "ثبت شد"}, "file:1": "F-1"}
    assert first.get("letter") == {"id": "OA-9", "note": "ثبت شد"}
