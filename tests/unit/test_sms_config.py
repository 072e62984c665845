"""The [sms] table: one gateway or several with priorities, quiet hours and rate limits."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

from connector.config.organizations import load_organizations
from connector.domain.clock import local
from connector.outbox.policy import QuietHours

ROOT = Path(__file__).resolve().parents[2]
ENV = {"PISHKHAN_SANDBOX_URL": "http://127.0.0.1:8001", "PISHKHAN_SMS_QUIET_HOURS": "23:00-06:30"}


def load(tmp_path, sms: str):
    text = (ROOT / "config/organizations/demo.toml").read_text(encoding="utf-8")
    (tmp_path / "demo.toml").write_text(text.replace('[sms]\ntype = "file"\n', sms),
                                        encoding="utf-8")
    return load_organizations(tmp_path, ENV)


def test_the_single_file_form_is_one_gateway_and_takes_the_platform_quiet_hours(tmp_path):
    orgs, problems = load(tmp_path, '[sms]\ntype = "file"\npath = "x.jsonl"\n')
    assert problems == []
    policy = orgs["demo"].sms_policy
    assert [(g.name, g.type, g.options) for g in policy.gateways] == [
        ("file", "file", {"path": "x.jsonl"})]
    assert policy.quiet_hours == QuietHours(23 * 60, 6 * 60 + 30)


def test_several_gateways_are_ordered_by_priority_with_their_own_options(tmp_path):
    orgs, problems = load(tmp_path, """[sms]
quiet_hours = ""
rate_per_minute = 30
[[sms.gateways]]
type = "magfa"
priority = 2
domain = "magfa"
[[sms.gateways]]
type = "kavenegar"
name = "kave"
priority = 1
otp_template = "otp"
sender = "1000"
""")
    assert problems == []
    policy = orgs["demo"].sms_policy
    assert [g.name for g in policy.gateways] == ["kave", "magfa"]
    assert policy.gateways[0].otp_template == "otp"
    assert policy.gateways[0].options == {"sender": "1000"}
    assert policy.quiet_hours is None and policy.rate_per_minute == 30


def test_bad_sms_tables_name_the_key_and_the_fix(tmp_path):
    _, problems = load(tmp_path, """[sms]
quiet_hours = "late"
rate_per_minute = 0
[[sms.gateways]]
type = "file"
[[sms.gateways]]
type = "file"
[[sms.gateways]]
priority = 3
""")
    keys = {p.key for p in problems}
    assert {"sms.quiet_hours", "sms.rate_per_minute", "sms.gateways",
            "sms.gateways[2].type"} <= keys
    assert all(p.fix for p in problems)


def test_quiet_hours_wrap_past_midnight_in_tehran_time():
    quiet = QuietHours.parse("22:00-07:00")
    at = datetime(2026, 11, 22, 19, 0)  # 22:30 in Tehran
    release = quiet.release_at(at)
    assert local(release).strftime("%d %H:%M") == "23 07:00"
    assert quiet.release_at(datetime(2026, 11, 22, 4, 0)) is None  # 07:30
    day = QuietHours.parse("12:00-13:00")
    assert local(day.release_at(datetime(2026, 11, 22, 8, 45))).strftime("%H:%M") == "13:00"
    assert QuietHours.parse("") is None
