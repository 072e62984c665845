"""`pishkhan adapter check ORG` for every demo organization: one plain line per check, exit 0
against the running sandbox, a clear failure and exit 1 with the sandbox stopped."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.cli import main
from tests.conftest import ROOT
from tests.sandbox_server import start_sandbox

ORGS = ["demo", "demo-portal", "demo-legacy", "demo-odbc", "demo-session"]


def env(tmp_path: Path, sandbox_url: str) -> dict[str, str]:
    orgs = tmp_path / "orgs"
    if not orgs.exists():
        shutil.copytree(ROOT / "config" / "organizations", orgs)
    return {"PISHKHAN_VAR_DIR": str(tmp_path), "PISHKHAN_ORGS_DIR": str(orgs),
            "PISHKHAN_SECRET_KEY": "x", "PISHKHAN_SANDBOX_URL": sandbox_url,
            "PISHKHAN_DEMO_OA_USERNAME": "pishkhan", "PISHKHAN_DEMO_OA_PASSWORD": "sandbox-secret",
            "PISHKHAN_ENV_FILE": str(tmp_path / "none.env"), "PISHKHAN_LOG_LEVEL": "ERROR"}


@pytest.mark.parametrize("org", ORGS)
def test_check_passes_against_the_sandbox(tmp_path: Path, org: str) -> None:
    # The sandbox keeps its database where demo-odbc looks for it: PISHKHAN_VAR_DIR/sandbox.db.
    base, _app, stop = start_sandbox(tmp_path)
    try:
        result = CliRunner().invoke(main, ["adapter", "check", org], env=env(tmp_path, base))
    finally:
        stop()
    lines = result.stdout.splitlines()  # stderr may carry the sandbox's access log
    assert result.exit_code == 0, result.output
    assert len(lines) == 4 and all(line.startswith("ok   ") for line in lines), lines
    assert "dry run" in lines[-1]


@pytest.mark.parametrize("org", ORGS)
def test_check_fails_clearly_with_the_sandbox_stopped(tmp_path: Path, org: str) -> None:
    base, _app, stop = start_sandbox(tmp_path)
    stop()
    if org == "demo-odbc":
        (tmp_path / "sandbox.db").unlink()  # its "server" is the file: take it away
    result = CliRunner().invoke(main, ["adapter", "check", org], env=env(tmp_path, base))
    assert result.exit_code == 1, result.output
    last = result.stdout.splitlines()[-1]
    assert last.startswith("FAIL ") and "Traceback" not in result.output
    assert "cannot connect" in last
    assert not (tmp_path / "sandbox.db").exists() or org != "demo-odbc"  # no empty file made


def test_unknown_organization(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["adapter", "check", "nope"],
                                env=env(tmp_path, "http://127.0.0.1:9"))
    assert result.exit_code == 1 and result.output.startswith("FAIL configuration")


def test_exchange_is_shown_with_the_password_masked(tmp_path: Path) -> None:
    base, _app, stop = start_sandbox(tmp_path)
    try:
        result = CliRunner().invoke(main, ["adapter", "check", "demo-legacy", "--exchange"],
                                    env=env(tmp_path, base))
    finally:
        stop()
    assert result.exit_code == 0, result.output
    assert "GetLetterWithFilter" in result.output and "<ns0:Password>***" in result.output
    assert "sandbox-secret" not in result.output
