"""Statements sent straight to the driver (connector/store/db.execute_alone and driver_execute)
fail as SQLAlchemy's own would, and leave the pool as they found it."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from connector.store.db import driver_execute, execute_alone, make_engine, store_unavailable
from tests.conftest import _pg_admin


@pytest.fixture
def engine(pg_url):
    engine = make_engine(pg_url, pool_size=1, max_overflow=0)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE things (id serial PRIMARY KEY, name text UNIQUE)"))
    yield engine
    engine.dispose()


def names(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(text("SELECT name FROM things ORDER BY id")))


def test_a_refused_row_is_sqlalchemys_integrity_error_without_the_parameters(engine):
    insert = "INSERT INTO things (name) VALUES (%s) RETURNING id"
    assert execute_alone(engine, insert, ("0076229645",)) == 1
    with pytest.raises(IntegrityError) as refused:
        execute_alone(engine, insert, ("0076229645",))
    # The row's values (a citizen's) are not listed; the server's own detail stays.
    assert "SQL parameters hidden" in str(refused.value)
    with engine.connect() as conn, pytest.raises(IntegrityError):
        driver_execute(conn, insert, ("0076229645",))
    assert names(engine) == ["0076229645"]


@pytest.mark.parametrize("failing", [
    ("INSERT INTO things (name) VALUES (%s)", ("\ud800",)),  # not the driver's error
    ("INSERT INTO things (id, name) VALUES (1, %s), (1, %s)", ("a", "b")),  # the server's
])
def test_the_connection_goes_back_to_the_pool_out_of_autocommit_whatever_failed(
        engine, failing):
    with pytest.raises((UnicodeEncodeError, IntegrityError)):
        execute_alone(engine, *failing)
    # The pool's one connection: a rollback still undoes what its transaction wrote.
    with engine.connect() as conn:
        assert conn.connection.driver_connection.autocommit is False
        conn.execute(text("INSERT INTO things (name) VALUES ('rolled back')"))
        conn.rollback()
    assert names(engine) == []


def test_a_write_on_a_connection_not_yet_in_a_transaction_commits_with_it(engine):
    with engine.connect() as conn:
        driver_execute(conn, "INSERT INTO things (name) VALUES (%s)", ("kept",))
        conn.commit()
    with engine.connect() as conn:
        driver_execute(conn, "INSERT INTO things (name) VALUES (%s)", ("dropped",))
        conn.rollback()
    assert names(engine) == ["kept"]


def test_a_database_refusing_connections_is_unavailable_not_a_fault(engine, pg_url):
    """A server starting up, or a database closed to connections: the same 503 «busy» as
    through SQLAlchemy's own connect, not the driver's bare error (a 500)."""
    name = pg_url.rsplit("/", 1)[1]
    engine.dispose()  # the next statement has to connect
    with _pg_admin() as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    try:
        with pytest.raises(OperationalError) as refused:
            execute_alone(engine, "INSERT INTO things (name) VALUES (%s)", ("x",))
        assert store_unavailable(refused.value)
    finally:
        with _pg_admin() as admin:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    assert execute_alone(engine, "INSERT INTO things (name) VALUES (%s) RETURNING id",
                         ("x",)) == 1
