"""The `legacy` WCF-style dialect end to end: the sandbox serves it, the shipped profile drives
it, and a delivery in several calls survives commit-then-timeout without duplicating anything."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from adapters.soap import SoapAdapter
from connector.bootstrap import bootstrap
from connector.delivery import polling
from connector.domain.errors import AmbiguousError, ConfigurationError
from connector.domain.letter import ChangeKind
from connector.plugins.ports import MemoryProgress
from connector.store.db import upgrade
from sandbox import letters as oa
from sandbox.state import get_sandbox
from tests.acceptance import check_twenty_letters, set_option
from tests.conftest import make_settings
from tests.integration.test_soap_adapter import SECRETS, letter
from tests.sandbox_server import start_sandbox


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[str, object]]:
    base, app, stop = start_sandbox(tmp_path, TIMEOUT_SLEEP=1.5)
    yield base, app
    stop()


def legacy(base: str, **options: object) -> SoapAdapter:
    return SoapAdapter.from_options(
        {"wsdl": f"{base}/soap/legacy?wsdl", "profile": "legacy", "wsse": "none",
         "username_env": "OA_USER", "password_env": "OA_PASS", "timeout": 0.5,
         "register_on_delivery": True, **options}, SECRETS)


def test_delivery_in_steps_and_routing_by_jalali_dates(sandbox) -> None:
    base, app = sandbox
    engine = get_sandbox(app).engine
    adapter = legacy(base)
    assert adapter.capabilities.resumable_delivery
    receipt = adapter.deliver(letter("PK-7001", unit="IT"))
    held = oa.get_letter(engine, int(receipt.external_id))
    assert [a.name for a in held.attachments] == ["scan.pdf", "photo.png"]
    assert held.unit_code == "IT" and held.status == "registered"
    assert receipt.letter_number == held.number and receipt.letter_date is not None
    assert adapter.find("PK-7001").external_id == receipt.external_id
    assert adapter.find("PK-0000") is None
    assert adapter.ping().startswith("ok: server time 14")

    oa.refer(engine, held.id, "FIN", instruction="جهت اقدام")
    first = adapter.changes("")
    kinds = [c.kind for c in first.changes]
    assert kinds == [ChangeKind.REGISTERED, ChangeKind.REFERRED]
    referred = first.changes[1]
    assert referred.unit == "FIN" and referred.instruction == "جهت اقدام"
    assert referred.reference == "PK-7001" and referred.source_id.startswith("legacy:")
    # The overlapping window reads today's changes again; the core drops them by source id.
    again = adapter.changes(first.cursor)
    assert [c.source_id for c in again.changes] == [c.source_id for c in first.changes]
    assert again.cursor.endswith("/1")


def test_resumes_after_commit_then_timeout_without_duplicates(sandbox) -> None:
    base, app = sandbox
    engine = get_sandbox(app).engine
    adapter = legacy(base)
    progress = MemoryProgress()
    requests.post(f"{base}/api/faults", json={"commit_then_timeout": 1}, timeout=5)
    # Each write takes effect but its answer never comes: each attempt gets one step further,
    # looking the uncertain step up instead of repeating it.
    attempts = 0
    while True:
        attempts += 1
        try:
            receipt = adapter.deliver_resuming(letter("PK-7002"), progress)
            break
        except AmbiguousError:
            progress.uncertain = True
            progress.found = adapter.find("PK-7002")
        assert attempts < 10
    requests.post(f"{base}/api/faults", json={}, timeout=5)
    (held,) = oa.find_letters(engine, reference="PK-7002")
    assert [a.name for a in held.attachments] == ["scan.pdf", "photo.png"]
    assert len(oa.assignments(engine, held.id)) == 1
    assert receipt.letter_number == held.number
    # letter, two files, assignment, number: five writes, each one ambiguous once.
    assert attempts == 6


def test_wrong_password_in_the_body_is_a_configuration_error(sandbox) -> None:
    base, _ = sandbox
    adapter = SoapAdapter.from_options(
        {"wsdl": f"{base}/soap/legacy?wsdl", "profile": "legacy", "wsse": "none",
         "username_env": "OA_USER", "password_env": "OA_PASS"},
        {"OA_USER": "pishkhan", "OA_PASS": "wrong-secret"})
    with pytest.raises(ConfigurationError) as err:
        adapter.ping()
    assert "code 1" in err.value.detail
    sent, _response = adapter.last_exchange()
    assert "wrong-secret" not in sent and "***" in sent


def test_twenty_letters_for_demo_legacy(sandbox, tmp_path: Path) -> None:
    base, app = sandbox
    settings = make_settings(tmp_path, PISHKHAN_SANDBOX_URL=base, PISHKHAN_MAX_ATTEMPTS="40")
    set_option(settings.orgs_dir, "demo-legacy", "timeout", "0.5")
    set_option(settings.orgs_dir, "demo-legacy", "delivery_concurrency", "4")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        check_twenty_letters(px, "demo-legacy", base, app)
        assert polling.poll_org(px, "demo-legacy") == 0  # the registrations are already known
    finally:
        px.close()


def test_a_full_window_is_read_again_day_by_day(sandbox) -> None:
    """The dialect can only ask "what happened between these days" with a row cap: a window
    that comes back full is read again one day at a time, so nothing beyond the first page of
    a multi-day window is lost."""
    from datetime import timedelta

    from sqlalchemy import select, update

    from sandbox.db import oa_changes

    base, app = sandbox
    engine = get_sandbox(app).engine
    receipt = legacy(base).deliver(letter("PK-7101", unit="IT"))  # registered on delivery
    with engine.begin() as conn:  # that happened two days ago
        for change_id, at in conn.execute(select(oa_changes.c.id, oa_changes.c.at)).all():
            conn.execute(update(oa_changes).where(oa_changes.c.id == change_id)
                         .values(at=at - timedelta(days=2)))
    oa.refer(engine, int(receipt.external_id), "FIN")  # and this today
    result = legacy(base, page_size=1).changes("")
    assert [c.kind for c in result.changes] == [ChangeKind.REGISTERED, ChangeKind.REFERRED]


def test_files_added_to_a_letter_in_the_system_once(sandbox) -> None:
    from connector.domain.letter import OutgoingAttachment
    from tests.integration.test_soap_adapter import PDF
    base, app = sandbox
    engine = get_sandbox(app).engine
    adapter = legacy(base)
    assert adapter.capabilities.add_attachments
    receipt = adapter.deliver(letter("PK-7009", unit="IT"))
    extra = (OutgoingAttachment("sanad.pdf", "application/pdf", PDF),)
    adapter.add_attachments(receipt.external_id, "PK-7009", extra)
    adapter.add_attachments(receipt.external_id, "PK-7009", extra)  # a retry adds nothing
    held = oa.get_letter(engine, int(receipt.external_id))
    assert [a.name for a in held.attachments] == ["scan.pdf", "photo.png", "sanad.pdf"]
    reference = SoapAdapter.from_options(
        {"wsdl": f"{base}/soap/reference?wsdl", "profile": "reference",
         "username_env": "OA_USER", "password_env": "OA_PASS"}, SECRETS)
    # The reference dialect adds them with AddAttachment, looked up first by ListAttachments.
    assert reference.capabilities.add_attachments
    second = (OutgoingAttachment("fish.pdf", "application/pdf", PDF),)
    reference.add_attachments(receipt.external_id, "PK-7009", second)
    reference.add_attachments(receipt.external_id, "PK-7009", second)
    held = oa.get_letter(engine, int(receipt.external_id))
    assert [a.name for a in held.attachments][-2:] == ["sanad.pdf", "fish.pdf"]
