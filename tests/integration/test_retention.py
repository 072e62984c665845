"""Retention: after a run with a short policy the store and the blob folder hold none of the
expired data, the audit chain verifies and names each destruction, and the reports of the
period show the same totals. On SQLite and PostgreSQL."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from connector.bootstrap import bootstrap
from connector.delivery import polling
from connector.delivery import push as delivery
from connector.domain import clock
from connector.domain.clock import now
from connector.domain.letter import ChangeKind
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.operations import reports, retention
from connector.outbox import sms as sms_outbox
from connector.people import citizens
from connector.store import audit
from connector.store.db import upgrade
from connector.store.models import (
    ApiToken,
    Attachment,
    AuditRecord,
    Event,
    Letter,
    LetterStatistic,
    Notification,
    OtpChallenge,
)
from tests.conftest import make_settings
from tests.fakes import FakeSystem, RecordingGateway

MOBILE = "09121234567"
SHORT = """
[retention]
drafts_hours = 1
otp_days = 1
tokens_days = 1
sms_text_days = 1
letters_years = 0.002   # about 17 hours after closure
"""


def pdf(tag: str) -> bytes:
    return b"%PDF-1.4\n% " + tag.encode() + b"\ntrailer<<>>\n%%EOF"


@pytest.fixture
def rpx(tmp_path, store_url):
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=store_url)
    demo = settings.orgs_dir / "demo.toml"
    # The demo file's own [retention] table (the defaults) gives way to the short policy.
    text = re.sub(r"\n\[retention\]\n.*?\n\n", "\n", demo.read_text(encoding="utf-8"),
                  flags=re.S)
    demo.write_text(text + SHORT, encoding="utf-8")
    upgrade(store_url)
    system, gateway = FakeSystem(), RecordingGateway()
    px = bootstrap(settings, adapters={"demo": system, "demo-portal": system},
                   gateways={"": gateway, "demo": gateway, "demo-portal": gateway})
    assert px.problems == [] and px.orgs["demo"].retention.letters_years == 0.002
    yield px, system
    px.close()


def _submit(px, service, name, files):
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name=name, last_name="کریمی", subject=f"نامه {name}",
                              body="متن خصوصی", service=service)
    return letters.submit(px, "demo", form, files, MOBILE).tracking_code


@pytest.fixture
def history(rpx):
    px, system = rpx
    shared = Upload("shared.pdf", pdf("shared"))
    closed = _submit(px, "street-repair", "بسته", [Upload("c.pdf", pdf("closed")), shared])
    refused = _submit(px, "general", "ردشده", [Upload("r.pdf", pdf("refused"))])
    still_open = _submit(px, "general", "باز", [Upload("o.pdf", pdf("open")), shared])
    withdrawn = _submit(px, "general", "پس‌گرفته", [Upload("w.pdf", pdf("withdrawn"))])
    letters.withdraw(px, withdrawn, MOBILE)
    delivery.run_once(px)
    system.emit(closed, ChangeKind.REGISTERED, number="1405/1")
    system.emit(still_open, ChangeKind.REGISTERED, number="1405/2")
    system.emit(refused, ChangeKind.REJECTED, reason="نامربوط")
    system.emit(closed, ChangeKind.ANSWERED, text="انجام شد")
    system.emit(closed, ChangeKind.CLOSED)
    polling.poll_org(px, "demo")
    letters.save_survey(px, closed, MOBILE, 4, "خوب بود")
    citizens.request_otp(px, "09351112233")
    sms_outbox.dispatch_due(px)
    with px.sessions() as s, s.begin():
        s.add(ApiToken(token_hash="f" * 64, mobile=MOBILE, expires_at=now()))
    held = px.blobs.put(pdf("held in a draft, never sent"))
    return px, {"closed": closed, "refused": refused, "open": still_open,
                "withdrawn": withdrawn, "held": held}


def _report(px, since, until):
    report = reports.build(px, "demo", since, until)
    return [(r.unit, r.received, r.approved, r.rejected, r.overdue,
             r.median_hours_to_registration, r.median_hours_to_answer, r.satisfaction,
             r.ratings) for r in report.units + [report.total]]


def wanted_blobs(px) -> set[str]:
    with px.sessions() as s:
        return set(s.scalars(select(Attachment.sha256)))


def _counts(px):
    with px.sessions() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                for m in (Letter, Attachment, Event, OtpChallenge, ApiToken, LetterStatistic)}


def test_a_short_policy_destroys_what_expired_and_keeps_the_reports(history):
    px, codes = history
    since, until = now() - timedelta(days=1), now() + timedelta(hours=1)
    blobs_before = {b.digest for b in px.blobs.all()}
    with px.sessions() as s:
        sms_rows = s.scalar(select(func.count()).select_from(Notification))
    with clock.use(clock.ManualClock(now() + timedelta(days=2))):
        before = _report(px, since, until)
        # 4 received, 2 approved, 1 rejected; medians and the one score are there to keep.
        assert before[-1][1:4] == (4, 2, 1) and before[-1][-2:] == (4, 1)
        assert before[-1][5] is not None and before[-1][6] is not None

        dry = retention.run(px, dry_run=True)
        assert _counts(px)["letters"] == 4 and {b.digest for b in px.blobs.all()} == \
            blobs_before  # a dry run changes nothing
        letters_line = next(d for d in dry if d.kind == "letters")
        assert sorted(letters_line.items) == sorted(
            [codes["closed"], codes["refused"], codes["withdrawn"]])

        done = retention.run(px)
        assert {(d.kind, d.org, d.count) for d in done} >= {
            ("letters", "demo", 3), ("otp challenges", "", 1), ("tokens", "", 1)}
        assert _report(px, since, until) == before  # the same totals, medians and scores

    # The store holds only the open letter; no name, text or code of the others.
    with px.sessions() as s:
        assert list(s.scalars(select(Letter.tracking_code))) == [codes["open"]]
        assert s.scalar(select(func.count()).select_from(OtpChallenge)) == 0
        assert s.scalar(select(func.count()).select_from(ApiToken)) == 0
        assert s.scalar(select(func.count()).select_from(LetterStatistic)) == 3
        texts = [n.text for n in s.scalars(select(Notification))]
        numbers = [n.to for n in s.scalars(select(Notification))]
    assert texts and all(t == "" for t in texts)  # every message was final and old: blanked
    assert all(re.fullmatch(r"09\d\d\*\*\*\d{4}", n) for n in numbers)
    assert len(texts) == sms_rows  # the messages are still there to count

    # Nowhere in the database — any table, any column — is a name from a destroyed letter.
    from sqlalchemy import text as sql

    from connector.store.models import Base
    with px.sessions() as s:
        dump = " ".join(str(row) for table in Base.metadata.sorted_tables
                        for row in s.execute(sql(f'SELECT * FROM "{table.name}"')))
    assert "باز" in dump  # the open letter's applicant is still there
    for name in ("بسته", "ردشده", "پس‌گرفته", "خوب بود"):
        assert name not in dump, name

    # The blob folder holds only the open letter's two files (one shared with a destroyed one).
    with px.sessions() as s:
        wanted = set(s.scalars(select(Attachment.sha256)))
    assert {b.digest for b in px.blobs.all()} == wanted and len(wanted) == 2
    assert codes["held"] not in wanted

    # The chain verifies and names each destruction and why.
    verdict = audit.verify(px)
    assert verdict.ok, verdict.problem
    records = audit.search(px, audit.Filters(action="retention."))
    destroyed = {r.letter for r in records if r.action == "retention.letter_destroyed"}
    assert destroyed == {codes["closed"], codes["refused"], codes["withdrawn"]}
    assert all("letters_years" in r.detail["reason"] for r in records
               if r.action == "retention.letter_destroyed")
    actions = {r.action for r in records}
    assert {"retention.otp_destroyed", "retention.tokens_destroyed",
            "retention.drafts_destroyed", "retention.sms_redacted"} <= actions

    # A second run finds nothing and records nothing.
    with clock.use(clock.ManualClock(now() + timedelta(days=2))):
        assert retention.run(px) == []
    with px.sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.action.startswith("retention."))) == len(records)


def test_nothing_goes_before_its_time(history):
    px, codes = history
    before = _counts(px)
    blobs = {b.digest for b in px.blobs.all()}
    with clock.use(clock.ManualClock(now() + timedelta(minutes=30))):
        assert retention.run(px) == []
    assert _counts(px) == before and {b.digest for b in px.blobs.all()} == blobs


def test_the_cli_dry_run_lists_and_the_run_destroys(history, monkeypatch):
    px, codes = history
    from connector.cli import main
    for key, value in px.settings.env.items():
        if key.startswith("PISHKHAN_"):
            monkeypatch.setenv(key, value)
    runner = CliRunner()
    with clock.use(clock.ManualClock(now() + timedelta(days=2))):
        r = runner.invoke(main, ["retention", "run", "--dry-run", "--list"])
        assert r.exit_code == 0, r.output
        assert "would go" in r.output and codes["closed"] in r.output
        assert _counts(px)["letters"] == 4
        r = runner.invoke(main, ["retention", "run"])
        assert r.exit_code == 0, r.output
        assert "destroyed" in r.output
    assert _counts(px)["letters"] == 1
    r = runner.invoke(main, ["audit", "verify"])
    assert r.exit_code == 0 and r.output.startswith("ok"), r.output
    records = audit.search(px, audit.Filters(action="retention.letter_destroyed"))
    assert records and all(r.actor.startswith("cli:") for r in records)


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_workers_running_retention_at_once_destroy_each_letter_once(history):
    # Every worker runs the daily job; on PostgreSQL they may overlap.
    from concurrent.futures import ThreadPoolExecutor
    px, codes = history
    with clock.use(clock.ManualClock(now() + timedelta(days=2))):
        with ThreadPoolExecutor(8) as pool:
            runs = list(pool.map(lambda _: retention.run(px), range(8)))
    destroyed = [code for run in runs for d in run if d.kind == "letters" for code in d.items]
    assert sorted(destroyed) == sorted([codes["closed"], codes["refused"], codes["withdrawn"]])
    with px.sessions() as s:
        assert s.scalar(select(func.count()).select_from(LetterStatistic)) == 3
        assert s.scalar(select(func.count()).select_from(AuditRecord).where(
            AuditRecord.action == "retention.letter_destroyed")) == 3
        # Counted once each: a bulk statement that found nothing records nothing.
        for action in ("otp", "tokens", "drafts"):
            assert s.scalar(select(func.count()).select_from(AuditRecord).where(
                AuditRecord.action == f"retention.{action}_destroyed")) == 1, action
    assert {b.digest for b in px.blobs.all()} == wanted_blobs(px)
    assert audit.verify(px).ok


def test_the_worker_runs_retention_daily(rpx):
    from apscheduler.schedulers.background import BackgroundScheduler

    from connector.cli import worker
    px, _ = rpx
    scheduler = BackgroundScheduler()
    worker.add_jobs(scheduler, px)
    job = scheduler.get_job("retention")
    assert job is not None and str(px.settings.retention_hour) in str(job.trigger)
