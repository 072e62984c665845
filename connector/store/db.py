"""Engine, sessions, schema migrations and claiming work rows safely across workers."""
from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Select, create_engine, event, exc, text
from sqlalchemy.orm import Session, sessionmaker

from connector.store import planner_stats

T = TypeVar("T")
MIGRATIONS = Path(__file__).with_name("migrations")
# A pooled connection idle at least this long is checked with a round trip before it is used
# (PISHKHAN_DB_PING_AFTER_IDLE).
PING_AFTER_IDLE = 1.0


def make_engine(url: str, ping_after_idle: float = PING_AFTER_IDLE, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # WAL lets the web process read while the worker writes; foreign keys are off by
            # default in SQLite.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
        return engine
    # Worker threads (SMS sends, deliveries) each hold a connection for a moment; past the
    # pool size every checkout would open and close a fresh server connection.
    kwargs.setdefault("pool_size", 16)
    _cache_long_statements()
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine, ping_after_idle)
    event.listen(engine, "handle_error", _server_ended_the_connection)
    return engine


# What libpq reports when the server ended the session (a restart, pg_terminate_backend, an
# idle timeout); with psycopg 3 these may come while the connection still looks open.
_ENDED = ("terminating connection", "server closed the connection", "connection is closed",
          "could not send data to server", "could not receive data from server")


def _server_ended_the_connection(context: exc.ExceptionContext) -> None:
    orig = context.original_exception
    if (not context.is_disconnect and isinstance(orig, context.dialect.loaded_dbapi.Error)
            and _farewell(orig)):
        context.is_disconnect = True


def _farewell(err: BaseException) -> bool:
    """psycopg 3 marks a connection broken only once libpq has seen the socket close. When
    the server's farewell (FATAL 57P01) is read while a new statement is being sent, the send
    fails with that farewell and "another command is already in progress" and the connection
    still reads as open: SQLAlchemy would put it back in the pool, and the next request on it
    would fail the same way. Such a failure is a disconnect: the pool is renewed."""
    state = str(getattr(err, "sqlstate", None) or "")
    said = str(err).lower()
    return state.startswith(("08", "57P0")) or any(m in said for m in _ENDED)


def _disconnect(engine: Engine, err: Exception, dbapi_conn: Any) -> bool:
    """SQLAlchemy's own judgement, for the paths that run on the driver directly."""
    return engine.dialect.is_disconnect(err, dbapi_conn, None) or (
        engine.dialect.name == "postgresql" and _farewell(err))


def _ping_when_idle(engine: Engine, seconds: float) -> None:
    """Check a pooled connection with a round trip before use only if it sat idle ``seconds``
    or more. SQLAlchemy's ``pool_pre_ping`` checks at every checkout: a round trip more on
    every intake, delivery step and SMS departure, where under load connections come back
    within milliseconds. A connection the server dropped while it sat idle (a restart, a
    firewall's idle timeout) is found here and replaced, as with ``pool_pre_ping``. One it
    dropped within ``seconds`` of its last use fails the statement sent on it; SQLAlchemy then
    renews the whole pool, so only the operations already under way at that moment fail."""

    def _used(_dbapi: Any, record: Any, *_rest: Any) -> None:
        record.info["pishkhan_used_at"] = time.monotonic()

    event.listen(engine, "connect", _used)
    event.listen(engine, "checkin", _used)

    @event.listens_for(engine, "checkout")
    def _check(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        used = record.info.get("pishkhan_used_at")
        if used is not None and time.monotonic() - used < seconds:
            return
        dialect = engine.dialect
        try:
            alive = dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as err:
            if not _disconnect(engine, err, dbapi_conn):
                raise
            alive = False
        if not alive:
            # As pool_pre_ping does: a dropped connection means the others may be gone too,
            # so the pool renews them all and this checkout gets a fresh one.
            raise exc.InvalidatePoolError("the database server closed an idle connection")


# SQLSTATE classes of a database that cannot do it now, rather than of a wrong request:
# connection exception, transaction rollback (deadlock, serialization), insufficient
# resources, object in use (a lock not had in time), operator intervention (shutdown,
# cancelled on timeout).
_TRY_AGAIN_CLASSES = ("08", "40", "53", "55", "57")


def store_unavailable(error: exc.OperationalError) -> bool:
    """The database could not answer now (gone, restarting, overloaded, locked past its
    timeout, a deadlock): the same request may succeed in a moment. False for a fault of our
    own (a missing table, wrong SQL), which should surface as one."""
    if error.connection_invalidated:
        return True
    state = getattr(error.orig, "sqlstate", None)
    if state:
        return str(state)[:2] in _TRY_AGAIN_CLASSES
    text = str(error.orig).lower()
    # SQLite's lock timeout; a server that refused or dropped the connection.
    return "locked" in text or "busy" in text or "connect" in text


def _cache_long_statements() -> None:
    """psycopg keeps the parsing of a statement's placeholders only for statements of up to
    4096 bytes and 50 parameters (ORMs' many-row INSERTs rarely repeat). A letter handed in
    is one chained statement of about 70 parameters whose text repeats exactly
    (connector/store/chain.py); parsing it again cost 0.25 ms of every letter. The limits are
    module constants read at each call; if a release renames them this does nothing."""
    try:
        from psycopg import _queries
    except ImportError:  # another driver
        return
    if hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS"):
        _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, 200)
    if hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH"):
        _queries.MAX_CACHED_STATEMENT_LENGTH = max(_queries.MAX_CACHED_STATEMENT_LENGTH, 16384)


def execute_alone(engine: Engine, sql: str, params: Any) -> Any:
    """Run one statement that is a transaction by itself (on PostgreSQL any single statement,
    a chain of data-modifying WITH queries included, commits or fails whole) on a pooled
    connection in autocommit, straight on the driver; returns its first row's first column.

    No session, no BEGIN and COMMIT round trips: for intake's one statement the ORM session
    around it cost as much CPU as the statement's own execution (connector/store/chain.py).
    Failures come out as :func:`driver_execute`'s do, a connection that cannot be had (a
    server refusing or starting up) included. The connection goes back to the pool as it
    came (not in autocommit), or not at all."""
    dbapi_error = engine.dialect.loaded_dbapi.Error
    try:
        raw = engine.raw_connection()
    except dbapi_error as err:  # SQLAlchemy's own connect() would have said it this way
        raise exc.DBAPIError.instance(
            None, None, err, dbapi_error, hide_parameters=True, dialect=engine.dialect,
            connection_invalidated=_disconnect(engine, err, None)) from err
    try:
        conn = raw.driver_connection
        try:
            conn.autocommit = True
            row = conn.execute(sql, params).fetchone()
        except dbapi_error as err:
            raise _driver_error(engine, raw, err, sql, params) from err
        finally:
            _leave_autocommit(raw)
    finally:
        raw.close()
    return row[0] if row is not None else None


def _leave_autocommit(raw: Any) -> None:
    # Whatever happened (a refused row leaves the connection idle and well; an interrupted
    # one may not be): never back in the pool in autocommit, where the next session's
    # rollbacks and locks would silently not hold.
    if not raw.is_valid:
        return
    try:
        raw.driver_connection.autocommit = False
    except Exception:
        raw.invalidate()


def driver_execute(conn: Connection, sql: str, params: Any, many: bool = False) -> Any:
    """Run ``sql`` (already in the driver's own placeholders) on ``conn``'s driver connection,
    in ``conn``'s transaction; returns the driver's cursor. For the hottest writes, compiled
    once (:mod:`connector.store.plain`): SQLAlchemy's per-statement machinery (an execution
    context, a result object, the cursor events) cost more CPU than SQLite's own work on the
    row. What SQLAlchemy would have done on failure is done here: the driver's error comes out
    as SQLAlchemy's (IntegrityError, OperationalError with ``connection_invalidated``),
    without the row's values in its text (they are often a citizen's), and a dropped
    connection is invalidated and renews the pool."""
    if not conn.in_transaction():
        conn.begin()  # as SQLAlchemy's own execute would: the write commits with conn's
    raw = conn.connection
    try:
        cursor = raw.driver_connection.cursor()
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        return cursor
    except conn.dialect.loaded_dbapi.Error as err:
        error = _driver_error(conn.engine, raw, err, sql, params)
        if error.connection_invalidated:
            conn.invalidate(err)
        raise error from err


def _driver_error(engine: Engine, raw: Any, err: Exception, sql: str,
                  params: Any) -> exc.DBAPIError:
    dbapi_error = engine.dialect.loaded_dbapi.Error
    gone = _disconnect(engine, err, raw.driver_connection)
    if gone:
        # As SQLAlchemy does for a disconnect seen on one of its own connections: this one is
        # discarded and every connection older than now is replaced at its next checkout.
        invalidate = getattr(engine.pool, "_invalidate", None)
        if invalidate is not None:
            invalidate(raw, err)
        else:
            raw.invalidate(err)
    return exc.DBAPIError.instance(sql, params, err, dbapi_error, hide_parameters=True,
                                   connection_invalidated=gone, dialect=engine.dialect)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    with factory() as session, session.begin():
        yield session


@contextmanager
def write_transaction(factory: sessionmaker[Session],
                      ready: Callable[[], Any] | None = None) -> Iterator[Session]:
    """A transaction that writes, for the hottest writer (intake). On SQLite the writers of
    this store take turns on a lock that wakes the next one at once — a mutex between this
    process's threads, an flock between processes — rather than on SQLite's busy handler, which
    retries after sleeping 1, 2, 5, ... up to 100 ms: under a burst the waiters slept far
    longer than the commits they waited for took. Elsewhere it is :func:`transaction`.

    ``ready`` (files the rows will refer to becoming durable, say) returns before anything
    commits: on SQLite before the turn is taken, so no writer waits on it; elsewhere at the
    end of the block, so the caller's statements and the wait overlap. If it raises, nothing
    is committed."""
    serial = _turn_file(factory.kw["bind"]) is not None
    if ready is not None and serial:
        ready()
    with writer_turn(factory.kw["bind"]), transaction(factory) as session:
        yield session
        if ready is not None and not serial:
            ready()


_TURNS: dict[tuple[str, int], tuple[threading.Lock, int]] = {}
_TURNS_LOCK = threading.Lock()


def _turn_file(engine: Engine) -> str | None:
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    return None if not path or path == ":memory:" or path.startswith("file:") else path


@contextmanager
def writer_turn(engine: Engine) -> Iterator[None]:
    """On a SQLite file, this process's turn to write (see :func:`write_transaction`): the
    writers that would collide wait on a lock that wakes the next one at once, not in SQLite's
    sleeping busy handler. Elsewhere nothing."""
    path = _turn_file(engine)
    if path is None:
        yield
        return
    # Per process: a descriptor inherited over a fork would share its flock with the parent.
    key = (path, os.getpid())
    with _TURNS_LOCK:
        if key not in _TURNS:
            _TURNS[key] = (threading.Lock(), os.open(f"{path}-writers", os.O_CREAT | os.O_RDWR,
                                                     0o600))
        mutex, fd = _TURNS[key]
    with mutex:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def for_claim(stmt: Select[Any], bind: Session | Connection) -> Select[Any]:
    """Rows locked by another worker are skipped, so no two workers take the same item.
    SQLite has no row locks; there the design runs a single worker."""
    dialect = (bind if isinstance(bind, Connection) else bind.get_bind()).dialect
    if dialect.name in ("postgresql", "mysql", "mariadb"):
        return stmt.with_for_update(skip_locked=True)
    return stmt


def for_update(stmt: Select[Any], session: Session) -> Select[Any]:
    """A row to change that someone else may be changing briefly (a worker's own claimed
    letter while the poller adds an event; the poller's letter while a delivery is recorded):
    wait for their lock and read what they committed, never skip the row as if it were gone."""
    if session.get_bind().dialect.name in ("postgresql", "mysql", "mariadb"):
        return stmt.with_for_update()
    return stmt


def hold_lock(session: Session, name: str) -> None:
    """Hold the lock called ``name`` until the session's transaction ends: check-then-act
    under it is safe across processes. Call it first in the transaction.

    PostgreSQL: a transaction-level advisory lock (no row, nothing to clean up). SQLite: a
    write first, which takes the database's one write lock for the whole transaction (the
    driver begins a transaction only at the first write; reads before it would not be
    protected)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    elif dialect in ("mysql", "mariadb"):
        session.execute(text("INSERT IGNORE INTO named_locks (name) VALUES (:name)"),
                        {"name": name})
        session.execute(text("SELECT name FROM named_locks WHERE name = :name FOR UPDATE"),
                        {"name": name})
    else:
        session.execute(text("UPDATE named_locks SET name = name WHERE name = :name"),
                        {"name": name})


def upgrade(url: str, revision: str = "heads") -> None:
    # "heads": every branch of the migration graph, so the round's migrations (each written on
    # the same base until they are chained) all apply.
    from alembic import command
    from alembic.config import Config

    make_engine(url).dispose()  # creates the SQLite folder when needed
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, revision)
    engine = make_engine(url)
    try:
        planner_stats.refresh(engine, after_migrations=True)
    finally:
        engine.dispose()
