"""Identity look-ups against the sandbox's emulated registry over loopback HTTP, through the
generic HTTP/JSON adapter and its sandbox profile: found, not found, dead, slow, down, wrong
credentials; mobile ownership; the short cache; an audit record for every look-up; and the
security desk filling a visitor's name from the national code."""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

import messages
from connector.bootstrap import bootstrap
from connector.people import staff
from connector.plugins import identity
from connector.store import audit
from connector.store.db import upgrade
from tests.conftest import ROOT, csrf_of, make_settings, staff_login
from tests.sandbox_server import start_sandbox

PROFILE = ROOT / "config" / "identity" / "sandbox.toml"


@pytest.fixture
def registry(tmp_path) -> Iterator[tuple[object, str]]:
    url, _, stop = start_sandbox(tmp_path / "oa")
    fast = tmp_path / "profile.toml"  # the shipped profile with a short timeout
    fast.write_text(PROFILE.read_text(encoding="utf-8").replace("timeout = 5", "timeout = 1"),
                    encoding="utf-8")
    settings = make_settings(tmp_path, PISHKHAN_SANDBOX_URL=url,
                             PISHKHAN_IDENTITY_PROFILE=str(fast))
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        yield px, url
    finally:
        requests.post(f"{url}/registry/faults", json={}, timeout=5)
        px.close()
        stop()


def records(px, action="identity.lookup"):
    return sorted((r for r in audit.search(px, audit.Filters()) if r.action == action),
                  key=lambda r: r.id)  # written order; seq comes with the seal


def test_found_not_found_and_dead_with_a_short_cache_and_an_audit_record_each(registry):
    px, _ = registry
    first = identity.lookup_person(px, "۰۰۷۶۲۲۹۶۴۵", org="demo", purpose="desk")
    assert first.status == "found" and not first.cached
    assert (first.person.first_name, first.person.last_name, first.person.father_name) == \
        ("مریم", "احمدی", "علی")
    again = identity.lookup_person(px, "0076229645", org="demo")
    assert again.status == "found" and again.cached
    missing = identity.lookup_person(px, "0045678911")
    assert missing.status == "not_found" and "پیدا نشد" in messages.render(missing.message)
    dead = identity.lookup_person(px, "0034567895")
    assert dead.status == "found" and not dead.person.alive and "زنده" in messages.render(dead.message)
    wrong_birth = identity.lookup_person(px, "0076229645", birth_date="1399/01/01")
    assert wrong_birth.status == "not_found"
    found = records(px)
    assert len(found) == 5  # cached or not, every look-up is recorded
    assert all("0076229645" not in str(r.detail) for r in found)  # masked
    assert [r.detail.get("cached") for r in found][:2] == [None, True]


def test_slow_down_and_wrong_credentials_say_type_the_name(registry, tmp_path):
    px, url = registry
    requests.post(f"{url}/registry/faults", json={"latency_ms": 1500}, timeout=5)
    started = time.monotonic()
    slow = identity.lookup_person(px, "0012345679")
    assert slow.status == "unavailable" and "از روی کارت" in messages.render(slow.message)
    assert time.monotonic() - started < 4  # two tries of one second, not a hung desk
    requests.post(f"{url}/registry/faults", json={"down": True}, timeout=5)
    down = identity.lookup_person(px, "0012345679")
    assert down.status == "unavailable"
    requests.post(f"{url}/registry/faults", json={}, timeout=5)
    assert identity.lookup_person(px, "0012345679").status == "found"  # failures not cached
    errors = [r.detail.get("error", "") for r in records(px)]
    assert errors[0].startswith("transient: identity registry timed out")
    assert errors[1] == "transient: identity registry answered HTTP 503"

    settings = make_settings(tmp_path, PISHKHAN_SANDBOX_URL=url,
                             PISHKHAN_IDENTITY_PROFILE=str(tmp_path / "profile.toml"),
                             PISHKHAN_DEMO_OA_PASSWORD="wrong")
    other = bootstrap(settings)
    try:
        refused = identity.lookup_person(other, "0012345679")
        assert refused.status == "unavailable"
        assert records(other)[-1].detail["error"].startswith("configuration: identity "
                                                             "registry refused")
    finally:
        other.close()


def test_mobile_ownership(registry):
    px, _ = registry
    assert identity.check_mobile(px, "09121234567", "0076229645").status == "match"
    no = identity.check_mobile(px, "09129999999", "0076229645")
    assert no.status == "mismatch" and "به نام صاحب این کد ملی نیست" in messages.render(no.message)
    assert [r.detail["outcome"] for r in records(px, "identity.mobile")] == ["match",
                                                                             "mismatch"]


def test_without_a_profile_look_ups_are_off(px):
    off = identity.lookup_person(px, "0076229645")
    assert off.status == "off" and "از روی کارت" in messages.render(off.message)


def test_the_security_desk_fills_the_name_from_the_national_code(registry, app_factory=None):
    px, _ = registry
    from portal import create_app
    client = create_app(px, {"TESTING": True}).test_client()
    staff.add_user(px, "guard1", "long-enough-1", role="security", orgs=["demo"])
    staff_login(client, "guard1")
    page = client.get("/visits/demo/walk-in").get_data(as_text=True)
    r = client.post("/visits/demo/walk-in", data={
        "kind": "iranian", "national_code": "0076229645", "purpose": "جلسه", "category": "3",
        "action": "lookup", "csrf_token": csrf_of(page)}, content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and 'value="مریم"' in body and 'value="احمدی"' in body
    assert 'value="علی"' in body and 'value="جلسه"' in body  # nothing typed is lost
    r = client.post("/visits/demo/walk-in", data={
        "kind": "iranian", "national_code": "0045678911", "category": "3", "action": "lookup",
        "csrf_token": csrf_of(page)}, content_type="multipart/form-data")
    assert r.status_code == 400 and "در ثبت احوال پیدا نشد" in r.get_data(as_text=True)


def test_cli_check(registry, tmp_path):
    from click.testing import CliRunner

    from connector.cli import main
    px, url = registry
    env = {k: v for k, v in px.settings.env.items() if k.startswith("PISHKHAN_")}
    done = CliRunner().invoke(main, ["identity", "check", "0076229645", "--mobile",
                                     "09121234567"], env=env)
    assert done.exit_code == 0, done.output
    assert "civil registry: found مریم احمدی" in done.output and "mobile ownership: match" in \
        done.output
    requests.post(f"{url}/registry/faults", json={"down": True}, timeout=5)
    down = CliRunner().invoke(main, ["identity", "check", "0076229645"], env=env)
    assert down.exit_code == 1 and "unavailable" in down.output


def test_the_letter_form_refuses_a_mobile_that_is_not_the_applicants(tmp_path):
    from portal import create_app
    from tests.integration.test_portal_pages import csrf, letter_data, web_login
    url, _, stop = start_sandbox(tmp_path / "oa")
    settings = make_settings(tmp_path, PISHKHAN_SANDBOX_URL=url,
                             PISHKHAN_IDENTITY_PROFILE=str(PROFILE))
    demo = settings.orgs_dir / "demo.toml"
    demo.write_text(demo.read_text(encoding="utf-8") + "\n[identity]\nmobile_check = true\n",
                    encoding="utf-8")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        assert px.orgs["demo"].file.identity.mobile_check
        assert not px.orgs["demo-portal"].file.identity.mobile_check
        client = create_app(px, {"TESTING": True}).test_client()
        web_login(client, px, "09129999999")  # not مریم احمدی's mobile
        r = client.post("/o/demo/letter", data=letter_data(csrf(client, "/o/demo/letter")))
        body = r.get_data(as_text=True)
        assert r.status_code == 400 and "به نام صاحب این کد ملی نیست" in body
        assert "خرابی کوچه ۱۲" in body  # nothing typed is lost
        # The same person in an organization that has not turned the check on.
        r = client.post("/o/demo-portal/letter", data=letter_data(
            csrf(client, "/o/demo-portal/letter"), service=px.orgs["demo-portal"].services[0].code))
        assert r.status_code == 302, r.get_data(as_text=True)[:2000]

        owner = create_app(px, {"TESTING": True}).test_client()
        web_login(owner, px, "09121234567")
        r = owner.post("/o/demo/letter", data=letter_data(csrf(owner, "/o/demo/letter")))
        assert r.status_code == 302
        requests.post(f"{url}/registry/faults", json={"down": True}, timeout=5)
        stranger = create_app(px, {"TESTING": True}).test_client()
        web_login(stranger, px, "09128888888")
        r = stranger.post("/o/demo/letter", data=letter_data(csrf(stranger, "/o/demo/letter")))
        assert r.status_code == 302  # our registry's outage does not turn a citizen away
        outcomes = [r.detail["outcome"] for r in records(px, "identity.mobile")]
        assert outcomes == ["mismatch", "match", "unavailable"]
    finally:
        px.close()
        stop()


def test_the_front_desk_fills_the_applicants_name_and_keeps_the_scans(registry):
    import io
    px, _ = registry
    from portal import create_app
    client = create_app(px, {"TESTING": True}).test_client()
    staff.add_user(px, "desk1", "long-enough-1", role="desk", orgs=["demo"])
    staff_login(client, "desk1")
    page = client.get("/desk/demo/new").get_data(as_text=True)
    assert "پیدا کردن نام از ثبت احوال" in page
    r = client.post("/desk/demo/new", data={
        "applicant_type": "natural", "national_code": "۰۰۱۲۳۴۵۶۷۹", "subject": "آسفالت",
        "mobile": "09351112233", "action": "lookup", "csrf_token": csrf_of(page),
        "attachments": [(io.BytesIO(b"%PDF-1.4\n%%EOF"), "scan.pdf")]},
        content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and 'value="رضا"' in body and 'value="محمدی"' in body
    assert "scan.pdf" in body and 'value="آسفالت"' in body


def test_a_broken_profile_does_not_break_the_desk(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('type = "http"\n[auth]\ntype = "bearer"\ntoken_env = "NOPE"\n', "utf-8")
    settings = make_settings(tmp_path, PISHKHAN_IDENTITY_PROFILE=str(bad))
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        outcome = identity.lookup_person(px, "0076229645")
        assert outcome.status == "unavailable" and "از روی کارت" in messages.render(outcome.message)
        assert records(px)[-1].detail["error"].startswith("configuration: identity profile")
    finally:
        px.close()


def test_a_host_fills_the_name_from_the_registry_too(registry):
    px, _ = registry
    from portal import create_app
    client = create_app(px, {"TESTING": True}).test_client()
    staff.add_user(px, "host1", "long-enough-1", role="host", orgs=["demo"])
    staff_login(client, "host1")
    page = client.get("/visits/demo/new").get_data(as_text=True)
    r = client.post("/visits/demo/new", data={
        "kind": "iranian", "national_code": "0023456787", "start": "10:00", "end": "11:00",
        "action": "lookup", "csrf_token": csrf_of(page)})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and 'value="زهرا"' in body and 'value="10:00"' in body
