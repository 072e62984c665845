"""The audit chain: state changes are recorded centrally, staff actions with their actor, and
``pishkhan audit verify`` notices a record altered or deleted by hand in the database."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from connector.delivery import push as delivery
from connector.domain.letter import State
from connector.letters import lifecycle
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.store import audit

MOBILE = "09121234567"
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"


@pytest.fixture
def apx(fake_px):
    return fake_px[0]


def _submit(px, org="demo-portal"):
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="علی", last_name="کریمی", subject="تعمیر آسفالت",
                              body="کوچه خراب است.", service="street-repair")
    return letters.submit(px, org, form, [Upload("a.pdf", PDF)], MOBILE)


def _env(px):
    return {"PISHKHAN_DATABASE_URL": px.settings.database_url,
            "PISHKHAN_ORGS_DIR": str(px.settings.orgs_dir),
            "PISHKHAN_VAR_DIR": str(px.settings.var_dir), "PISHKHAN_SECRET_KEY": "x",
            "PISHKHAN_ENV_FILE": "/nonexistent"}


def _cli(px, *args):
    """The installed command in its own process, as an admin would run it."""
    return subprocess.run([sys.executable, "-m", "connector.cli", *args],
                          env={**os.environ, **_env(px)}, capture_output=True, text=True,
                          timeout=60)


def test_state_changes_and_staff_actions_form_a_verifiable_chain(apx):
    letter = _submit(apx)
    with audit.acting_as("staff:ali"):
        letters.approve(apx, letter.tracking_code, "ali")
    delivery.run_once(apx)
    audit.log(apx, "staff.login", actor="staff:ali")
    records = list(reversed(audit.search(apx, audit.Filters(letter=letter.tracking_code))))
    moves = [(r.detail["from"], r.detail["to"], r.actor) for r in records]
    # A new letter is recorded in the state it was created in.
    assert moves == [(None, "awaiting_approval", "system"),
                     ("awaiting_approval", "approved", "staff:ali"),
                     ("approved", "delivering", "system"), ("delivering", "delivered", "system")]
    verdict = audit.verify(apx)
    assert verdict.ok and verdict.count == 5
    from click.testing import CliRunner

    from connector.cli import main
    result = CliRunner(env=_env(apx)).invoke(main, ["audit", "verify"])
    assert result.exit_code == 0 and "ok   5 records" in result.output


def test_a_rejection_records_its_reason(apx):
    letter = _submit(apx)
    letters.reject(apx, letter.tracking_code, "ali", "مدارک ناقص است.")
    last = audit.search(apx, audit.Filters(letter=letter.tracking_code), limit=1)[0]
    assert last.detail == {"from": "awaiting_approval", "to": "rejected",
                           "reason": "مدارک ناقص است."}


def test_verify_fails_after_a_record_is_altered_by_hand(apx):
    letter = _submit(apx)
    letters.approve(apx, letter.tracking_code, "ali")
    assert audit.seal(apx) == 2
    with apx.engine.begin() as conn:
        conn.execute(text("UPDATE audit_records SET actor = 'staff:someone-else' "
                          "WHERE seq = 2"))
    result = _cli(apx, "audit", "verify")
    assert result.returncode == 1
    assert "FAIL record 2: the record was altered" in result.stdout


def test_verify_fails_after_a_record_is_deleted_in_the_middle_or_at_the_end(apx):
    letter = _submit(apx)
    letters.approve(apx, letter.tracking_code, "ali")
    audit.log(apx, "staff.login", actor="staff:ali")
    audit.seal(apx)
    with apx.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_records WHERE seq = 2"))
    verdict = audit.verify(apx)
    assert not verdict.ok and verdict.seq == 2 and "missing (deleted)" in verdict.problem
    with apx.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_records WHERE seq >= 2"))
    verdict = audit.verify(apx)
    assert not verdict.ok and "end were deleted" in verdict.problem


def test_a_rolled_back_change_leaves_no_record(apx):
    letter = _submit(apx)
    before = audit.verify(apx).count
    with pytest.raises(RuntimeError):
        with apx.sessions() as s, s.begin():
            row = s.scalars(letters.select(letters.Letter)
                            .where(letters.Letter.id == letter.id)).one()
            lifecycle.move(row, State.WITHDRAWN)
            s.flush()
            raise RuntimeError("undo")
    verdict = audit.verify(apx)
    assert verdict.ok and verdict.count == before


def test_a_citizen_handing_in_through_the_api_is_the_recorded_actor(px, client):

    from connector.people import citizens
    citizens.request_otp(px, MOBILE)
    from tests.phone import otp_code
    token = citizens.verify_otp(px, MOBILE, otp_code(px, MOBILE))
    resp = client.post("/api/v1/orgs/demo/letters", headers={"Authorization": f"Bearer {token}"},
                       data={"applicant_type": "natural", "national_code": "0076229645",
                             "first_name": "علی", "last_name": "کریمی", "subject": "تعمیر",
                             "body": "متن", "service": "street-repair"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    [record] = audit.search(px, audit.Filters(letter=resp.get_json()["tracking_code"]))
    assert record.actor == "citizen:0912***4567"


def test_verify_fails_after_a_record_is_inserted_by_hand(apx):
    letter = _submit(apx)
    letters.approve(apx, letter.tracking_code, "ali")
    audit.log(apx, "staff.login", actor="staff:ali")
    audit.seal(apx)
    # Make room after record 1 and slip a record in, with a hash that fits its own fields.
    with apx.engine.begin() as conn:
        row = conn.execute(audit.select(audit.AuditRecord.at, audit.AuditRecord.hash)
                           .where(audit.AuditRecord.seq == 1)).one()
        for seq in (3, 2):
            conn.execute(text("UPDATE audit_records SET seq = seq + 1 WHERE seq = :s"),
                         {"s": seq})
        digest = audit._digest(2, row.at, "staff:mallory", "staff.login", "", "", {}, row.hash)
        conn.execute(text("INSERT INTO audit_records (seq, at, actor, action, org, letter, "
                          "detail, prev_hash, hash) VALUES (2, :at, 'staff:mallory', "
                          "'staff.login', '', '', '{}', :prev, :hash)"),
                     {"at": row.at, "prev": row.hash, "hash": digest})
    verdict = audit.verify(apx)
    assert not verdict.ok and verdict.seq == 3 and "link" in verdict.problem


def test_records_are_written_without_a_lock_and_sealed_in_order(apx):
    letter = _submit(apx)
    with apx.sessions() as s:
        unsealed = s.scalars(audit.select(audit.AuditRecord)).all()
    assert [r.seq for r in unsealed] == [None]
    # The viewer lists a record before it is sealed.
    assert audit.search(apx, audit.Filters(letter=letter.tracking_code))[0].seq is None
    assert audit.seal(apx) == 1 and audit.seal(apx) == 0
    audit.log(apx, "staff.login", actor="staff:ali")
    assert audit.seal(apx) == 1
    verdict = audit.verify(apx)
    assert verdict.ok and verdict.count == 2
    assert audit.actions(apx) == ["letter.state", "staff.login"]


WRITER = """
import sys
from connector.bootstrap import bootstrap
from connector.config.settings import load_settings
from connector.store import audit
px = bootstrap(load_settings())
for i in range(int(sys.argv[1])):
    audit.log(px, "bench.write", actor="staff:w" + sys.argv[2], n=i)
    if i % 10 == 0:
        audit.seal(px)
px.close()
"""


def test_records_written_by_several_processes_at_once_form_one_chain(apx):
    """Four processes write and seal at the same time; nothing is lost, nothing forks."""
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, "40", str(w)],
                              env={**os.environ, **_env(apx)}, stderr=subprocess.PIPE,
                              text=True) for w in range(4)]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    verdict = audit.verify(apx)
    assert verdict.ok and verdict.count == 160
    with apx.sessions() as s:
        rows = s.scalars(audit.select(audit.AuditRecord).order_by(audit.AuditRecord.seq)).all()
    assert [r.seq for r in rows] == list(range(1, 161))
    # Each writer's own records keep their order in the chain.
    for w in range(4):
        mine = [r.detail["n"] for r in rows if r.actor == f"staff:w{w}"]
        assert mine == list(range(40))
    with apx.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_records WHERE seq = 77"))
    verdict = audit.verify(apx)
    assert not verdict.ok and verdict.seq == 77
