"""The ODBC adapter against the sandbox's database through real ODBC drivers: SQLite3 (file),
PostgreSQL Unicode and MariaDB Unicode (the servers on this machine). The servers are reached
through the sandbox's fault-injecting proxy, so commit-then-timeout is the real thing: the
COMMIT takes effect and the connection is cut before its answer."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from adapters.odbc import OdbcAdapter
from connector.bootstrap import bootstrap
from connector.domain.errors import AmbiguousError, ConfigurationError, PermanentError
from connector.domain.letter import ChangeKind
from connector.store.db import upgrade
from sandbox import letters as oa
from sandbox.state import get_sandbox
from tests.acceptance import check_twenty_letters, set_option
from tests.conftest import make_settings
from tests.integration.test_soap_adapter import PDF, PNG, letter, only
from tests.sandbox_server import start_sandbox

DRIVERS = ["sqlite", "postgres", "mariadb"]


class OaDatabase:
    """The sandbox on one database, and the ODBC connection string that reaches it."""

    def __init__(self, kind: str, base: str, app: Flask, connection: str) -> None:
        self.kind, self.base, self.app, self.connection = kind, base, app, connection
        self.engine = get_sandbox(app).engine

    def adapter(self, **options: Any) -> OdbcAdapter:
        return OdbcAdapter.from_options({"connection": self.connection, "timeout": 5,
                                         **options}, {})

    def faults(self, **faults: Any) -> None:
        requests.post(f"{self.base}/api/faults", json=faults, timeout=5).raise_for_status()


def _connection(kind: str, url: str, proxy: tuple[str, int] | None) -> str:
    if kind == "sqlite":
        return f"Driver={{SQLite3}};Database={make_url(url).database};Timeout=5000"
    assert proxy is not None
    host, port = proxy
    name = make_url(url).database
    driver = "PostgreSQL Unicode" if kind == "postgres" else "MariaDB Unicode"
    user = "postgres" if kind == "postgres" else "root"
    return f"Driver={{{driver}}};Server={host};Port={port};Database={name};UID={user}"


@pytest.fixture(params=DRIVERS)
def oa_db(request, tmp_path: Path) -> Iterator[OaDatabase]:
    kind = request.param
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'oa.db'}"
        config: dict[str, Any] = {}
    else:
        url = request.getfixturevalue("pg_url" if kind == "postgres" else "maria_url")
        config = {"DB_PROXY": "127.0.0.1:0"}
    base, app, stop = start_sandbox(tmp_path, DATABASE_URL=url, **config)
    proxy = get_sandbox(app).db_proxy
    yield OaDatabase(kind, base, app, _connection(kind, url, proxy and proxy.address))
    stop()


def test_every_operation(oa_db: OaDatabase) -> None:
    adapter = oa_db.adapter()
    assert adapter.ping().startswith("ok: ")
    assert adapter.check_objects() == []
    receipt = adapter.deliver(letter("PK-3001", unit="IT"))
    held = oa.get_letter(oa_db.engine, int(receipt.external_id))
    assert held.subject == "درخواست مجوز" and held.sender_name == "مریم احمدی"
    assert held.unit_code == "IT" and held.status == "pending"
    assert [(a.name, a.size) for a in held.attachments] == [("scan.pdf", len(PDF)),
                                                           ("photo.png", len(PNG))]
    # Attachments go in as blobs, byte for byte.
    assert oa.get_attachment(oa_db.engine, held.id, held.attachments[1].id)[1] == PNG
    assert adapter.find("PK-3001").external_id == receipt.external_id
    assert adapter.find("PK-0000") is None

    oa.register(oa_db.engine, held.id)
    oa.refer(oa_db.engine, held.id, "FIN", instruction="جهت اقدام")
    oa.answer(oa_db.engine, held.id, "درخواست شما پذیرفته شد.")
    first = adapter.changes("")
    assert [c.kind for c in first.changes] == [ChangeKind.REGISTERED, ChangeKind.REFERRED,
                                               ChangeKind.ANSWERED]
    registered, referred, _ = first.changes
    assert registered.number == oa.get_letter(oa_db.engine, held.id).number
    assert referred.person == "زهرا کریمی" and referred.instruction == "جهت اقدام"
    assert registered.reference == "PK-3001" and registered.external_id == receipt.external_id
    assert adapter.changes(first.cursor).changes == []
    reply = adapter.fetch_reply(receipt.external_id)
    assert reply is not None and reply.text == "درخواست شما پذیرفته شد."
    assert "پاسخ نامه" in reply.content.decode("utf-8")


# A file database has no connection to cut, so this runs on the two servers only.
@pytest.mark.parametrize("oa_db", ["postgres", "mariadb"], indirect=True)
def test_commit_then_timeout_is_ambiguous_and_the_letter_is_found(oa_db: OaDatabase) -> None:
    adapter = oa_db.adapter()
    oa_db.faults(commit_then_timeout=1)
    with pytest.raises(AmbiguousError):
        adapter.deliver(letter("PK-3002"))
    oa_db.faults()
    found = adapter.find("PK-3002")
    assert found is not None
    assert len(oa.get_letter(oa_db.engine, int(found.external_id)).attachments) == 2


def test_unknown_unit_rolls_the_letter_back(oa_db: OaDatabase) -> None:
    with pytest.raises(PermanentError, match="NOPE"):
        oa_db.adapter().deliver(letter("PK-3003", unit="NOPE"))
    assert oa.find_letters(oa_db.engine, reference="PK-3003") == []
    with oa_db.engine.connect() as conn:
        assert conn.scalar(text("SELECT COUNT(*) FROM oa_attachments")) == 0


def test_missing_tables_and_bad_sql_are_configuration_errors(oa_db: OaDatabase,
                                                              tmp_path: Path) -> None:
    with oa_db.engine.begin() as conn:
        conn.execute(text("DROP TABLE oa_replies"))
    adapter = oa_db.adapter()
    assert adapter.check_objects() == ["oa_replies"]
    with pytest.raises(ConfigurationError, match="adapter.connection"):
        adapter.fetch_reply("1")


def test_overlap_and_wide_sweep_read_back(tmp_path: Path) -> None:
    base, app, stop = start_sandbox(tmp_path)
    try:
        engine = get_sandbox(app).engine
        box = OaDatabase("sqlite", base, app,
                         _connection("sqlite", str(engine.url), None))
        adapter = box.adapter(overlap=1, sweep_every=2, sweep=100)
        ids = [oa.deliver(engine, oa.NewLetter(reference=f"R{i}", subject="s")).id
               for i in range(3)]
        for letter_id in ids:
            oa.register(engine, letter_id)
        first = adapter.changes("")
        assert len(first.changes) == 3 and first.cursor == "3/0"
        assert [c.source_id for c in adapter.changes(first.cursor).changes] == ["sandbox:3"]
        second = adapter.changes("3/1")  # the second poll since the last sweep: wide
        assert len(second.changes) == 3 and second.cursor == "3/0"
    finally:
        stop()


def test_windows_wider_than_a_page_are_read_whole(tmp_path: Path) -> None:
    """An overlap or sweep wider than one page, and more new changes than one page, are read
    in one poll instead of stalling on the window's first page."""
    base, app, stop = start_sandbox(tmp_path)
    try:
        engine = get_sandbox(app).engine
        box = OaDatabase("sqlite", base, app, _connection("sqlite", str(engine.url), None))
        adapter = box.adapter(overlap=5, sweep_every=0, page_size=2)
        ids = [oa.deliver(engine, oa.NewLetter(reference=f"W{i}", subject="s")).id
               for i in range(7)]
        for letter_id in ids:
            oa.register(engine, letter_id)
        first = adapter.changes("")
        assert len(first.changes) == 7 and first.cursor == "7/0"
        oa.refer(engine, ids[0], "FIN")
        again = adapter.changes(first.cursor)  # overlap 5 > page size 2: still moves on
        assert again.cursor == "8/1" and "sandbox:8" in [c.source_id for c in again.changes]
    finally:
        stop()


def test_options_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="password_env"):
        OdbcAdapter.from_options({"connection": "Driver={SQLite3};PWD=secret"}, {})
    with pytest.raises(ConfigurationError, match="adapter.conection"):
        OdbcAdapter.from_options({"conection": "x"}, {})
    with pytest.raises(ConfigurationError, match="OA_DB_PASS"):
        OdbcAdapter.from_options({"connection": "Driver={SQLite3};Database=x",
                                  "password_env": "OA_DB_PASS"}, {})
    with pytest.raises(ConfigurationError, match="not a known SQL profile"):
        OdbcAdapter.from_options({"connection": "Driver={SQLite3};Database=x",
                                  "profile": "didgah"}, {})
    # A driver unixODBC does not list is refused when the adapter is built, before any call...
    with pytest.raises(ConfigurationError, match='driver "No Such Driver" is not installed'):
        OdbcAdapter.from_options({"connection": "Driver={No Such Driver};Database=x"}, {})
    # ... and one that goes missing later still fails each call as configuration.
    with pytest.raises(ConfigurationError, match="not installed"):
        OdbcAdapter("Driver={No Such Driver};Database=x").ping()


def test_twenty_letters_for_demo_odbc(tmp_path: Path, pg_url: str) -> None:
    base, app, stop = start_sandbox(tmp_path, DATABASE_URL=pg_url, DB_PROXY="127.0.0.1:0")
    try:
        proxy = get_sandbox(app).db_proxy
        settings = make_settings(tmp_path, PISHKHAN_SANDBOX_URL=base,
                                 PISHKHAN_MAX_ATTEMPTS="40")
        set_option(settings.orgs_dir, "demo-odbc", "connection",
                   f'"{_connection("postgres", pg_url, proxy.address)}"')
        set_option(settings.orgs_dir, "demo-odbc", "delivery_concurrency", "4")
        upgrade(settings.database_url)
        px = bootstrap(settings)
        try:
            check_twenty_letters(px, "demo-odbc", base, app, assignments=None)
        finally:
            px.close()
    finally:
        stop()


def test_files_added_to_a_letter_in_the_system_once(oa_db: OaDatabase) -> None:
    from connector.domain.letter import OutgoingAttachment
    adapter = oa_db.adapter()
    assert adapter.capabilities.add_attachments
    receipt = adapter.deliver(letter("PK-3002", unit="IT"))
    extra = (OutgoingAttachment("sanad.pdf", "application/pdf", PDF),)
    adapter.add_attachments(receipt.external_id, "PK-3002", extra)
    adapter.add_attachments(receipt.external_id, "PK-3002", extra)  # a retry adds nothing
    held = oa.get_letter(oa_db.engine, int(receipt.external_id))
    assert [a.name for a in held.attachments] == ["scan.pdf", "photo.png", "sanad.pdf"]
    assert oa.get_attachment(oa_db.engine, held.id, held.attachments[2].id)[1] == PDF
    # The letter's files, looked up before a follow-up letter: same name and size.
    other = OutgoingAttachment("sanad-2.pdf", "application/pdf", PDF)
    longer = OutgoingAttachment("sanad.pdf", "application/pdf", PDF + b" ")
    assert adapter.attachments_present(receipt.external_id, "PK-3002",
                                       extra + (other, longer)) == (True, False, False)


def test_linked_letter_and_documents_request_on_every_server(oa_db: OaDatabase) -> None:
    """The shipped profile links an objection to the first letter (oa_links) and reads the
    sandbox's request for documents as documents_requested, on SQLite, PostgreSQL and MariaDB."""
    from dataclasses import replace

    from sandbox import followups
    adapter = oa_db.adapter()
    first = adapter.deliver(letter("PK-3101"))
    oa.reject(oa_db.engine, int(first.external_id), "ناقص")
    objection = adapter.deliver(replace(letter("PK-3102", unit="FIN"), relation="objection",
                                        related_letter_id=first.external_id,
                                        related_code="PK-3101"))
    (link,) = followups.links(oa_db.engine, int(objection.external_id))
    assert (link.related_letter_id, link.related_reference, link.kind) == (
        int(first.external_id), "PK-3101", "objection")
    assert oa.get_letter(oa_db.engine, int(objection.external_id)).unit_code == "FIN"
    plain = adapter.deliver(letter("PK-3103"))
    assert followups.links(oa_db.engine, int(plain.external_id)) == []
    followups.request_documents(oa_db.engine, int(plain.external_id), "فیش واریزی")
    asked = only(adapter.changes(""), ChangeKind.DOCUMENTS_REQUESTED)
    assert asked.reference == "PK-3103" and asked.instruction == "فیش واریزی"
