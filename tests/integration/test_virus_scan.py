"""Uploads pass a real clamd (EICAR-only signature database) before anything is stored: an
infected file is refused with a Persian message naming it, a scanner that is down says "try
again later" and keeps what was typed — never a 500, never a stored byte."""
from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.clamav import ClamdScanner
from connector.bootstrap import bootstrap
from connector.domain.errors import TransientError
from connector.letters.files import MSG_SCAN_DOWN
from connector.plugins.ports import NoScanner
from connector.store.db import upgrade
from connector.store.models import Letter
from messages import render
from tests.clamd import EICAR, pdf_with, running_clamd
from tests.conftest import make_settings
from tests.integration.test_portal_api import assert_error, submit, token_for
from tests.integration.test_portal_pages import csrf, letter_data, page, web_login

CLEAN_PDF = pdf_with(b"BT /F1 12 Tf (hello) Tj ET")
INFECTED_PDF = pdf_with(EICAR)


@pytest.fixture(scope="module")
def clamd_socket(tmp_path_factory) -> Path:
    with running_clamd(tmp_path_factory.mktemp("clamd")) as sock:
        yield sock


def _px(tmp_path, socket_path):
    settings = make_settings(tmp_path, PISHKHAN_SCANNER="clamav",
                             PISHKHAN_CLAMD_SOCKET=str(socket_path),
                             PISHKHAN_SCANNER_TIMEOUT="10")
    upgrade(settings.database_url)
    return bootstrap(settings)


@pytest.fixture
def scanned(tmp_path, clamd_socket):
    px = _px(tmp_path, clamd_socket)
    yield px
    px.close()


def _client(px):
    from portal import create_app
    return create_app(px, {"TESTING": True}).test_client()


def _stored(px) -> tuple[int, list[Path]]:
    with px.sessions() as s:
        letters = s.scalar(select(func.count()).select_from(Letter))
    blobs = [p for p in px.blobs.root.rglob("*") if p.is_file()] if px.blobs.root.exists() \
        else []
    return letters, blobs


def test_the_adapter_speaks_instream_to_a_real_clamd(clamd_socket):
    scanner = ClamdScanner(socket_path=str(clamd_socket), timeout=10)
    assert scanner.scan(CLEAN_PDF).clean
    verdict = scanner.scan(io.BytesIO(INFECTED_PDF))
    assert not verdict.clean and verdict.signature.startswith("Eicar-Test-Signature")
    assert "ClamAV" in scanner.ping()
    # Bigger than one 64 KB chunk, with EICAR near the end: every chunk is streamed.
    assert not scanner.scan(pdf_with(b"0" * 300_000 + EICAR)).clean


def test_a_scanner_that_is_not_there_is_a_transient_error(tmp_path):
    scanner = ClamdScanner(socket_path=str(tmp_path / "nobody.sock"), connect_timeout=1)
    with pytest.raises(TransientError):
        scanner.scan(CLEAN_PDF)


def test_eicar_in_a_pdf_is_refused_through_the_api_and_nothing_is_stored(scanned):
    client = _client(scanned)
    token = token_for(client, scanned)
    r = submit(client, token, files=[(INFECTED_PDF, "مدارک.pdf")])
    error = assert_error(r, 400, "validation")
    assert "«مدارک.pdf» ویروس دارد" in error["fields"]["attachments"]
    assert _stored(scanned) == (0, [])
    # The same letter with a clean file goes through, scanned by the same clamd.
    r = submit(client, token, files=[(CLEAN_PDF, "مدارک.pdf")])
    assert r.status_code == 201, r.json
    assert _stored(scanned)[0] == 1
    with scanned.sessions() as s:
        from connector.store.models import Attachment
        assert s.scalars(select(Attachment.scanned_by)).all() == ["clamav"]


def test_eicar_on_the_letter_form_keeps_what_was_typed_and_holds_nothing(scanned):
    client = _client(scanned)
    web_login(client, scanned)
    token = csrf(client, "/o/demo/letter")
    data = letter_data(token, action="preview", subject="درخواست پروانه ساخت")
    data["attachments"] = [(io.BytesIO(INFECTED_PDF), "نقشه.pdf"),
                           (io.BytesIO(CLEAN_PDF), "سند.pdf")]
    r = client.post("/o/demo/letter", data=data, content_type="multipart/form-data")
    assert r.status_code == 400
    body = page(r)
    assert "«نقشه.pdf» ویروس دارد" in body and "درخواست پروانه ساخت" in body
    # Only the clean file is held for the next step; the infected one left no byte behind.
    assert "سند.pdf" in body
    stored = {p.name for p in _stored(scanned)[1]}
    import hashlib
    assert hashlib.sha256(INFECTED_PDF).hexdigest() not in stored
    assert hashlib.sha256(CLEAN_PDF).hexdigest() in stored


def test_eicar_at_the_front_desk_is_refused_and_the_form_comes_back(scanned):
    from connector.people import staff
    from tests.conftest import csrf_of, staff_login
    from tests.integration.test_desk import FORM
    client = _client(scanned)
    staff.add_user(scanned, "desk1", "long-enough-1", role="desk", orgs=["demo"])
    staff_login(client, "desk1")
    form_page = client.get("/desk/demo/new").get_data(as_text=True)
    r = client.post("/desk/demo/new", data={
        **FORM, "csrf_token": csrf_of(form_page),
        "attachments": [(io.BytesIO(INFECTED_PDF), "scan-1.pdf")]},
        content_type="multipart/form-data")
    assert r.status_code == 400
    body = page(r)
    assert "«scan-1.pdf» ویروس دارد" in body and FORM["subject"] in body
    assert _stored(scanned) == (0, [])


def test_a_scanner_that_is_down_says_try_later_and_loses_nothing_typed(tmp_path):
    px = _px(tmp_path, tmp_path / "stopped.sock")
    try:
        client = _client(px)
        token = token_for(client, px)
        r = submit(client, token, files=[(CLEAN_PDF, "مدارک.pdf")])
        error = assert_error(r, 503, "try_later")
        assert error["fields"]["attachments"] == render(MSG_SCAN_DOWN)
        assert r.headers["Retry-After"]
        web_login(client, px)
        csrf_token = csrf(client, "/o/demo/letter")
        data = letter_data(csrf_token, action="send", subject="موضوعی که نباید گم شود")
        data["attachments"] = [(io.BytesIO(CLEAN_PDF), "سند.pdf")]
        r = client.post("/o/demo/letter", data=data, content_type="multipart/form-data")
        assert r.status_code == 400
        body = page(r)
        assert "موضوعی که نباید گم شود" in body and "دوباره بفرستید" in body
        assert _stored(px) == (0, [])  # nothing unscanned was kept
    finally:
        px.close()


def test_an_organization_may_name_its_own_scanner(tmp_path, clamd_socket):
    settings = make_settings(tmp_path)
    org_file = settings.orgs_dir / "demo.toml"
    org_file.write_text(org_file.read_text(encoding="utf-8") +
                        f'\n[scanner]\ntype = "clamav"\nsocket = "{clamd_socket}"\n',
                        encoding="utf-8")
    px = bootstrap(make_settings(tmp_path))
    try:
        assert px.problems == []
        assert px.scanner("demo").name == "clamav"
        assert px.scanner("demo-portal").name == NoScanner.name  # the process default
        assert not px.scanner("demo").scan(INFECTED_PDF).clean
    finally:
        px.close()
    shutil.rmtree(tmp_path / "var", ignore_errors=True)
