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
    import re

    from connector.outbox import sms as sms_outbox
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
