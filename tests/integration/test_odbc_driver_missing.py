"""An organization whose ODBC driver is not installed on this machine: one plain configuration
error — on `pishkhan run`'s banner, the admin dashboard and the organization's poll record —
never a traceback at every poll."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from adapters.odbc.drivers import check_driver
from connector.bootstrap import bootstrap, check_plugins
from connector.delivery import polling
from connector.domain.errors import ConfigurationError
from connector.people import staff
from connector.store.db import upgrade
from connector.store.models import OrgState
from tests.acceptance import set_option
from tests.conftest import make_settings, staff_login
from tests.integration.test_processes import PISHKHAN, free_port, process_env, started, wait_banner

MISSING = "Pishkhan No Such Driver"


def _break_driver(orgs_dir: Path) -> None:
    set_option(orgs_dir, "demo-odbc", "connection",
               f'"Driver={{{MISSING}}};Database=/nowhere/sandbox.db"')
    set_option(orgs_dir, "demo-odbc", "poll_interval", "1")


def test_check_driver_names_the_driver_and_the_package():
    check_driver("Driver={SQLite3};Database=x.db", ["PostgreSQL Unicode", "sqlite3"], [])
    with pytest.raises(ConfigurationError) as err:
        check_driver("Driver={SQLite3};Database=x.db", ["PostgreSQL Unicode"], [])
    assert 'the ODBC driver "SQLite3" is not installed' in err.value.detail
    assert "sudo apt-get install libsqliteodbc" in err.value.detail
    assert "Installed drivers: PostgreSQL Unicode" in err.value.detail
    with pytest.raises(ConfigurationError, match="msodbcsql18"):
        check_driver("DRIVER={ODBC Driver 18 for SQL Server};Server=db", [], [])
    with pytest.raises(ConfigurationError, match='data source "oa" is not defined'):
        check_driver("DSN=oa;Database=x", [], ["other"])
    check_driver("DSN=oa", [], ["OA"])
    with pytest.raises(ConfigurationError, match="does not exist"):
        check_driver("Driver=/nowhere/libodbc-x.so;Database=x", [], [])


@pytest.fixture
def broken_px(tmp_path):
    settings = make_settings(tmp_path)
    _break_driver(settings.orgs_dir)
    upgrade(settings.database_url)
    px = bootstrap(settings)
    yield px
    px.close()


def test_a_missing_driver_is_one_plain_error_in_the_poll_record(broken_px, caplog):
    px = broken_px
    problems = check_plugins(px)
    assert [(p.key, Path(p.file).stem) for p in problems] == [("adapter", "demo-odbc")]
    assert f'the ODBC driver "{MISSING}" is not installed' in problems[0].message
    caplog.set_level(logging.DEBUG)
    for _ in range(3):
        assert polling.poll_org(px, "demo-odbc") == 0  # no exception reaches the scheduler
    with px.sessions() as s:
        state = s.get(OrgState, "demo-odbc")
        assert state.last_poll_error.startswith("configuration: the ODBC driver")
        assert state.last_poll_ok_at is None
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "demo-odbc" in warnings[0].getMessage()
    assert not any(r.exc_info for r in caplog.records)


def test_the_admin_dashboard_names_the_organization(broken_px):
    from portal import create_app
    client = create_app(broken_px, {"TESTING": True}).test_client()
    staff.add_user(broken_px, "root", "long-enough-1", role="platform_admin")
    staff_login(client, "root")
    page = client.get("/admin/").get_data(as_text=True)
    assert page.count('class="org-problems"') == 1
    said = f"the ODBC driver &#34;{MISSING}&#34; is not installed"  # as HTML escapes quotes
    assert 'data-org="demo-odbc"' in page and said in page
    assert said in client.get("/admin/demo-odbc").get_data(as_text=True)


def test_pishkhan_run_says_it_once_on_the_banner_and_never_prints_a_traceback(tmp_path):
    env = process_env(tmp_path, PISHKHAN_DEMO="true", PISHKHAN_WEB_PORT=str(free_port()),
                      PISHKHAN_SANDBOX_PORT=str(free_port()), PISHKHAN_WEB_WORKERS="1")
    _break_driver(Path(env["PISHKHAN_ORGS_DIR"]))
    log = tmp_path / "run.log"
    with started([*PISHKHAN, "run"], env, log) as proc:
        wait_banner(proc, log)
        time.sleep(5)  # demo-odbc's poll comes every second: several polls fail meanwhile
        assert proc.poll() is None
    output = log.read_text()
    banner = [line for line in output.splitlines() if "NOT WORKING" in line]
    assert len(banner) == 1, output
    assert "(demo-odbc)" in banner[0] and f'"{MISSING}" is not installed' in banner[0]
    assert "Traceback" not in output, output
    assert output.count("poll demo-odbc failed") <= 1, output
