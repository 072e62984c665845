"""Shared fixtures: settings in a temporary folder, a migrated store, the Flask app and client."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import flask
import pytest

from connector.bootstrap import Pishkhan, bootstrap
from connector.config.settings import Settings, load_settings
from connector.domain import clock
from connector.store.db import upgrade
from tests.openapi_check import CheckedClient

ROOT = Path(__file__).resolve().parent.parent

# Every /api/v1 answer any test receives through Flask's test client is checked against the
# OpenAPI document the app serves (Flask's own hook for a test client class).
flask.Flask.test_client_class = CheckedClient
PG_URL = os.environ.get("PISHKHAN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def make_settings(tmp_path: Path, **env: str) -> Settings:
    orgs = tmp_path / "orgs"
    if not orgs.exists():
        shutil.copytree(ROOT / "config" / "organizations", orgs)
    base = {
        "PISHKHAN_VAR_DIR": str(tmp_path / "var"),
        "PISHKHAN_ORGS_DIR": str(orgs),
        "PISHKHAN_SECRET_KEY": "test-secret",
        "PISHKHAN_SANDBOX_URL": "http://127.0.0.1:9",  # nothing listens: tests start their own
        "PISHKHAN_DEMO_OA_USERNAME": "pishkhan",
        "PISHKHAN_DEMO_OA_PASSWORD": "sandbox-secret",
        "PISHKHAN_RETRY_BASE_SECONDS": "0",
        "PISHKHAN_CALL_RETRY_WAIT": "0",
        "PISHKHAN_ENV_FILE": str(tmp_path / "none.env"),
        # Production's argon2 cost takes 0.3 s a hash; tests hash many passwords.
        "PISHKHAN_ARGON2_TIME_COST": "1",
        "PISHKHAN_ARGON2_MEMORY_KIB": "8192",
    }
    return load_settings({**base, **env})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def px(settings: Settings) -> Iterator[Pishkhan]:
    upgrade(settings.database_url)
    pishkhan = bootstrap(settings)
    yield pishkhan
    pishkhan.close()


@pytest.fixture
def app(px: Pishkhan):
    from portal import create_app
    return create_app(px, {"TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _pg_admin():
    import psycopg
    return psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import uuid
    name = f"pishkhan_t_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_URL.rsplit("/", 1)[0] + "/" + name
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path: Path) -> str:
    """The staging store on both supported databases."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("pg_url")


def _portal_on(tmp_path: Path, url: str) -> Iterator[tuple[flask.Flask, Pishkhan]]:
    from portal import create_app
    upgrade(url)
    px = bootstrap(make_settings(tmp_path, PISHKHAN_DATABASE_URL=url))
    yield create_app(px, {"TESTING": True}), px
    px.close()


@pytest.fixture
def pg_app(tmp_path: Path, pg_url: str) -> Iterator[tuple[flask.Flask, Pishkhan]]:
    """(app, core) on a PostgreSQL store of their own: for many requests at once."""
    yield from _portal_on(tmp_path, pg_url)


@pytest.fixture
def store_app(tmp_path: Path, store_url: str) -> Iterator[tuple[flask.Flask, Pishkhan]]:
    """(app, core) on each supported database in turn."""
    yield from _portal_on(tmp_path, store_url)


MARIA_HOST = os.environ.get("PISHKHAN_TEST_MARIA_HOST", "127.0.0.1")


@pytest.fixture
def maria_url() -> Iterator[str]:
    """A fresh, empty MariaDB database for one test (root, no password), dropped afterwards."""
    import uuid

    import pymysql
    name = f"pishkhan_t_{uuid.uuid4().hex[:10]}"
    admin = pymysql.connect(host=MARIA_HOST, port=3306, user="root", autocommit=True)
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    yield f"mysql+pymysql://root@{MARIA_HOST}:3306/{name}?charset=utf8mb4"
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    admin.close()


@pytest.fixture
def fake_px(tmp_path: Path, store_url: str):
    """A Pishkhan on both databases whose organizations use the in-memory fake system; yields
    it with the fake, to script changes and failures."""
    from tests.fakes import FakeSystem, RecordingGateway
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=store_url)
    upgrade(store_url)
    system, gateway = FakeSystem(), RecordingGateway()
    px = bootstrap(settings, adapters={"demo": system, "demo-portal": system},
                   gateways={"": gateway, "demo": gateway, "demo-portal": gateway})
    yield px, system
    px.close()


def csrf_of(page: str) -> str:
    import re
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def staff_login(client, username: str, password: str = "long-enough-1"):
    """Sign a Flask test client in as a staff member, the way the login form does."""
    page = client.get("/console/login").get_data(as_text=True)
    return client.post("/console/login", data={"csrf_token": csrf_of(page),
                                                "username": username, "password": password})


def staff_logout(client) -> None:
    client.post("/console/logout",
                data={"csrf_token": csrf_of(client.get("/console/").get_data(as_text=True))})


@pytest.fixture
def midday() -> Iterator[None]:
    """Tehran's midday of today on the product's clock, which keeps running from there. Tests
    whose visits last from 00:00 to 23:59 of today would find their window over in the day's
    last minute (seen at 23:59 Tehran)."""
    tehran = clock.now().replace(tzinfo=timezone.utc).astimezone(clock.TEHRAN)
    offset = tehran.replace(hour=12, minute=0, second=0, microsecond=0) - tehran
    with clock.use(lambda: datetime.now(timezone.utc).replace(tzinfo=None) + offset):
        yield
