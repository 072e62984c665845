"""What goes over the wire to PostgreSQL: libpq's own trace of every connection an engine
hands out, to check round trips and statements as the server receives them (SQLAlchemy's
cursor events do not see statements sent straight on the driver)."""
from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event


@contextmanager
def wire_trace(engine: Engine) -> Iterator[list[str]]:
    """Lines of the protocol messages (``F`` sent, ``B`` received, tab-separated) of the
    connections checked out of ``engine`` inside the block; filled when the block ends."""
    from psycopg import pq

    lines: list[str] = []
    files: list[Any] = []

    def start(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        trace = tempfile.TemporaryFile()
        files.append((dbapi_conn, trace))
        dbapi_conn.pgconn.trace(trace.fileno())
        dbapi_conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    def stop(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.pgconn.untrace()

    event.listen(engine, "checkout", start)
    event.listen(engine, "checkin", stop)
    try:
        yield lines
    finally:
        event.remove(engine, "checkout", start)
        event.remove(engine, "checkin", stop)
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

    def start(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.set_trace_callback(ran)

    def stop(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_trace_callback(None)

    event.listen(engine, "checkout", start)
    event.listen(engine, "checkin", stop)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", start)
        event.remove(engine, "checkin", stop)
