"""`pishkhan adapter draft WSDL_URL`: every operation of each of the sandbox's WSDLs with its
fields, a [session] block where one looks like a login — and a drafted skeleton, completed by
configuration only, is a working profile for the session dialect."""
from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.soap import SoapAdapter
from connector.cli import main
from sandbox import legacy, session
from sandbox import letters as oa
from sandbox.state import get_sandbox
from tests.integration.test_soap_adapter import SECRETS, letter
from tests.sandbox_server import start_sandbox

REFERENCE_OPERATIONS = {"DeliverLetter": ["reference", "subject", "attachments"],
                        "FindLetter": ["reference"], "GetChanges": ["cursor", "max"],
                        "GetReply": ["letterId"], "Ping": []}


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[str, object]]:
    base, app, stop = start_sandbox(tmp_path)
    yield base, app
    stop()


def draft(url: str) -> str:
    result = CliRunner().invoke(main, ["adapter", "draft", url],
                                                env={"PISHKHAN_LOG_LEVEL": "ERROR"})
    assert result.exit_code == 0, (result.output, result.stderr)
    return result.stdout


@pytest.mark.parametrize("dialect", ["reference", "legacy", "session"])
def test_every_operation_with_its_fields(sandbox, dialect: str) -> None:
    base, _ = sandbox
    text = draft(f"{base}/soap/{dialect}?wsdl")
    tomllib.loads(text)  # a valid TOML file from the start
    if dialect == "reference":
        expected = REFERENCE_OPERATIONS
    else:
        module = legacy if dialect == "legacy" else session
        expected = {name: [n for n, _ in op.inputs] for name, op in module.OPERATIONS.items()}
    for name, fields in expected.items():
        match = re.search(rf"^# === {name} .*\n#   in:  (.*)\n#   out: (.*)$", text, re.M)
        assert match, f"{name} is not listed"
        for field in fields:
            assert re.search(rf"\b{field}[.:]", match.group(1)), (name, field, match.group(1))
    has_session = "[session]" in text
    assert has_session == (dialect == "session")


def test_unreadable_wsdl_fails_plainly(sandbox) -> None:
    base, _ = sandbox
    result = CliRunner().invoke(main, ["adapter", "draft",
                                                       f"{base}/api/health"])
    last = result.stderr.strip().splitlines()[-1]  # (the sandbox logs here too)
    assert result.exit_code == 1 and last.startswith("FAIL ") and "not a usable WSDL" in last
    assert "Traceback" not in result.stderr and result.stdout == ""


def uncomment(text: str, operation: str, table: str) -> str:
    """The drafted step block of ``operation``, uncommented under ``table`` — what an admin
    does in an editor — without the outputs left for them to name."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith(f"# === {operation} "))
    block = []
    for line in lines[start + 3:]:
        if not line.startswith("# "):
            break
        line = line[2:]
        if line.startswith("? = "):
            continue
        block.append(re.sub(r"^\[(\[?)\w+\.", rf"[\1{table}.", line))
    return "\n".join(block)


def test_a_drafted_skeleton_completed_by_configuration_works(sandbox, tmp_path: Path) -> None:
    base, app = sandbox
    text = draft(f"{base}/soap/session?wsdl")
    assert "[params.organ_id]" in text and 'OrganId = "{params.organ_id}"' in text
    text = text.replace('name = "vendor"', 'name = "our-oa"').replace(
        "relogin_codes = []", 'relogin_codes = ["1"]')
    add_letter = uncomment(text, "AddLetter", "deliver").replace(
        'SenderType = ""    # int: map it', 'SenderType = "{applicant_type|map(sender)}"').replace(
        'LetterType = ""    # int: map it', "LetterType = 2")
    attach = uncomment(text, "AddAttachment", "deliver").replace(
        'call = "AddAttachment"', 'call = "AddAttachment"\nfor_each = "attachments"')
    register = uncomment(text, "RegisterLetter", "deliver").replace(
        'call = "RegisterLetter"', 'call = "RegisterLetter"\nwhen = "register"') + \
        '\nnumber = "LetterNo"\nnumber_date = "LetterDate"'
    search = uncomment(text, "SearchLetter", "find") + '\nfound = "LetterId"'
    status = uncomment(text, "GetLetterStatus", "find").replace(
        'LetterId = ""    # long: map it', 'LetterId = "{letter_id|int}"') + \
        '\nstatus = "StatusCode"'
    ping = uncomment(text, "GetServerTime", "ping") + '\nserver_time = "Now"'
    completed = "\n".join([
        text, "[maps.sender]", "natural = 1", "legal = 2", "",
        add_letter, attach, register,
        "[find]", 'codes = { "3" = "not-found" }', search, status,
        "[find.statuses]", '"1" = "delivered"', '"2" = "registered"', '"3" = "rejected"',
        ping])
    path = tmp_path / "our-oa.toml"
    path.write_text(completed, "utf-8")
    adapter = SoapAdapter.from_options(
        {"wsdl": f"{base}/soap/session?wsdl", "profile": str(path), "wsse": "none",
         "username_env": "OA_USER", "password_env": "OA_PASS", "register_on_delivery": True,
         "params": {"organ_id": 1}},  # the drafted [params.organ_id], given per organization
        SECRETS)
    assert [c.ok for c in adapter.check()] == [True, True, True]
    receipt = adapter.deliver(dataclasses.replace(letter("PK-9001"),
                                                  submitted_at=datetime(2026, 11, 29, 9)))
    held = oa.get_letter(get_sandbox(app).engine, int(receipt.external_id))
    assert [a.name for a in held.attachments] == ["scan.pdf", "photo.png"]
    assert held.number and receipt.letter_number == held.number
    assert adapter.find("PK-9001").status == "registered"
