"""What the database itself received: libpq's trace of the protocol (PostgreSQL) and SQLite's
trace of the statements it ran, on every connection an engine hands out. They check round
trips and statements where SQLAlchemy's cursor events cannot: statements sent straight on the
driver (connector/store/db.driver_execute, execute_alone) do not pass through them."""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def _on_each_connection(engine: Engine, start: Callable[[Any], None],
                        stop: Callable[[Any], None]) -> Iterator[None]:
    """``start(driver connection)`` at each checkout inside the block, ``stop`` at checkin."""
    def checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        start(dbapi_conn)

    def checkin(dbapi_conn: Any, _record: Any) -> None:
        stop(dbapi_conn)

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)


@contextmanager
def wire_trace(engine: Engine) -> Iterator[list[str]]:
    """Lines of the protocol messages (``F`` sent, ``B`` received, tab-separated) of the
    connections checked out of ``engine`` inside the block; filled when the block ends."""
    from psycopg import pq

    lines: list[str] = []
    files: list[Any] = []

    def start(dbapi_conn: Any) -> None:
        trace = tempfile.TemporaryFile()
        files.append((dbapi_conn, trace))
        dbapi_conn.pgconn.trace(trace.fileno())
        dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    try:
        with _on_each_connection(engine, start, lambda conn: conn.pgconn.untrace()):
            yield lines
    finally:
        for conn, trace in files:
            conn.pgconn.untrace()  # one still checked out
            trace.seek(0)
            lines.extend(trace.read().decode(errors="replace").splitlines())
            trace.close()


@contextmanager
def sqlite_statements(engine: Engine) -> Iterator[list[str]]:
    """The statements SQLite ran (its own trace, with their values, BEGIN and COMMIT
    included) on the connections checked out of ``engine`` inside the block. SQLite reports a
    statement once more for each trigger it fires (the SMS tallies'): those repeats are left
    out."""
    seen: list[str] = []

    def ran(statement: str) -> None:
        if not seen or seen[-1] != statement:
            seen.append(statement)

    with _on_each_connection(engine, lambda conn: conn.set_trace_callback(ran),
                             lambda conn: conn.set_trace_callback(None)):
        yield seen
