"""The daily failure digest: admins hear about their own organizations' failures, once a day."""
from __future__ import annotations

import json

import pytest

from connector.cli import worker
from connector.delivery import push as delivery
from connector.domain.errors import PermanentError
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.operations import digest
from connector.people import staff

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"


class ListOutbox(digest.DigestOutbox):
    def __init__(self) -> None:
        self.sent: list[digest.Digest] = []

    def send(self, digests):
        self.sent += digests


@pytest.fixture
def dpx(fake_px):
    return fake_px


def _dead_letter(px, system):
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="علی", last_name="کریمی", subject="تعمیر",
                              body="متن", service="street-repair")
    letter = letters.submit(px, "demo", form, [Upload("a.pdf", PDF)], "09121234567")
    system.fail_next.append(PermanentError("unknown unit CIV"))
    delivery.run_once(px)
    return letter.tracking_code


def test_admins_get_their_organizations_failures_once_a_day(dpx, tmp_path):
    dpx, system = dpx
    code = _dead_letter(dpx, system)
    staff.add_user(dpx, "root", "long-enough-1", role="platform_admin")
    staff.add_user(dpx, "portal-admin", "long-enough-1", role="org_admin",
                   orgs=["demo-portal"])
    staff.add_user(dpx, "ctl", "long-enough-1")
    outbox = digest.FileOutbox(tmp_path / "digests")
    assert digest.run_daily(dpx, outbox) == 1
    assert digest.run_daily(dpx, outbox) == 0  # a second worker, or a second tick, sends none
    [line] = (tmp_path / "digests").glob("*.jsonl")
    [sent] = [json.loads(x) for x in line.read_text(encoding="utf-8").splitlines()]
    assert sent["to"] == "root" and code in sent["text"]
    assert "unknown unit CIV" in sent["text"] and "/admin/" in sent["text"]
    assert line.name == f"{sent['day']}.jsonl"


def test_nothing_to_report_sends_nothing(dpx):
    dpx, _ = dpx
    staff.add_user(dpx, "root", "long-enough-1", role="platform_admin")
    outbox = ListOutbox()
    assert digest.run_daily(dpx, outbox) == 0 and outbox.sent == []


def test_the_worker_schedules_the_digest(dpx):
    dpx, _ = dpx
    from apscheduler.schedulers.background import BackgroundScheduler
    scheduler = BackgroundScheduler(timezone="Asia/Tehran")
    worker.add_jobs(scheduler, dpx)
    job = scheduler.get_job("digest")
    assert job is not None and "hour='7'" in str(job.trigger)


class HeldOutbox(digest.DigestOutbox):
    """Writing the digests takes as long as the test says."""

    def __init__(self) -> None:
        import threading
        self.entered, self.go = threading.Event(), threading.Event()
        self.sent: list[digest.Digest] = []

    def send(self, digests):
        self.entered.set()
        assert self.go.wait(30)
        self.sent += digests


def test_building_the_digest_holds_up_no_state_change(tmp_path, pg_url):
    import threading

    from connector.bootstrap import bootstrap
    from connector.store import audit
    from connector.store.db import upgrade
    from tests.conftest import make_settings
    upgrade(pg_url)
    px = bootstrap(make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url))
    try:
        slow, second = HeldOutbox(), ListOutbox()
        first = threading.Thread(target=digest.run_daily, args=(px, slow))
        first.start()
        assert slow.entered.wait(30)
        change = threading.Thread(target=audit.log, args=(px, "letter.test"))
        change.start()
        change.join(5)
        assert not change.is_alive(), "an audited change waited for the digest"
        other = threading.Thread(target=lambda: second.sent.append(
            digest.run_daily(px, second)))
        other.start()
        slow.go.set()
        first.join(30)
        other.join(30)
        assert second.sent == [0]  # the second worker waited, then saw today's digest
        assert audit.verify(px).ok
    finally:
        px.close()
