"""A broken organization file or a broken platform gateway for one-time codes is never silent:
`config check` and /readyz fail, and the portal and the worker refuse to start."""
from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from connector.bootstrap import bootstrap
from connector.cli import main
from connector.store.db import upgrade
from tests.conftest import make_settings


def _env(settings) -> dict[str, str]:
    return {k: v for k, v in settings.env.items() if k.startswith("PISHKHAN_")}


def _ready(settings):
    from portal import create_app
    px = bootstrap(settings)
    try:
        return create_app(px, {"TESTING": True}).test_client().get("/readyz")
    finally:
        px.close()


def test_a_typo_in_the_platform_otp_gateway_fails_config_check_and_readyz(tmp_path):
    settings = make_settings(tmp_path, PISHKHAN_SMS_GATEWAY="kavenegr")
    upgrade(settings.database_url)
    out = CliRunner().invoke(main, ["config", "check"], env=_env(settings))
    assert out.exit_code == 1 and "PISHKHAN_SMS_GATEWAY" in out.output
    assert "kavenegr" in out.output
    resp = _ready(settings)
    assert resp.status_code == 503
    check = resp.get_json()["checks"]["otp_sms"]
    assert not check["ok"] and "PISHKHAN_SMS_GATEWAY" in check["detail"]


def test_a_platform_gateway_of_an_unknown_organization_fails_too(tmp_path):
    settings = make_settings(tmp_path, PISHKHAN_SMS_GATEWAY="org:nowhere")
    upgrade(settings.database_url)
    assert _ready(settings).get_json()["checks"]["otp_sms"]["ok"] is False


def test_an_invalid_organization_file_fails_readyz_and_stops_the_start(tmp_path):
    settings = make_settings(tmp_path)
    upgrade(settings.database_url)
    assert _ready(settings).status_code == 200
    demo = tmp_path / "orgs" / "demo.toml"
    demo.write_text(demo.read_text(encoding="utf-8").replace('approval = "inbox"',
                                                               'approval = "sometimes"'),
                    encoding="utf-8")
    resp = _ready(settings)
    assert resp.status_code == 503
    check = resp.get_json()["checks"]["organizations"]
    assert not check["ok"] and "demo.toml" in check["detail"]
    for command in (["worker"], ["web"]):
        out = CliRunner().invoke(main, command, env=_env(settings))
        assert out.exit_code == 2, out.output
        assert "demo.toml" in out.stderr and "approval" in out.stderr
    # gunicorn loading the app directly refuses too
    code = "import portal.wsgi"
    done = subprocess.run([sys.executable, "-c", code], env={**_env(settings), "PATH": "/usr/bin"},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "demo.toml" in done.stderr
