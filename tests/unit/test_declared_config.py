"""Configuration is declared once (pydantic models): the organization file, its JSON Schema
and the process settings, with errors that name the file or variable, the key and the fix."""
from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from connector.config.organizations import load_organizations
from connector.config.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
ENV = {"PISHKHAN_SANDBOX_URL": "http://127.0.0.1:8001", "PISHKHAN_VAR_DIR": "/srv/pishkhan/var"}
DEMO = (ROOT / "config/organizations/demo.toml").read_text(encoding="utf-8")


def test_a_misspelled_key_a_wrong_type_and_an_out_of_range_number_give_three_messages(tmp_path):
    text = (DEMO.replace('routing = "unit"', 'routeing = "unit"')
            .replace("delivery_concurrency = 2", 'delivery_concurrency = "two"')
            .replace("max_mb = 10 ", "max_mb = 500 "))
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    orgs, problems = load_organizations(tmp_path, ENV)
    assert orgs == {}
    by_key = {p.key: p for p in problems}
    assert len(problems) == 3
    assert set(by_key) == {"routeing", "delivery_concurrency", "attachments.max_mb"}
    assert all(p.file == str(path) for p in problems)
    typo, wrong_type, too_big = (by_key["routeing"], by_key["delivery_concurrency"],
                                 by_key["attachments.max_mb"])
    assert typo.message == "is not a key this table knows"
    assert typo.fix == "did you mean routing? rename it, or remove it"
    assert wrong_type.message == "must be a whole number, not text"
    assert wrong_type.fix == "use a number at least 1 and at most 64; " \
                             "write delivery_concurrency = 4"
    assert too_big.message == "is 500, but must be at most 50"
    assert too_big.fix == "use a number at least 1 and at most 50; write max_mb = 10"
    # As `pishkhan config check` prints them: file, key, what is wrong — the fix.
    assert str(too_big) == f"{path}: attachments.max_mb: is 500, but must be at most 50 — " \
                           "use a number at least 1 and at most 50; write max_mb = 10"


def test_nested_tables_name_their_place(tmp_path):
    (tmp_path / "demo.toml").write_text(DEMO.replace('system_code = "CIV"', 'sytem_code = "CIV"')
                                        .replace("duration_days = 15", "duration_days = 0"),
                                        encoding="utf-8")
    _, problems = load_organizations(tmp_path, ENV)
    by_key = {p.key: p for p in problems}
    assert by_key["units[1].sytem_code"].fix == "did you mean system_code? rename it, or remove it"
    assert by_key["services[1].duration_days"].message == "is 0, but must be at least 1"


def schema() -> dict:
    result = CliRunner().invoke(__import__("connector.cli", fromlist=["main"]).main,
                                ["config", "schema"],
                                env={"PISHKHAN_ENV_FILE": "/nonexistent.env"})
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_schema_validates_every_shipped_organization_file():
    validator = jsonschema.Draft202012Validator(schema())
    jsonschema.Draft202012Validator.check_schema(validator.schema)
    files = sorted((ROOT / "config/organizations").glob("*.toml"))
    assert len(files) >= 4
    for path in files:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], path.name


def test_the_schema_refuses_what_the_loader_refuses():
    validator = jsonschema.Draft202012Validator(schema())
    data = tomllib.loads(DEMO)
    assert validator.is_valid(data)
    for bad in ({**data, "routeing": "unit"}, {**data, "approval": "sometimes"},
                {**data, "attachments": {"max_mb": 500}}, {**data, "units": []},
                {**data, "delivery_concurrency": "two"}):
        assert not validator.is_valid(bad)


def test_the_schema_checks_adapter_and_gateway_options_by_type():
    validator = jsonschema.Draft202012Validator(schema())
    data = tomllib.loads(DEMO)
    soap = data["adapter"]
    assert not validator.is_valid({**data, "adapter": {**soap, "timout": 5}})
    assert not validator.is_valid({**data, "adapter": {**soap, "wsse": "kerberos"}})
    assert not validator.is_valid({**data, "adapter": {"type": "odbc", "wsdl": "x"}})
    assert validator.is_valid({**data, "adapter": {"type": "odbc", "connection": "DSN=oa"}})
    kavenegar = {"type": "kavenegar", "priority": 1, "api_key_env": "K", "sender": "1000"}
    assert validator.is_valid({**data, "sms": {"gateways": [kavenegar]}})
    assert not validator.is_valid({**data, "sms": {"gateways": [{**kavenegar, "sendr": "1"}]}})
    assert not validator.is_valid({**data, "sms": {"type": "file", "pth": "x.jsonl"}})
    soap = {"type": "melipayamak-soap", "priority": 1, "username_env": "U",
            "password_env": "P", "sender": "50004001",
            "receive_url": "https://api.payamak-panel.com/post/receive.asmx"}
    ippanel = {"type": "ippanel", "priority": 2, "api_key_env": "K", "sender": "+983000505"}
    assert validator.is_valid({**data, "sms": {"gateways": [soap, ippanel]}})
    assert not validator.is_valid({**data, "sms": {"gateways": [{**soap, "receive_url": 5}]}})
    assert not validator.is_valid({**data, "sms": {"gateways": [{**ippanel, "inbox": "x"}]}})
    assert validator.is_valid({**data, "sms": {"path": "x.jsonl", "quiet_hours": ""}})


def test_settings_errors_name_the_variable_and_the_fix(tmp_path):
    with pytest.raises(SettingsError) as caught:
        load_settings({"PISHKHAN_WEB_PORT": "80a", "PISHKHAN_DIGEST_HOUR": "25",
                       "PISHKHAN_LOG_FORMAT": "xml", "PISHKHAN_RATELIMIT_OTP": "lots",
                       "PISHKHAN_ENV_FILE": str(tmp_path / "none.env")})
    assert caught.value.lines == [
        "PISHKHAN_WEB_PORT: is '80a', but must be a whole number — write PISHKHAN_WEB_PORT=8000",
        "PISHKHAN_LOG_FORMAT: is 'xml', which is not one of the choices — use one of: text or "
        "json",
        "PISHKHAN_DIGEST_HOUR: is '25', but must be at most 23 — write PISHKHAN_DIGEST_HOUR=7",
        "PISHKHAN_RATELIMIT_OTP: 'lots' is not a limit like \"20 per 10 minutes\" — write "
        "PISHKHAN_RATELIMIT_OTP=20 per 10 minutes",
    ]


def test_settings_defaults_and_the_env_file_under_the_environment(tmp_path):
    env_file = tmp_path / "x.env"
    env_file.write_text("PISHKHAN_WEB_PORT=9100\nPISHKHAN_OTP_PER_WINDOW=7\n"
                        "PISHKHAN_DATABASE_URL=\n")
    s = load_settings({"PISHKHAN_VAR_DIR": str(tmp_path / "var"), "PISHKHAN_WEB_PORT": "9200",
                       "PISHKHAN_ENV_FILE": str(env_file), "PISHKHAN_SECRET_KEY": "k"})
    assert s.web_port == 9200 and s.otp_per_window == 7  # the environment wins over .env
    assert s.database_url == f"sqlite:///{tmp_path / 'var' / 'pishkhan.db'}"  # empty = default
    assert s.public_url == "http://127.0.0.1:9200"
    assert (s.ratelimit_otp, s.ratelimit_submit, s.otp_max_tries) == (
        "20 per 10 minutes", "30 per hour", 5)


def test_the_example_env_names_every_setting():
    from connector.config.settings import Settings
    text = (ROOT / "config/pishkhan.example.env").read_text(encoding="utf-8")
    missing = [Settings.variable(f) for f in Settings.model_fields
               if f != "env" and Settings.variable(f) not in text]
    assert missing == []


def test_a_table_written_as_a_value_and_a_free_form_table_get_their_own_fixes(tmp_path):
    text = DEMO.replace("[attachments]\nmax_files = 5\nmax_mb = 10", "[x]\ny = 1\n#")
    text = text.replace('[sms]\ntype = "file"', '[sms]\ntype = "file"\n[sms.texts]\nregistered = 5')
    (tmp_path / "demo.toml").write_text("attachments = 5\n" + text, encoding="utf-8")
    _, problems = load_organizations(tmp_path, ENV)
    by_key = {p.key: p for p in problems}
    assert by_key["attachments"].message == "must be a table: [attachments]"
    assert by_key["sms.texts.registered"].fix == \
        'write [sms.texts] with lines like registered = "متن"'
    assert by_key["x"].fix.startswith("remove it; this table knows: slug, name")
