"""Staff accounts: argon2 with old scrypt hashes upgraded at login, lockout, disable and reset,
session expiry, and signing in against a real LDAP server (slapd) started by the test."""
from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select, update

from connector.bootstrap import bootstrap
from connector.people import staff
from connector.store import audit
from connector.store.db import upgrade
from connector.store.models import StaffUser
from tests.conftest import make_settings, staff_login
from tests.ldap_server import USER_DN, slapd


def _scrypt_hash(password: str) -> str:
    # The format the first release stored, made here the way it made it.
    import hashlib
    import secrets
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return f"scrypt${2**14}$8$1${salt.hex()}${dk.hex()}"


def _hash_of(px, username):
    with px.sessions() as s:
        return s.scalars(select(StaffUser.password_hash)
                         .where(StaffUser.username == username)).one()


def test_an_old_scrypt_hash_still_signs_in_and_is_rehashed_with_argon2(px):
    staff.add_user(px, "old", "long-enough-1")
    with px.sessions() as s, s.begin():
        s.execute(update(StaffUser).where(StaffUser.username == "old")
                  .values(password_hash=_scrypt_hash("long-enough-1")))
    assert staff.login(px, "old", "wrong-one-1").user is None
    assert _hash_of(px, "old").startswith("scrypt$")
    assert staff.login(px, "old", "long-enough-1").user is not None
    assert _hash_of(px, "old").startswith("$argon2id$")
    assert staff.login(px, "old", "long-enough-1").user is not None


def test_too_many_wrong_passwords_lock_the_account_until_reset(tmp_path):
    settings = make_settings(tmp_path, PISHKHAN_STAFF_MAX_FAILED_LOGINS="3",
                             PISHKHAN_STAFF_LOCKOUT_SECONDS="600")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        staff.add_user(px, "ali", "long-enough-1")
        assert [staff.login(px, "ali", "nope-nope-1").problem for _ in range(3)] == \
            ["bad", "bad", "locked"]
        # Locked: even the right password is refused now.
        assert staff.login(px, "ali", "long-enough-1").problem == "locked"
        staff.reset_password(px, "ali", "a-new-password")
        assert staff.login(px, "ali", "long-enough-1").problem == "bad"
        assert staff.login(px, "ali", "a-new-password").user is not None
        actions = [r.action for r in audit.search(px, audit.Filters(actor="staff:ali"))]
        assert actions.count("staff.locked") == 1 and actions[0] == "staff.login"
    finally:
        px.close()


def test_a_disabled_account_cannot_sign_in_and_its_session_ends(px, client):
    staff.add_user(px, "c1", "long-enough-1", orgs=["demo-portal"])
    staff_login(client, "c1", "long-enough-1")
    assert client.get("/console/demo-portal").status_code == 200
    staff.disable_user(px, "c1")
    assert client.get("/console/demo-portal").status_code == 302
    assert staff.login(px, "c1", "long-enough-1").user is None
    staff.enable_user(px, "c1")
    assert staff.login(px, "c1", "long-enough-1").user is not None


def test_a_locked_account_is_told_so_in_persian(tmp_path):
    from portal import create_app
    settings = make_settings(tmp_path, PISHKHAN_STAFF_MAX_FAILED_LOGINS="2")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        staff.add_user(px, "ali", "long-enough-1")
        client = create_app(px, {"TESTING": True}).test_client()
        assert "درست نیست" in staff_login(client, "ali", "x-wrong-1").get_data(as_text=True)
        page = staff_login(client, "ali", "x-wrong-2").get_data(as_text=True)
        assert "حساب شما برای مدتی بسته شد" in page
    finally:
        px.close()


def test_an_idle_staff_session_expires(tmp_path):
    from portal import create_app
    settings = make_settings(tmp_path, PISHKHAN_STAFF_IDLE_SECONDS="1")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        staff.add_user(px, "c2", "long-enough-1", orgs=["demo-portal"])
        client = create_app(px, {"TESTING": True}).test_client()
        staff_login(client, "c2", "long-enough-1")
        assert client.get("/console/demo-portal").status_code == 200
        time.sleep(2.1)
        resp = client.get("/console/demo-portal")
        assert resp.status_code == 302 and "/console/login" in resp.headers["Location"]
    finally:
        px.close()


def test_users_cli_adds_lists_disables_and_resets(px, tmp_path):
    from click.testing import CliRunner

    from connector.cli import main
    env = {"PISHKHAN_DATABASE_URL": px.settings.database_url,
           "PISHKHAN_ORGS_DIR": str(px.settings.orgs_dir),
           "PISHKHAN_VAR_DIR": str(px.settings.var_dir), "PISHKHAN_SECRET_KEY": "x",
           "PISHKHAN_ENV_FILE": str(tmp_path / "none.env")}
    run = CliRunner(env=env).invoke
    assert run(main, ["users", "add", "desk1", "--role", "desk", "--org", "demo",
                      "--password", "long-enough-1"]).exit_code == 0
    assert run(main, ["users", "add", "x", "--org", "nowhere", "--password",
                      "long-enough-1"]).exit_code == 1
    assert run(main, ["users", "disable", "desk1"]).exit_code == 0
    listed = run(main, ["users", "list"]).output
    assert re.search(r"desk1\s+desk\s+disabled\s+password\s+demo", listed)
    assert run(main, ["users", "reset-password", "desk1", "--password", "short"]).exit_code == 1
    assert run(main, ["users", "reset-password", "desk1", "--password",
                      "long-enough-2"]).exit_code == 0
    assert run(main, ["users", "enable", "desk1"]).exit_code == 0
    assert staff.login(px, "desk1", "long-enough-2").user is not None
    assert run(main, ["users", "disable", "nobody"]).exit_code == 1
    records = audit.search(px, audit.Filters(action="user."))
    assert {r.actor.split(":")[0] for r in records} == {"cli"}


@pytest.fixture
def directory(tmp_path):
    with slapd(tmp_path / "ldap", {"reza": "directory-pass-1"}) as url:
        yield url


def test_ldap_accounts_sign_in_with_the_directory_password(tmp_path, directory):
    settings = make_settings(tmp_path, PISHKHAN_LDAP_URL=directory,
                             PISHKHAN_LDAP_USER_DN=USER_DN, PISHKHAN_LDAP_TIMEOUT="2")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        staff.add_user(px, "reza", None, role="org_admin", orgs=["demo"], ldap=True)
        assert _hash_of(px, "reza") == staff.LDAP_MARKER
        assert staff.login(px, "reza", "directory-pass-1").user is not None
        assert staff.login(px, "reza", "wrong").problem == "bad"
        assert staff.login(px, "reza", "").problem == "bad"  # not an anonymous bind
        # The stored marker is no password: nothing typed locally matches it.
        assert staff.login(px, "reza", staff.LDAP_MARKER).problem == "bad"
        # A name with DN syntax in it is escaped, not interpreted.
        staff.add_user(px, "reza,ou=people", None, ldap=True)
        assert staff.login(px, "reza,ou=people", "directory-pass-1").problem == "bad"
    finally:
        px.close()


def test_an_unreachable_directory_is_reported_not_counted(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    settings = make_settings(tmp_path, PISHKHAN_LDAP_URL=f"ldap://127.0.0.1:{port}",
                             PISHKHAN_LDAP_USER_DN=USER_DN, PISHKHAN_LDAP_TIMEOUT="1")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        staff.add_user(px, "reza", None, ldap=True)
        assert staff.login(px, "reza", "directory-pass-1").problem == "directory"
        with px.sessions() as s:
            assert s.scalars(select(StaffUser.failed_logins)
                             .where(StaffUser.username == "reza")).one() == 0
    finally:
        px.close()


def test_raising_the_argon2_cost_upgrades_each_hash_at_sign_in(px, tmp_path):
    staff.add_user(px, "ali", "long-enough-1")
    assert "m=8192,t=1" in _hash_of(px, "ali")
    stronger = bootstrap(make_settings(tmp_path, PISHKHAN_ARGON2_TIME_COST="2",
                                       PISHKHAN_ARGON2_MEMORY_KIB="16384"))
    try:
        assert staff.login(stronger, "ali", "long-enough-1").user is not None
        assert "m=16384,t=2" in _hash_of(stronger, "ali")
    finally:
        stronger.close()
