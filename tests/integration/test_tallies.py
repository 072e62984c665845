"""Letter counts are kept with each change (no scan) and always equal a real count, however
often they are folded, also while several processes change letters and fold at once."""
from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import func, select

from connector.letters import usecases as letters
from connector.operations import dashboard, metrics
from connector.store import tallies
from connector.store.models import Letter, LetterTally
from tests.integration.test_audit import _env, _submit


def _real(px) -> dict[tuple[str, str], int]:
    with px.sessions() as s:
        return {(o, st): n for o, st, n in s.execute(
            select(Letter.org, Letter.state, func.count()).group_by(Letter.org, Letter.state))}


def test_counts_follow_every_change_and_survive_folding(fake_px):
    px, _system = fake_px
    first, second, third = (_submit(px) for _ in range(3))
    letters.approve(px, first.tracking_code, "ali")
    letters.reject(px, second.tracking_code, "ali", "ناقص")
    assert tallies.letter_counts(px) == _real(px) == {
        ("demo-portal", "awaiting_approval"): 1, ("demo-portal", "approved"): 1,
        ("demo-portal", "rejected"): 1}
    # Letters: three +1, two moves of -1/+1; SMS: three receipts and one rejection.
    assert tallies.fold(px) == 7 + 4
    with px.sessions() as s:
        assert s.scalar(select(func.count()).select_from(LetterTally)) == 3
    letters.withdraw(px, third.tracking_code, third.mobile)
    assert tallies.letter_counts(px) == _real(px)
    board = {c.state: c.count for c in dashboard.counts(px, "demo-portal")}
    assert board == {"approved": 1, "rejected": 1, "withdrawn": 1}
    assert all(c.oldest is not None for c in dashboard.counts(px, "demo-portal"))
    snap = metrics.snapshot(px)
    assert snap.letters == _real(px) and set(snap.oldest) == set(snap.letters)
    overview = dashboard.overview(px, ["demo-portal", "demo"])
    assert overview["demo-portal"]["counts"] == board and overview["demo"]["counts"] == {}


WORKER = """
import sys
from connector.bootstrap import bootstrap
from connector.config.settings import load_settings
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.store import tallies
px = bootstrap(load_settings())
form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                          first_name="a", last_name="b", subject="s", body="b",
                          service="street-repair")
for i in range(15):
    code = letters.submit(px, "demo-portal", form, [], "09121234567").tracking_code
    if i % 3:
        letters.approve(px, code, "w")
    tallies.fold(px)
px.close()
"""


def test_counts_stay_exact_with_several_processes_writing_and_folding(fake_px):
    px, _system = fake_px
    procs = [subprocess.Popen([sys.executable, "-c", WORKER], env={**os.environ, **_env(px)},
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    assert tallies.letter_counts(px) == _real(px) == {
        ("demo-portal", "awaiting_approval"): 20, ("demo-portal", "approved"): 40}
    tallies.fold(px)
    assert tallies.letter_counts(px) == _real(px)


def test_an_upgrade_starts_the_counts_from_the_letters_already_there(tmp_path):
    from sqlalchemy import create_engine, text

    from connector.bootstrap import bootstrap
    from connector.store.db import upgrade
    from tests.conftest import make_settings
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0004")
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=url)
    engine = create_engine(url)
    with engine.begin() as conn:
        for i, state in enumerate(("staged", "staged", "closed")):
            conn.execute(text(
                "INSERT INTO letters (tracking_code, org, service_code, unit_code, channel, "
                "subject, body, applicant_type, national_code, national_id, company_name, "
                "first_name, last_name, mobile, state, reply_available, attempts, "
                "needs_reconcile, created_at, updated_at) VALUES (:c, 'demo', '', '', 'portal',"
                " 's', 'b', 'natural', '', '', '', '', '', '09121234567', :st, 0, 0, 0, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"c": f"10000000{i}", "st": state})
    engine.dispose()
    upgrade(url)
    px = bootstrap(settings)
    try:
        assert tallies.letter_counts(px) == {("demo", "staged"): 2, ("demo", "closed"): 1}
    finally:
        px.close()


def _real_sms(px) -> dict[tuple[str, str, str], int]:
    from connector.store.models import Notification
    with px.sessions() as s:
        out: dict[tuple[str, str, str], int] = {}
        for org, state, gw, n in s.execute(
                select(Notification.org, Notification.state, Notification.gateway, func.count())
                .group_by(Notification.org, Notification.state, Notification.gateway)):
            key = (org or "", state, gw or "")
            out[key] = out.get(key, 0) + n
        return out


def test_sms_counts_follow_the_outbox_through_its_guarded_updates(fake_px):
    from connector.outbox import sms as sms_outbox
    px, _system = fake_px
    for _ in range(3):
        _submit(px)
    assert tallies.sms_counts(px) == _real_sms(px) == {("demo-portal", "created", ""): 3}
    sms_outbox.dispatch_due(px)
    counts = tallies.sms_counts(px)
    assert counts == _real_sms(px) and ("demo-portal", "created", "") not in counts
    tallies.fold(px)
    assert tallies.sms_counts(px) == _real_sms(px) == metrics.snapshot(px).sms


def test_a_destroyed_letter_leaves_the_counts(fake_px):
    """Retention deletes letters through the session; their counts go with them."""
    px, _system = fake_px
    keep, gone = _submit(px), _submit(px)
    letters.reject(px, gone.tracking_code, "ali", "ناقص")
    with px.sessions() as s, s.begin():
        s.delete(s.get(Letter, gone.id))
    assert tallies.letter_counts(px) == _real(px) == {("demo-portal", "awaiting_approval"): 1}
    assert keep.id != gone.id
