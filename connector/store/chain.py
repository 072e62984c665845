"""A new row, the rows that hang off it and what comes with them, written as one statement.

Intake writes a letter and, in the same transaction, its files, its timeline, its SMS, its
audit record, its count and its webhook event. On PostgreSQL each statement is a round trip
and a parse-bind-execute on both sides, and for a letter that came to most of the request's
time; so there they go as one statement of chained INSERTs (data-modifying WITH queries: the
parent's INSERT ... RETURNING id feeds the children's INSERT ... SELECT), built and compiled
once per shape. The foreign keys still hold: PostgreSQL checks them at the end of the
statement, when the parent row is there. Elsewhere (SQLite has no data-modifying WITH) the
same rows go one INSERT per table, as :mod:`connector.store.plain` writes them.

The row values go through the columns' own bind processors (JSON, dates), as in plain."""
from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam, func, insert, select, union_all
from sqlalchemy.sql import visitors

from connector.store import db, plain

_Shape = tuple[Any, ...]
_CACHE: dict[_Shape, plain.Prepared] = {}
_LOCK = threading.Lock()


@dataclass
class Chain:
    """``parent`` is inserted first and its ``returning`` column (the new id) is set as
    ``link`` in every row of :meth:`child`; :meth:`also` rows and :meth:`statement` run in
    the same go; :meth:`notify` sends a PostgreSQL notice with it (nothing elsewhere)."""
    table: Table
    row: dict[str, Any]
    returning: str = "id"
    children: list[tuple[Table, str, list[dict[str, Any]]]] = field(default_factory=list)
    others: list[tuple[Table, list[dict[str, Any]]]] = field(default_factory=list)
    statements: list[tuple[str, Callable[[], Any], dict[str, Any]]] = field(
        default_factory=list)
    notices: list[tuple[str, str]] = field(default_factory=list)

    def child(self, table: Table, link: str, rows: Sequence[dict[str, Any]]) -> Chain:
        if rows:
            self.children.append((table, link, list(rows)))
        return self

    def also(self, table: Table, rows: Sequence[dict[str, Any]]) -> Chain:
        if rows:
            self.others.append((table, list(rows)))
        return self

    def statement(self, name: str, build: Callable[[], Any], values: dict[str, Any]) -> Chain:
        """A data-modifying Core statement of its own (an INSERT ... SELECT, say), with its
        bound ``values``; as :func:`plain.execute` runs it."""
        self.statements.append((name, build, values))
        return self

    def notify(self, channel: str, payload: str) -> Chain:
        self.notices.append((channel, payload))
        return self

    def run(self, conn: Connection) -> Any:
        """Write everything on ``conn`` (the caller's transaction); returns the parent's id."""
        if not _one_statement(conn.dialect):
            return self._one_by_one(conn)
        compiled, values = self._statement(conn.dialect)
        return db.driver_execute(conn, compiled.sql, compiled.params(values)).fetchone()[0]

    def run_alone(self, engine: Engine) -> Any:
        """Write everything as a transaction of its own (:func:`alone_on`); returns the
        parent's id."""
        assert alone_on(engine)
        compiled, values = self._statement(engine.dialect)
        return db.execute_alone(engine, compiled.sql, compiled.params(values))

    def _statement(self, dialect: Any) -> tuple[plain.Prepared, dict[str, Any]]:
        """The chained statement for this shape (compiled once) and its values."""
        values: dict[str, Any] = {}
        parent = plain.with_defaults(self.table, self.row)
        values.update({f"p_{k}": v for k, v in parent.items()})
        shape: list[Any] = [self.table.name, tuple(parent)]
        children = []
        for i, (table, link, rows) in enumerate(self.children):
            keys, count = _add_rows(values, f"c{i}", table, rows)
            children.append((table, link, keys, count))
            shape.append((table.name, link, keys, count))
        others = []
        for i, (table, rows) in enumerate(self.others):
            keys, count = _add_rows(values, f"o{i}", table, rows)
            others.append((table, keys, count))
            shape.append((table.name, keys, count))
        for i, (name, _build, extra) in enumerate(self.statements):
            shape.append(name)
            values.update({f"s{i}_{k}": v for k, v in extra.items()})
        for i, (channel, payload) in enumerate(self.notices):
            values[f"n{i}_channel"], values[f"n{i}_payload"] = channel, payload
        shape.append(len(self.notices))
        key = tuple(shape)
        compiled = _CACHE.get(key)
        if compiled is None:
            compiled = self._compile(dialect, parent, children, others)
            with _LOCK:
                _CACHE[key] = compiled
        return compiled, values

    def _compile(self, dialect: Any, parent: dict[str, Any],
                 children: list[tuple[Table, str, tuple[str, ...], int]],
                 others: list[tuple[Table, tuple[str, ...], int]]) -> plain.Prepared:
        def bind(table: Table, prefix: str, key: str) -> Any:
            return bindparam(f"{prefix}{key}", type_=table.c[key].type)

        head = insert(self.table).values({k: bind(self.table, "p_", k) for k in parent}) \
            .returning(self.table.c[self.returning]).cte("p")
        ctes = []
        for i, (table, link, keys, count) in enumerate(children):
            rows = [select(head.c[self.returning],
                           *[bind(table, f"c{i}_{j}_", k) for k in keys])
                    for j in range(count)]
            source = rows[0] if count == 1 else union_all(*rows)
            ctes.append(insert(table).from_select([link, *keys], source).cte(f"c{i}"))
        for i, (table, keys, count) in enumerate(others):
            ctes.append(insert(table).values(
                [{k: bind(table, f"o{i}_{j}_", k) for k in keys} for j in range(count)])
                .cte(f"o{i}"))
        for i, (_name, build, extra) in enumerate(self.statements):
            stmt = build()
            # Its own parameter names, prefixed so that no two statements share one. Compiled
            # once for the types of all of them: once per name cost a claim of 16 letters
            # (16 webhook statements of about 10 names each) some 60 ms the first time.
            binds = stmt.compile().binds
            renames = {k: bindparam(f"s{i}_{k}", type_=binds[k].type) for k in extra}
            stmt = _rebind(stmt, renames)
            ctes.append(stmt.cte(f"s{i}"))
        columns = [head.c[self.returning]]
        for i in range(len(self.notices)):
            columns.append(func.pg_notify(bindparam(f"n{i}_channel"),
                                          bindparam(f"n{i}_payload")).label(f"n{i}"))
        final = select(*columns).add_cte(*ctes) if ctes else select(*columns)
        return plain.prepare(final, dialect)

    def _one_by_one(self, conn: Connection) -> Any:
        new_id = plain.insert_rows(conn, self.table, [self.row], returning=self.returning)
        for table, link, rows in self.children:
            plain.insert_rows(conn, table, [{link: new_id, **r} for r in rows])
        for table, rows in self.others:
            plain.insert_rows(conn, table, rows)
        for name, build, extra in self.statements:
            plain.execute(conn, name, build, extra)
        return new_id


def alone_on(engine: Engine) -> bool:
    """Whether a chain can be written as a transaction by itself on ``engine``: one statement
    is one only on PostgreSQL; elsewhere the rows go one by one, in a transaction."""
    return _one_statement(engine.dialect)


def _one_statement(dialect: Any) -> bool:
    # Data-modifying WITH queries: PostgreSQL's (SQLite has none).
    return bool(dialect.name == "postgresql")


def _add_rows(values: dict[str, Any], prefix: str, table: Table,
              rows: list[dict[str, Any]]) -> tuple[tuple[str, ...], int]:
    """Put ``rows`` (with the model's defaults) into ``values`` as ``{prefix}_{j}_{key}``;
    returns their keys and how many there are."""
    full = [plain.with_defaults(table, r) for r in rows]
    for j, r in enumerate(full):
        values.update({f"{prefix}_{j}_{k}": v for k, v in r.items()})
    return tuple(full[0]), len(full)


def _rebind(stmt: Any, renames: dict[str, Any]) -> Any:
    """``stmt`` with its named bound parameters replaced by ``renames``'."""

    def replace(element: Any, **_kw: Any) -> Any:
        if getattr(element, "__visit_name__", None) == "bindparam" and element.key in renames:
            return renames[element.key]
        return None

    return visitors.replacement_traverse(stmt, {}, replace)

