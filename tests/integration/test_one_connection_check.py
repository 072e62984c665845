"""The admin's «آزمایش اتصال» and `pishkhan adapter check ORG` are one check: the same lines,
the structure check (WSDL operations, tables) and the same dry-run code included."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from connector.bootstrap import bootstrap
from connector.cli import main
from connector.config.settings import load_settings
from connector.people import staff
from connector.store.db import upgrade
from tests.conftest import csrf_of, staff_login
from tests.integration.test_adapter_check import env
from tests.sandbox_server import start_sandbox


def _button(environment: dict[str, str], org: str) -> list[str]:
    from portal import create_app
    settings = load_settings({**environment, "PISHKHAN_ARGON2_TIME_COST": "1",
                              "PISHKHAN_ARGON2_MEMORY_KIB": "8192"})
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        client = create_app(px, {"TESTING": True}).test_client()
        staff.add_user(px, "root", "long-enough-1", role="platform_admin")
        staff_login(client, "root")
        page = client.get(f"/admin/{org}/settings").get_data(as_text=True)
        resp = client.post(f"/admin/{org}/test-connection", data={"csrf_token": csrf_of(page)})
        box = re.search(r'<div id="connection-check".*?</div>', resp.get_data(as_text=True),
                        re.S).group(0)
        return [html.unescape(li) for li in re.findall(r"<li[^>]*>(.*?)</li>", box, re.S)]
    finally:
        px.close()


@pytest.mark.parametrize("org", ["demo", "demo-odbc"])
def test_the_button_and_the_command_say_the_same(tmp_path: Path, org: str) -> None:
    base, _app, stop = start_sandbox(tmp_path)
    try:
        environment = env(tmp_path, base)
        command = CliRunner().invoke(main, ["adapter", "check", org], env=environment)
        button = _button(environment, org)
    finally:
        stop()
    assert command.exit_code == 0, command.output
    def timeless(lines: list[str]) -> list[str]:  # the server's clock moved between the two
        return [re.sub(r"\d{4}-\d\d-\d\dT[\d:.+]+", "TIME", line) for line in lines]
    assert timeless(button) == timeless(command.stdout.splitlines())
    assert any("what the configuration uses is there" in line for line in button)
