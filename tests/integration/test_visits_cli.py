"""`pishkhan visits add|list|host`, `gates add|list|revoke`, `blacklist add|list` as a script
runs them."""
from __future__ import annotations

from datetime import datetime, timedelta

from click.testing import CliRunner

from connector.bootstrap import bootstrap
from connector.cli import main
from connector.domain.clock import TEHRAN
from connector.visits import gates
from tests.integration.test_sms_cli import env  # noqa: F401  (fixture)


def run(env, *args):  # noqa: F811
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_a_script_registers_a_visit_scans_it_and_keeps_someone_out(env):  # noqa: F811
    assert run(env, "users", "add", "host1", "--role", "host", "--org", "demo",
               "--password", "long-enough-1").exit_code == 0
    assert run(env, "visits", "host", "host1", "--mobile", "09351112233").exit_code == 0
    today = datetime.now(TEHRAN).replace(tzinfo=None)
    added = run(env, "visits", "add", "demo", "--national-code", "0076229645",
                "--first-name", "علی", "--last-name", "رضایی", "--host", "host1",
                "--from", (today - timedelta(hours=1)).isoformat(timespec="minutes"),
                "--to", (today + timedelta(hours=3)).isoformat(timespec="minutes"))
    assert added.exit_code == 0, added.output
    code = added.output.strip()
    assert len(code) == 12 and code.isdigit()
    bad = run(env, "visits", "add", "demo", "--national-code", "123", "--first-name", "x",
              "--last-name", "y", "--host", "host1")
    assert bad.exit_code == 1 and "national_code" in bad.output

    token = run(env, "gates", "add", "demo", "main-gate").output.strip()
    assert token.startswith("gt_")
    listed = run(env, "gates", "list").output
    assert "main-gate" in listed and token not in listed and "active" in listed

    from connector.config.settings import load_settings
    px = bootstrap(load_settings(env))
    try:
        gate = gates.by_token(px, "main-gate", token)
        assert gates.scan(px, gate, code, "in").allowed
    finally:
        px.close()
    inside = run(env, "visits", "list", "demo", "--inside").output
    assert "علی رضایی" in inside and "inside" in inside

    assert run(env, "blacklist", "add", "demo", "0076229645", "--reason", "درگیری",
               "--until", "2099-12-31").exit_code == 0
    assert "درگیری" in run(env, "blacklist", "list", "demo").output
    refused = run(env, "visits", "add", "demo", "--national-code", "0076229645",
                  "--first-name", "علی", "--last-name", "رضایی", "--host", "host1")
    assert refused.exit_code == 1 and "درگیری" in refused.output

    assert run(env, "gates", "revoke", "demo", "main-gate").exit_code == 0
    assert "revoked" in run(env, "gates", "list", "demo").output
