from pathlib import Path

from connector.config.organizations import load_organizations

ROOT = Path(__file__).resolve().parents[2]
ENV = {"PISHKHAN_SANDBOX_URL": "http://127.0.0.1:8001", "PISHKHAN_VAR_DIR": "/srv/pishkhan/var"}


def test_shipped_demo_organizations_are_valid():
    orgs, problems = load_organizations(ROOT / "config" / "organizations", ENV)
    assert problems == []
    assert {"demo", "demo-portal", "demo-legacy", "demo-odbc", "demo-session"} <= set(orgs)
    assert "Database=/srv/pishkhan/var/sandbox.db;" in orgs["demo-odbc"].adapter.options[
        "connection"]
    demo = orgs["demo"]
    assert demo.approval == "inbox" and orgs["demo-portal"].approval == "portal"
    assert demo.adapter.options["wsdl"] == "http://127.0.0.1:8001/soap/reference?wsdl"
    assert demo.system_unit_for(demo.service("street-repair")) == "CIV"


def test_secretariat_routing_sends_everything_to_the_secretariat(tmp_path):
    text = (ROOT / "config/organizations/demo.toml").read_text(encoding="utf-8")
    (tmp_path / "x.toml").write_text(text.replace('routing = "unit"',
                                                  'routing = "secretariat"'), encoding="utf-8")
    orgs, problems = load_organizations(tmp_path, ENV)
    assert problems == []
    org = orgs["demo"]
    assert org.system_unit_for(org.service("street-repair")) == "SEC"


def write(tmp_path, body):
    (tmp_path / "bad.toml").write_text(body, encoding="utf-8")
    return load_organizations(tmp_path, ENV)


def test_errors_name_file_key_and_fix(tmp_path):
    orgs, problems = write(tmp_path, '''
slug = "bad"
name = "x"
approval = "sometimes"
poll_interval = "soon"
[adapter]
type = "soap"
wsdl = "${NOT_SET}/x"
[[units]]
code = "a"
name = "A"
[[services]]
code = "s"
title = "S"
unit = "nope"
''')
    assert orgs == {}
    by_key = {p.key: p for p in problems}
    assert str(tmp_path / "bad.toml") == by_key["approval"].file
    assert "inbox, portal" in by_key["approval"].fix
    assert "must be a number, not text" == by_key["poll_interval"].message
    assert "write poll_interval = 30" in by_key["poll_interval"].fix
    assert "services[0].unit" in by_key and "a" in by_key["services[0].unit"].fix
    assert "NOT_SET" in by_key["adapter.wsdl"].fix


def test_missing_required_keys(tmp_path):
    _, problems = write(tmp_path, 'slug = "x1"\n')
    keys = {p.key for p in problems}
    assert {"name", "approval", "units", "services", "adapter"} <= keys


def test_broken_toml_is_reported_not_raised(tmp_path):
    _, problems = write(tmp_path, 'slug = "x1\n')
    assert len(problems) == 1 and "TOML" in problems[0].message


def test_duplicate_slugs(tmp_path):
    text = (ROOT / "config/organizations/demo.toml").read_text(encoding="utf-8")
    (tmp_path / "a.toml").write_text(text, encoding="utf-8")
    (tmp_path / "b.toml").write_text(text, encoding="utf-8")
    orgs, problems = load_organizations(tmp_path, ENV)
    assert list(orgs) == ["demo"] and problems[0].key == "slug"


def test_attachment_limits_are_organization_settings(tmp_path):
    text = (ROOT / "config/organizations/demo.toml").read_text(encoding="utf-8")
    (tmp_path / "x.toml").write_text(text.replace("max_files = 5", "max_files = 2")
                                     .replace("max_mb = 10", "max_mb = 3"), encoding="utf-8")
    orgs, problems = load_organizations(tmp_path, ENV)
    assert problems == []
    assert (orgs["demo"].attachments.max_files, orgs["demo"].attachments.max_mb) == (2, 3)
    # Without the table, the defaults.
    (tmp_path / "x.toml").write_text(text.split("[attachments]")[0] + "[[units]]" +
                                     text.split("[[units]]", 1)[1], encoding="utf-8")
    orgs, problems = load_organizations(tmp_path, ENV)
    assert problems == [] and orgs["demo"].attachments.max_files == 5
    (tmp_path / "x.toml").write_text(text.replace("max_mb = 10", "max_mb = 500"),
                                     encoding="utf-8")
    orgs, problems = load_organizations(tmp_path, ENV)
    assert orgs == {} and problems[0].key == "attachments.max_mb"


def test_system_unit_codes_read_as_names():
    orgs, _ = load_organizations(ROOT / "config" / "organizations", ENV)
    demo = orgs["demo"]
    assert demo.unit_name("CIV") == "واحد خدمات شهری"
    assert demo.unit_name("civil") == "واحد خدمات شهری"
    assert demo.unit_name("XYZ") == "XYZ" and demo.unit_name(None) is None


def test_retention_keys_are_checked_and_default(tmp_path):
    from connector.config.retention import RetentionPolicy
    text = (ROOT / "config/organizations/demo.toml").read_text(encoding="utf-8")
    head, tail = text.split("[retention]", 1)
    tail = tail.split("\n\n", 1)[1]
    table = "[retention]\nletters_years = 2\notp_days = 0.5\n\n"
    (tmp_path / "x.toml").write_text(head + table + tail, encoding="utf-8")
    orgs, problems = load_organizations(tmp_path, ENV)
    assert problems == []
    policy = orgs["demo"].retention
    assert policy.letters_years == 2 and policy.otp_days == 0.5
    assert policy.sms_text_days == RetentionPolicy.sms_text_days  # what is not set: the default
    assert policy.period("drafts_hours").total_seconds() == 24 * 3600
    bad = "[retention]\nsms_text_days = -1\ndrafts_hours = \"24\"\nkeep_forever = true\n\n"
    (tmp_path / "x.toml").write_text(head + bad + tail, encoding="utf-8")
    orgs, problems = load_organizations(tmp_path, ENV)
    assert orgs == {}
    assert {p.key for p in problems} == {"retention.sms_text_days", "retention.drafts_hours",
                                         "retention.keep_forever"}
