"""INSERTs for the hottest path (intake) without the statement machinery's per-call cost.

SQLAlchemy builds, keys and looks up a compiled statement, then makes an execution context,
for every ``execute``: on intake that came to several times the database's own work for the
same rows. Here each (dialect, table, columns) is compiled once by SQLAlchemy itself — so the
SQL, its placeholders and casts are the ones it would send — and later rows only go through
the columns' own bind processors (JSON, dates on SQLite) and the column defaults of the model,
then straight to ``exec_driver_sql`` on the caller's connection (same transaction, same
cursor events, so statement counts and logging still see them)."""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert

_Compiled = tuple[str, "list[tuple[str, Callable[[Any], Any] | None]]", bool]
_CACHE: dict[tuple[str, str, tuple[str, ...], str | None], _Compiled] = {}
_LOCK = threading.Lock()
# Only where INSERT ... RETURNING and the driver's placeholders are known to behave; anything
# else takes SQLAlchemy's ordinary path.
DIALECTS = frozenset({"sqlite", "postgresql"})


def _defaults(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """The row with the model's Python-side defaults filled in, as an ORM flush would."""
    full = dict(row)
    for column in table.columns:
        if column.key in full or column.default is None:
            continue
        default = column.default
        if getattr(default, "is_scalar", False):
            full[column.key] = default.arg  # type: ignore[attr-defined]
        elif getattr(default, "is_callable", False):
            full[column.key] = default.arg(None)  # type: ignore[attr-defined]
    return full


def _compiled(conn: Connection, table: Table, keys: tuple[str, ...],
              returning: str | None) -> _Compiled:
    dialect = conn.dialect
    cache_key = (dialect.name, table.name, keys, returning)
    found = _CACHE.get(cache_key)
    if found is not None:
        return found
    stmt = insert(table)
    if returning:
        stmt = stmt.returning(table.c[returning])
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    names = list(compiled.positiontup) if compiled.positional and compiled.positiontup \
        else list(keys)
    binds = []
    for name in names:
        column = table.c[name]
        binds.append((name, column.type.dialect_impl(dialect).bind_processor(dialect)))
    found = (str(compiled), binds, bool(compiled.positional))
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
    full = [_defaults(table, row) for row in rows]
    sql, binds, positional = _compiled(conn, table, tuple(full[0]), returning)
    params: list[Any] = []
    for row in full:
        if positional:
            params.append(tuple(p(row[name]) if p else row[name] for name, p in binds))
        else:
            params.append({name: p(row[name]) if p else row[name] for name, p in binds})
    if returning:
        assert len(params) == 1, "RETURNING here is for one row"
        return conn.exec_driver_sql(sql, params[0]).scalar_one()
    conn.exec_driver_sql(sql, params if len(params) > 1 else params[0])
    return None

