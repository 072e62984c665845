"""The `session` dialect end to end: a login ticket shared by every call and renewed when the
system drops it, result codes that differ per operation, base64 files, Jalali date-times — and
the issue's acceptance: 50 letters with 2 files each while sessions expire at random and 30 % of
writes commit and then answer a soap:Server fault."""
from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import requests
import zeep
from click.testing import CliRunner
from sqlalchemy import inspect, text, update

from adapters.soap import SoapAdapter
from connector.bootstrap import bootstrap
from connector.cli import main
from connector.delivery import push as delivery
from connector.domain.errors import ConfigurationError, PermanentError
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.plugins.ports import MemoryProgress
from connector.store.db import upgrade
from sandbox import letters as oa
from sandbox.db import oa_changes
from sandbox.state import get_sandbox
from tests.acceptance import MOBILE, PDF, PNG, set_option
from tests.conftest import make_settings
from tests.integration.test_adapter_check import env as cli_env
from tests.integration.test_soap_adapter import PASSWORD, SECRETS, USERNAME, letter
from tests.sandbox_server import start_sandbox

PROFILE = Path(__file__).resolve().parents[2] / "adapters/soap/profiles/session.toml"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[str, object]]:
    base, app, stop = start_sandbox(tmp_path, TIMEOUT_SLEEP=1)
    yield base, app
    stop()


def session_adapter(base: str, profile: str = "session", **options: object) -> SoapAdapter:
    return SoapAdapter.from_options(
        {"wsdl": f"{base}/soap/session?wsdl", "profile": profile, "wsse": "none",
         "username_env": "OA_USER", "password_env": "OA_PASS", "timeout": 5,
         "register_on_delivery": True, **options}, SECRETS)


def dated(code: str, unit: str = "IT"):
    return dataclasses.replace(letter(code, unit=unit), submitted_at=datetime(2026, 11, 29, 10))


def test_one_login_shared_and_renewed_when_the_system_drops_it(sandbox) -> None:
    base, app = sandbox
    adapter = session_adapter(base)
    receipt = adapter.deliver(dated("PK-8001"))
    held = oa.get_letter(get_sandbox(app).engine, int(receipt.external_id))
    assert [a.name for a in held.attachments] == ["scan.pdf", "photo.png"]
    assert held.status == "registered" and receipt.letter_number == held.number
    adapter.ping()
    adapter.changes("")
    assert adapter._caller.session.logins == 1  # five operations, one login
    requests.post(f"{base}/api/sessions/expire", timeout=5).raise_for_status()
    found = adapter.find("PK-8001")  # refused with code 1, logged in again, repeated once
    assert found.external_id == receipt.external_id and found.status == "registered"
    assert adapter._caller.session.logins == 2
    assert adapter.find("PK-0000") is None  # code 3 on a search: nothing found


class ExpiringProgress(MemoryProgress):
    """Progress (the core's port) that, once the letter is in, has the system drop every
    session — so the next step of the same delivery goes out with a dead ticket."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base

    def put(self, step: str, value: object) -> None:
        super().put(step, value)
        if step == "0.AddLetter":
            requests.post(f"{self.base}/api/sessions/expire", timeout=5).raise_for_status()


def test_session_expired_in_the_middle_of_a_delivery(sandbox) -> None:
    base, app = sandbox
    adapter = session_adapter(base)
    progress = ExpiringProgress(base)
    receipt = adapter.deliver_resuming(dated("PK-8002"), progress)
    (held,) = oa.find_letters(get_sandbox(app).engine, reference="PK-8002")
    assert [a.name for a in held.attachments] == ["scan.pdf", "photo.png"]
    assert receipt.letter_number == held.number
    assert adapter._caller.session.logins == 2
    tickets = get_sandbox(app).sessions.issued
    assert len(tickets) == 2
    assert not any(t in repr(progress.steps) for t in tickets)  # never step progress


def test_codes_mean_different_things_per_operation(sandbox) -> None:
    base, _ = sandbox
    adapter = session_adapter(base)
    # 3 on AddAttachment is "no such letter": an error, not a success to ignore.
    progress = MemoryProgress({"0.AddLetter": {"letter_id": 999999}})
    with pytest.raises(PermanentError, match="code 3"):
        adapter.deliver_resuming(dated("PK-8003"), progress)


def test_duplicate_reference_looks_the_letter_up_and_goes_on(sandbox) -> None:
    base, app = sandbox
    adapter = session_adapter(base)
    engine = get_sandbox(app).engine
    first = oa.deliver(engine, oa.NewLetter(reference="PK-8004", subject="قبلی", unit_code="IT"))
    # The core lost the first attempt's answer and kept no progress: AddLetter says "5".
    receipt = adapter.deliver_resuming(dated("PK-8004"), MemoryProgress())
    assert receipt.external_id == str(first.id)
    assert len(oa.find_letters(engine, reference="PK-8004")) == 1
    assert len(oa.get_letter(engine, first.id).attachments) == 2


@pytest.mark.parametrize("mode, extra", [
    ("header", 'header = "TicketHeader.Ticket"'),
    ("cookie", 'cookie = "SessionTicket"'),
])
def test_ticket_in_a_header_or_a_cookie(sandbox, tmp_path: Path, mode: str, extra: str) -> None:
    base, _ = sandbox
    text_ = PROFILE.read_text("utf-8").replace('Ticket = "{session}", ', "").replace(
        'Ticket = "{session}"\n', "").replace('args = { Ticket = "{session}" }\n', "")
    text_ = text_.replace('pass_as = "argument"', f'pass_as = "{mode}"\n{extra}')
    path = tmp_path / f"session-{mode}.toml"
    path.write_text(text_, "utf-8")
    adapter = session_adapter(base, profile=str(path))
    assert adapter.ping().startswith("ok")
    assert adapter.find("PK-none") is None
    requests.post(f"{base}/api/sessions/expire", timeout=5).raise_for_status()
    assert adapter.ping().startswith("ok") and adapter._caller.session.logins == 2
    sent, _ = adapter.last_exchange()
    assert not any(t in sent for t in get_sandbox(sandbox[1]).sessions.issued)


def test_fifty_letters_with_expiring_sessions_and_faults_after_commit(sandbox, tmp_path: Path,
                                                                     caplog) -> None:
    caplog.set_level(logging.DEBUG)  # every log line, zeep's included
    base, app = sandbox
    settings = make_settings(tmp_path, PISHKHAN_SANDBOX_URL=base, PISHKHAN_MAX_ATTEMPTS="60")
    set_option(settings.orgs_dir, "demo-session", "timeout", "2")
    set_option(settings.orgs_dir, "demo-session", "delivery_concurrency", "4")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        requests.post(f"{base}/api/faults", json={"commit_then_fault": 0.3,
                                                  "session_expiry": 0.1},
                      timeout=5).raise_for_status()
        codes = []
        for i in range(50):
            form = letters.LetterForm(
                applicant_type="natural" if i % 3 else "legal", national_code="0076229645",
                national_id="52348147901" if not i % 3 else "", first_name="مریم",
                last_name="احمدی", company_name="شرکت نمونه" if not i % 3 else "",
                subject=f"درخواست {i}", body="متن نامه", service="general")
            sent = letters.submit(px, "demo-session", form,
                                  [Upload("نامه.pdf", PDF), Upload("عکس.png", PNG)], MOBILE)
            letters.approve(px, sent.tracking_code, "operator")
            codes.append(sent.tracking_code)
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            delivery.run_once(px)
            states = {c: letters.get(px, c).state for c in codes}
            if set(states.values()) == {"registered"}:
                break
        requests.post(f"{base}/api/faults", json={}, timeout=5).raise_for_status()
        assert set(states.values()) == {"registered"}, states
        engine = get_sandbox(app).engine
        assert len(oa.list_letters(engine)) == 50
        retried = 0
        for code in codes:
            (held,) = oa.find_letters(engine, reference=code)
            assert sorted(a.name for a in held.attachments) == ["عکس.png", "نامه.pdf"], code
            mine = letters.get(px, code)
            assert held.number and mine.letter_number == held.number
            assert mine.external_id == str(held.id)
            retried += mine.attempts > 1
        assert retried > 0  # the faults did strike
        tickets = get_sandbox(app).sessions.issued
        assert len(tickets) > 1  # sessions did expire and were renewed
        dump = _database_text(px)
        assert not [t for t in tickets if t in dump], "a session ticket is in the database"
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "AddAttachment" in logged or "delivery failed" in logged  # the log was captured
        assert not [t for t in tickets if t in logged], "a session ticket is in the log"

        result = CliRunner().invoke(main, ["adapter", "check", "demo-session", "--exchange"],
                                    env={**cli_env(tmp_path, base),
                                         "PISHKHAN_ORGS_DIR": str(settings.orgs_dir)})
        assert result.exit_code == 0, result.output
        assert re.search(r"<ns0:Ticket>\*\*\*</ns0:Ticket>", result.output), result.output
        assert not [t for t in get_sandbox(app).sessions.issued if t in result.output]
    finally:
        px.close()


def _database_text(px) -> str:
    """Every value of every table, as text: where a leaked ticket would be."""
    parts = []
    with px.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def feedless_profile(tmp_path: Path) -> Path:
    """The session profile without its history: a system with only "get letter status"."""
    text_ = PROFILE.read_text("utf-8")
    start = text_.index("# The history, by Jalali date-time range.")
    end = text_.index("[[ping.steps]]")
    path = tmp_path / "session-feedless.toml"
    path.write_text(text_[:start] + text_[end:], "utf-8")
    return path


def test_feedless_status_codes_are_mapped(sandbox, tmp_path: Path) -> None:
    base, app = sandbox
    engine = get_sandbox(app).engine
    adapter = session_adapter(base, profile=str(feedless_profile(tmp_path)),
                              register_on_delivery=False)
    assert not adapter.capabilities.changes_feed
    receipt = adapter.deliver(dated("PK-8101"))
    assert adapter.find("PK-8101").status == "delivered"  # 1: pending in the inbox
    oa.reject(engine, int(receipt.external_id), "مدارک ناقص است")
    rejected = adapter.find("PK-8101")
    assert (rejected.status, rejected.reason) == ("rejected", "مدارک ناقص است")


def test_feedless_organization_follows_letters_one_by_one(sandbox, tmp_path: Path) -> None:
    from connector.delivery import polling
    base, app = sandbox
    engine = get_sandbox(app).engine
    settings = make_settings(tmp_path, PISHKHAN_SANDBOX_URL=base)
    set_option(settings.orgs_dir, "demo-session", "profile",
               f'"{feedless_profile(tmp_path)}"')
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        form = letters.LetterForm(national_code="0076229645", first_name="مریم",
                                  last_name="احمدی", subject="درخواست", body="متن",
                                  service="general")
        sent = letters.submit(px, "demo-session", form, [Upload("نامه.pdf", PDF)], MOBILE)
        letters.approve(px, sent.tracking_code, "operator")
        delivery.run_once(px)
        mine = letters.get(px, sent.tracking_code)
        assert mine.state == "registered"
        oa.refer(engine, int(mine.external_id), "FIN", person="زهرا کریمی")
        assert polling.poll_org(px, "demo-session") == 1
        mine = letters.get(px, sent.tracking_code)
        assert mine.state == "in_progress" and mine.current_unit == "امور مالی"
        assert polling.poll_org(px, "demo-session") == 0  # the same status is no news
        oa.refer(engine, int(mine.external_id), "CIV")
        assert polling.poll_org(px, "demo-session") == 1  # referred on: another unit is news
        assert letters.get(px, sent.tracking_code).current_unit == "واحد خدمات شهری"
    finally:
        px.close()


def test_thirty_two_threads_share_one_session_and_renew_it_once(sandbox) -> None:
    from concurrent.futures import ThreadPoolExecutor
    base, app = sandbox
    adapter = session_adapter(base)
    receipt = adapter.deliver(dated("PK-8201"))
    requests.post(f"{base}/api/sessions/expire", timeout=5).raise_for_status()
    with ThreadPoolExecutor(32) as pool:
        found = list(pool.map(lambda _: adapter.find("PK-8201"), range(64)))
    assert {f.external_id for f in found} == {receipt.external_id}
    assert adapter._caller.session.logins == 2  # the first login, and one renewal
    assert len(get_sandbox(app).sessions.issued) == 2


def test_history_to_a_minute_holds_the_whole_of_that_minute(sandbox) -> None:
    """ToDate "14:30" reads as a person says it: a change made at 14:30:59.7 is in. Read to its
    59th whole second, a change in that last second waited for the next poll."""
    base, app = sandbox
    adapter = session_adapter(base)
    receipt = adapter.deliver(dated("PK-8301"))
    engine = get_sandbox(app).engine
    late = datetime(2026, 11, 29, 11, 0, 59, 700000)  # 14:30:59.7 in Tehran
    with engine.begin() as conn:
        conn.execute(update(oa_changes).where(oa_changes.c.letter_id == int(receipt.external_id))
                     .values(at=late))
    service = zeep.Client(f"{base}/soap/session?wsdl").service
    ticket = service.Login(UserName=USERNAME, Password=PASSWORD).Ticket

    def history(until: str) -> set[str]:
        answer = service.GetHistory(Ticket=ticket, FromDate="1405/09/08 14:00", ToDate=until,
                                     MaxRows=100)
        return {a.ReferenceNo for a in answer.Action}

    assert history("1405/09/08 14:30") == {"PK-8301"}
    assert history("1405/09/08 14:29") == set()


def test_closing_logs_out(sandbox) -> None:
    base, app = sandbox
    adapter = session_adapter(base)
    adapter.ping()
    (ticket,) = get_sandbox(app).sessions.issued
    assert get_sandbox(app).sessions.valid(ticket)
    adapter.close()
    assert not get_sandbox(app).sessions.valid(ticket)


def test_an_insert_that_gives_no_id_followed_by_a_look_up(sandbox, tmp_path: Path) -> None:
    """Systems whose insert answers only "done": the next step looks the letter up."""
    base, app = sandbox
    text_ = PROFILE.read_text("utf-8").replace('''[deliver.steps.outputs]
letter_id = "LetterId"
''', '''
[[deliver.steps]]
call = "SearchLetter"
idempotent = true
args = { Ticket = "{session}", ReferenceNo = "{tracking_code}" }
outputs = { letter_id = "LetterId" }
''', 1)
    path = tmp_path / "no-id.toml"
    path.write_text(text_, "utf-8")
    adapter = session_adapter(base, profile=str(path))
    receipt = adapter.deliver(dated("PK-8301"))
    (held,) = oa.find_letters(get_sandbox(app).engine, reference="PK-8301")
    assert receipt.external_id == str(held.id) and len(held.attachments) == 2
    bad = text_.replace("idempotent = true\n", "", 1)
    path.write_text(bad, "utf-8")
    with pytest.raises(ConfigurationError, match=r"deliver\.steps\[1\].*after a step that "
                                                 r"writes"):
        session_adapter(base, profile=str(path))


def test_the_service_maps_to_the_vendors_letter_type(sandbox, tmp_path: Path) -> None:
    base, app = sandbox
    text_ = PROFILE.read_text("utf-8").replace(
        'LetterType = "{params.letter_type}"', 'LetterType = "{service_code|map(letter_type)}"'
    ).replace("[maps.sender_type]", '[maps.letter_type]\ngeneral = 2\n\n[maps.sender_type]')
    path = tmp_path / "types.toml"
    path.write_text(text_, "utf-8")
    adapter = session_adapter(base, profile=str(path))
    receipt = adapter.deliver(dataclasses.replace(dated("PK-8401"), service_code="general"))
    assert receipt.letter_number
    with pytest.raises(ConfigurationError, match=r"value map 'letter_type' has no entry for "
                                                 r"'permits'.*adapter\.maps\.letter_type"):
        adapter.deliver(dataclasses.replace(dated("PK-8402"), service_code="permits"))
    assert oa.find_letters(get_sandbox(app).engine, reference="PK-8402") == []
    # An organization adds its own services without touching the profile.
    adapter = session_adapter(base, profile=str(path), maps={"letter_type": {"permits": 2}})
    assert adapter.deliver(dataclasses.replace(dated("PK-8403"),
                                               service_code="permits")).letter_number
