"""INSERTs for the hottest path (intake) without the statement machinery's per-call cost.

SQLAlchemy builds, keys and looks up a compiled statement, then makes an execution context,
for every ``execute``: on intake that came to several times the database's own work for the
same rows. Here each (dialect, table, columns) is compiled once by SQLAlchemy itself — so the
SQL, its placeholders and casts are the ones it would send — and later rows only go through
the columns' own bind processors (JSON, dates on SQLite) and the column defaults of the model,
then straight to the driver, in the caller's transaction (:func:`connector.store.db.driver_execute`:
SQLAlchemy's errors, without its per-statement cost; its cursor events do not see these
statements, the database's own trace does)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert

from connector.store import db

_CACHE: dict[tuple[str, str, tuple[str, ...], str | None], Prepared] = {}
_LOCK = threading.Lock()
# Only where INSERT ... RETURNING and the driver's placeholders are known to behave; anything
# else takes SQLAlchemy's ordinary path.
DIALECTS = frozenset({"sqlite", "postgresql"})


_DEFAULTS: dict[str, list[tuple[str, Any, bool]]] = {}


def _column_defaults(table: Table) -> list[tuple[str, Any, bool]]:
    """(key, value or callable, callable?) of the columns with a Python-side default; kept per
    table, as listing a table's columns builds a new collection each time."""
    found = _DEFAULTS.get(table.name)
    if found is None:
        found = []
        for column in table.columns:
            default = column.default
            if getattr(default, "is_scalar", False):
                found.append((column.key, default.arg, False))  # type: ignore[union-attr]
            elif getattr(default, "is_callable", False):
                found.append((column.key, default.arg, True))  # type: ignore[union-attr]
        _DEFAULTS[table.name] = found
    return found


def with_defaults(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """The row with the model's Python-side defaults filled in, as an ORM flush would."""
    full = dict(row)
    for key, value, call in _column_defaults(table):
        if key not in full:
            full[key] = value(None) if call else value
    return full


@dataclass(frozen=True)
class Prepared:
    """A statement compiled once: its SQL, its parameters in the driver's order with their
    columns' bind processors, and the values of the parameters that carry their own
    (``literal(...)``)."""
    sql: str
    binds: tuple[tuple[str, Callable[[Any], Any] | None], ...]
    positional: bool
    fixed: dict[str, Any]

    def params(self, values: dict[str, Any]) -> Any:
        """The driver's parameters for ``values`` (by parameter name)."""
        row = {**self.fixed, **values} if self.fixed else values
        if self.positional:
            return tuple(p(row[n]) if p else row[n] for n, p in self.binds)
        return {n: p(row[n]) if p else row[n] for n, p in self.binds}


def prepare(statement: Any, dialect: Any, column_keys: list[str] | None = None) -> Prepared:
    """Compile ``statement`` for ``dialect`` as SQLAlchemy itself would send it."""
    compiled = statement.compile(dialect=dialect, column_keys=column_keys)
    names = list(compiled.positiontup) if compiled.positional and compiled.positiontup \
        else list(compiled.binds)
    binds = []
    fixed = {}
    for name in names:
        bind = compiled.binds[name]
        binds.append((name, bind.type.dialect_impl(dialect).bind_processor(dialect)))
        if bind.value is not None:
            fixed[name] = bind.value
    return Prepared(str(compiled), tuple(binds), bool(compiled.positional), fixed)


def _compiled(conn: Connection, table: Table, keys: tuple[str, ...],
              returning: str | None) -> Prepared:
    cache_key = (conn.dialect.name, table.name, keys, returning)
    found = _CACHE.get(cache_key)
    if found is None:
        stmt = insert(table)
        if returning:
            stmt = stmt.returning(table.c[returning])
        found = prepare(stmt, conn.dialect, list(keys))
        with _LOCK:
            _CACHE[cache_key] = found
    return found


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]],
                returning: str | None = None) -> Any:
    """INSERT ``rows`` (all with the same keys) on ``conn``; with ``returning``, one row only,
    and the value of that column is returned."""
    if not rows:
        return None
    if conn.dialect.name not in DIALECTS:
        stmt = insert(table)
        if returning:
            return conn.execute(stmt.returning(table.c[returning]), rows[0]).scalar_one()
        conn.execute(stmt, list(rows))
        return None
    full = [with_defaults(table, row) for row in rows]
    prepared = _compiled(conn, table, tuple(full[0]), returning)
    params = [prepared.params(row) for row in full]
    if returning:
        assert len(params) == 1, "RETURNING here is for one row"
        return db.driver_execute(conn, prepared.sql, params[0]).fetchone()[0]
    if len(params) > 1:
        db.driver_execute(conn, prepared.sql, params, many=True)
    else:
        db.driver_execute(conn, prepared.sql, params[0])
    return None


_STATEMENTS: dict[tuple[str, str], Prepared] = {}


def execute(conn: Connection, name: str, build: Callable[[], Any],
            values: dict[str, Any]) -> int:
    """Run the statement ``build()`` makes (built and compiled once per dialect, kept under
    ``name``) with ``values`` for its bound parameters; returns the row count. Parameters that
    carry their own value (``literal(...)``) take it unless ``values`` names them."""
    return int(_run(conn, name, build, values).rowcount)


def returned(conn: Connection, name: str, build: Callable[[], Any],
             values: dict[str, Any]) -> list[Any]:
    """Like :func:`execute`, for a statement with RETURNING of one column: its values."""
    return [row[0] for row in _run(conn, name, build, values).fetchall()]


def rows(conn: Connection, name: str, build: Callable[[], Any],
         values: dict[str, Any]) -> list[dict[str, Any]]:
    """Like :func:`execute`, for a statement that returns rows: each as a dict by column
    name, with the driver's own types (PostgreSQL's JSON already parsed)."""
    cursor = _run(conn, name, build, values)
    if conn.dialect.name not in DIALECTS:
        return [dict(row._mapping) for row in cursor]
    # A statement's columns are the same on every run: read once (the driver builds its
    # description anew on each access, a cost per column that the delivery paid per letter).
    key = (conn.dialect.name, name)
    names = _NAMES.get(key)
    if names is None:
        names = _NAMES[key] = tuple(column[0] for column in cursor.description)
    return [dict(zip(names, row)) for row in cursor.fetchall()]


_NAMES: dict[tuple[str, str], tuple[str, ...]] = {}


def alone(engine: Engine, name: str, build: Callable[[], Any], values: dict[str, Any]) -> Any:
    """Run the statement (as :func:`execute` builds and keeps it) as a transaction of its own
    on PostgreSQL, without a session (:func:`connector.store.db.execute_alone`); returns its
    first row's first column (give it a RETURNING)."""
    assert engine.dialect.name == "postgresql"
    prepared = _prepared(engine.dialect, name, build)
    return db.execute_alone(engine, prepared.sql, prepared.params(values))


def _prepared(dialect: Any, name: str, build: Callable[[], Any]) -> Prepared:
    key = (dialect.name, name)
    prepared = _STATEMENTS.get(key)
    if prepared is None:
        prepared = prepare(build(), dialect)
        with _LOCK:
            _STATEMENTS[key] = prepared
    return prepared


def _run(conn: Connection, name: str, build: Callable[[], Any], values: dict[str, Any]) -> Any:
    prepared = _prepared(conn.dialect, name, build)
    if conn.dialect.name not in DIALECTS:
        return conn.exec_driver_sql(prepared.sql, prepared.params(values))
    return db.driver_execute(conn, prepared.sql, prepared.params(values))
