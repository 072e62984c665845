"""The ODBC adapter: the core's CorrespondenceSystem port over pyodbc, with the SQL of each
operation from a profile. One connection per operation (the driver manager pools them), so the
adapter is safe to share between delivery threads."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

try:
    import pyodbc
except ImportError as exc:  # pyodbc is there but unixODBC's library (libodbc.so.2) is not
    raise ImportError(f"{exc} — unixODBC is not installed on this machine; install it with: "
                      "sudo apt-get install unixodbc (or run scripts/system-packages.sh)") from exc

from connector.domain import clock
from connector.domain.errors import ConfigurationError, PermanentError
from connector.domain.letter import (
    Capabilities,
    DeliveryReceipt,
    Document,
    OutgoingAttachment,
    OutgoingLetter,
    PollResult,
    RoutingChange,
)
from connector.plugins.explain import check_options
from connector.plugins.ports import CorrespondenceSystem

from ..options import IGNORE, letter_fields, naive_utc, secret
from ..options import text as _text
from .drivers import check_driver
from .errors import classify
from .options import OdbcOptions
from .profile import SqlProfile, Statement, load_sql_profile
from .sql import bind

MAX_PAGES = 50  # pages of the routing feed read in one poll


class OdbcAdapter(CorrespondenceSystem):
    options_model = OdbcOptions  # its [adapter] options, for checks and the JSON Schema

    def __init__(self, connection: str, profile: SqlProfile | str = "sandbox", *,
                 username: str | None = None, password: str | None = None,
                 timeout: float = 10.0, register_on_delivery: bool = False,
                 page_size: int = 200, overlap: int = 0, sweep_every: int = 0,
                 sweep: int = 1000) -> None:
        self.profile = profile if isinstance(profile, SqlProfile) else load_sql_profile(profile)
        self.timeout = timeout
        self.register_on_delivery = register_on_delivery
        self.page_size = page_size
        self.overlap, self.sweep_every, self.sweep = overlap, sweep_every, sweep
        self._password = password
        parts = [connection.rstrip(";")]
        if username:
            parts.append(f"UID={_braced(username)}")
        if password:
            parts.append(f"PWD={_braced(password)}")
        self._connection = ";".join(parts)
        self.capabilities = Capabilities(reply_download=self.profile.fetch_reply is not None,
                                         add_attachments=bool(self.profile.add_attachments))

    @classmethod
    def from_options(cls, options: dict[str, Any], secrets: Mapping[str, str]) -> OdbcAdapter:
        o = check_options(OdbcOptions, options, "adapter")
        check_driver(o.connection, pyodbc.drivers(), pyodbc.dataSources())
        return cls(o.connection, o.profile, username=secret(options, secrets, "username_env"),
                   password=secret(options, secrets, "password_env"), timeout=o.timeout,
                   register_on_delivery=o.register_on_delivery, page_size=o.page_size,
                   overlap=o.overlap, sweep_every=o.sweep_every, sweep=o.sweep)

    # -- the port --------------------------------------------------------------------------

    def deliver(self, letter: OutgoingLetter) -> DeliveryReceipt:
        context: dict[str, Any] = {**letter_fields(letter), "now": _now(),
                                   "register": self.register_on_delivery}
        with self._connect("deliver", transaction=True) as cur:
            for statement in self.profile.deliver:
                self._execute_statement(cur, statement, context)
        return DeliveryReceipt(external_id=str(context["letter_id"]), status="pending",
                               letter_number=_text(context.get("number")),
                               letter_date=_naive(context.get("number_date")))

    def add_attachments(self, external_id: str, tracking_code: str,
                        attachments: tuple[OutgoingAttachment, ...]) -> None:
        """The profile's [add_attachments] statements in one transaction (they are written to
        skip a file the letter already has, so a retry adds nothing twice)."""
        if not self.profile.add_attachments:
            raise NotImplementedError("this profile cannot add files to a letter")
        key: Any = int(external_id) if external_id.isdigit() else external_id
        context: dict[str, Any] = {
            "external_id": key, "tracking_code": tracking_code, "now": _now(),
            "attachments": [{"name": a.name, "content_type": a.content_type,
                             "content": a.content, "size": len(a.content)}
                            for a in attachments]}
        with self._connect("add_attachments", transaction=True) as cur:
            for statement in self.profile.add_attachments:
                self._execute_statement(cur, statement, context)

    def attachments_present(self, external_id: str, tracking_code: str,
                            attachments: tuple[OutgoingAttachment, ...]) -> tuple[bool, ...]:
        """The profile's [list_attachments] query; a file is there if name and size match."""
        if not self.profile.list_attachments:
            raise NotImplementedError("this profile cannot list a letter's files")
        key: Any = int(external_id) if external_id.isdigit() else external_id
        rows = self._query("list_attachments", self.profile.list_attachments,
                           {"external_id": key}, 100_000)
        held = {(str(r.get("name")), int(r.get("size") or 0)) for r in rows}
        return tuple((a.name, len(a.content)) in held for a in attachments)

    def find(self, tracking_code: str) -> DeliveryReceipt | None:
        rows = self._query("find", self.profile.find, {"tracking_code": tracking_code}, 1)
        if not rows:
            return None
        row = rows[0]
        return DeliveryReceipt(external_id=str(row["letter_id"]),
                               status=_text(row.get("status")) or "",
                               letter_number=_text(row.get("number")),
                               letter_date=_naive(row.get("number_date")))

    def changes(self, cursor: str) -> PollResult:
        """Changes after the cursor, re-reading ``overlap`` ids before it (ids are taken when a
        row is inserted but become visible when it commits, so a late commit would otherwise be
        skipped for good) and, every ``sweep_every`` polls, ``sweep`` ids before it. The core
        drops changes it has seen by source id. The cursor is ``<last id>/<polls since the last
        sweep>``."""
        last_text, _, count_text = cursor.strip().partition("/")
        last = int(last_text) if last_text.isdigit() else 0
        polls = int(count_text) + 1 if count_text.isdigit() else 0
        sweeping = bool(self.sweep_every) and polls >= self.sweep_every
        start = max(0, last - (self.sweep if sweeping else self.overlap))
        changes: dict[str, RoutingChange] = {}
        top = last
        # Page on from the window's start until a short page: a window (overlap or sweep)
        # wider than one page, or a burst of new changes, is read whole — up to a bound per
        # poll, after which the next poll goes on from where this one stopped.
        for _ in range(MAX_PAGES):
            rows = self._query("changes", self.profile.changes,
                               {"cursor": start, "page_size": self.page_size}, self.page_size)
            for row in rows:
                start = max(start, int(row["change_id"]))
                change = self._change(row)
                if change is not None:
                    changes.setdefault(change.source_id, change)
            top = max(top, start)
            if len(rows) < self.page_size:
                break
        if sweeping:
            polls = 0
        return PollResult(changes=list(changes.values()), cursor=f"{top}/{polls}")

    def _change(self, row: Mapping[str, Any]) -> RoutingChange | None:
        kind = self.profile.kind(_text(row.get("kind")) or "")
        if kind is None or kind == IGNORE:
            return None
        return RoutingChange(
            source_id=f"{self.profile.name}:{row['change_id']}", kind=kind,  # type: ignore[arg-type]
            at=_naive(row.get("at")) or _now(),
            external_id=_text(row.get("letter_id")) or "",
            reference=_text(row.get("reference")) or "", number=_text(row.get("number")),
            reason=_text(row.get("reason")), unit=_text(row.get("unit")),
            person=_text(row.get("person")), instruction=_text(row.get("instruction")),
            text=_text(row.get("text")))

    def fetch_reply(self, external_id: str) -> Document | None:
        if self.profile.fetch_reply is None:
            return None
        key: Any = int(external_id) if external_id.isdigit() else external_id
        rows = self._query("fetch_reply", self.profile.fetch_reply, {"external_id": key}, 1)
        if not rows:
            return None
        row = rows[0]
        return Document(file_name=_text(row.get("file_name")) or f"reply-{external_id}",
                        content_type=_text(row.get("content_type"))
                        or "application/octet-stream",
                        content=bytes(row.get("content") or b""),
                        text=_text(row.get("text")) or "")

    def ping(self) -> str:
        with self._connect("ping") as cur:
            cur.execute(self.profile.ping)
            cur.fetchall()
            driver = cur.connection.getinfo(pyodbc.SQL_DRIVER_NAME)
            dbms = cur.connection.getinfo(pyodbc.SQL_DBMS_NAME)
        return f"ok: {dbms} through {driver} ({self.profile.name} profile)"

    def structure(self) -> str:
        missing = self.check_objects()
        if missing:
            raise ConfigurationError(f"the database has no {', '.join(missing)}, which the "
                                     f"{self.profile.name!r} profile uses — check "
                                     "adapter.connection (the database) and adapter.profile")
        return f"the database has the tables the {self.profile.name!r} profile uses " \
               f"({', '.join(self.profile.tables)})"

    def check_objects(self) -> list[str]:
        """The profile's tables that the database lacks (for ``pishkhan adapter check``)."""
        missing = []
        with self._connect("check") as cur:
            for table in self.profile.tables:
                try:
                    cur.execute(f"SELECT * FROM {table} WHERE 1 = 0")  # a checked identifier
                    cur.fetchall()
                except pyodbc.Error:
                    missing.append(table)
        return missing

    # -- plumbing --------------------------------------------------------------------------

    @contextmanager
    def _connect(self, action: str, transaction: bool = False) -> Iterator[Any]:
        try:
            conn = pyodbc.connect(self._connection, autocommit=not transaction,
                                  timeout=max(1, int(self.timeout)))
        except pyodbc.Error as exc:
            raise classify(exc, action=action, connecting=True,
                           secrets=[self._password or ""]) from exc
        try:
            try:
                conn.timeout = max(1, int(self.timeout))
            except pyodbc.Error:
                # psqlodbc refuses the attribute; its connection string takes the server's
                # statement_timeout instead (Pqopt={-c statement_timeout=10000}).
                pass
            # Narrow text from drivers such as MariaDB's comes as UTF-8.
            conn.setdecoding(pyodbc.SQL_CHAR, encoding="utf-8")
            cur = conn.cursor()
            try:
                yield cur
            except pyodbc.Error as exc:
                raise classify(exc, action=action, secrets=[self._password or ""]) from exc
            if transaction:
                try:
                    conn.commit()
                except pyodbc.Error as exc:
                    raise classify(exc, action=f"{action} (committing)", committing=True,
                                   secrets=[self._password or ""]) from exc
        finally:
            try:
                conn.close()
            except pyodbc.Error:
                pass  # a connection that broke cannot be closed politely; it is gone anyway

    def _execute_statement(self, cur: Any, statement: Statement, context: dict[str, Any]) -> None:
        if statement.when and not context.get(statement.when):
            return
        items = context.get(statement.for_each) or [] if statement.for_each else [None]
        sql, names = bind(statement.sql)
        for item in items:
            local = {**context, "item": item} if statement.for_each else context
            cur.execute(sql, [_param(_lookup(local, n)) for n in names])
            if statement.outputs:
                rows = _rows(cur, 1)
                found = {name: rows[0].get(column.lower()) if rows else None
                         for name, column in statement.outputs.items()}
                if any(value is None for value in found.values()):
                    # Rolled back with the transaction; e.g. an unknown unit inserted nothing.
                    raise PermanentError(
                        f"deliver: the system took no letter — statement {statement.sql.split()[0]} "
                        f"gave no {', '.join(n for n, v in found.items() if v is None)} (is the "
                        f"unit code {context.get('unit_code')!r} known to it?)")
                context.update(found)

    def _query(self, action: str, text: str, context: Mapping[str, Any], limit: int
               ) -> list[dict[str, Any]]:
        sql, names = bind(text)
        with self._connect(action) as cur:
            cur.execute(sql, [_param(_lookup(context, n)) for n in names])
            return _rows(cur, limit)


def _rows(cur: Any, limit: int) -> list[dict[str, Any]]:
    if cur.description is None:
        return []
    columns = [d[0].lower() for d in cur.description]
    return [dict(zip(columns, row)) for row in cur.fetchmany(limit)]


def _lookup(context: Mapping[str, Any], name: str) -> Any:
    value: Any = context
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise ConfigurationError(f"the SQL uses :{name}, which this operation does not "
                                     "provide — check the profile")
        value = value[part]
    return value


def _param(value: Any) -> Any:
    # Binary as bytes, never str, so drivers send a blob and not text.
    return bytes(value) if isinstance(value, (bytearray, memoryview)) else value


def _braced(value: str) -> str:
    """A connection-string value that may hold ; or } (ODBC quoting)."""
    return "{" + value.replace("}", "}}") + "}"


def _now() -> datetime:
    return clock.now()


def _naive(value: Any) -> datetime | None:
    if isinstance(value, str):  # drivers without a timestamp type (SQLite's) give text
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    return naive_utc(value)
