"""SQL profiles: the statements that map the neutral operations onto one system's tables.

A profile is a TOML file in ``adapters/odbc/profiles/<name>.toml`` (or a path given as the
``profile`` option)::

    name = "sandbox"
    [[deliver.statements]]             # run in order, in ONE transaction
    sql = "INSERT INTO letters (ref, subject) VALUES (:tracking_code, :subject) RETURNING id"
    outputs = { letter_id = "id" }     # names -> columns of the first row it returns
    [[deliver.statements]]
    for_each = "attachments"           # once per item; the item is :item.<field>
    sql = "INSERT INTO files (letter_id, name, data) VALUES (:letter_id, :item.name, :item.content)"

    [find]                             # columns: letter_id, status?, number?, number_date?
    sql = "SELECT id AS letter_id, status FROM letters WHERE ref = :tracking_code ORDER BY id"
    [changes]                          # columns: change_id, kind, at, letter_id?, reference?, ...
    sql = "SELECT id AS change_id, ... FROM changes WHERE id > :cursor ORDER BY id"
    [changes.kinds]                    # the system's kinds -> ours, or "ignore"
    registered = "registered"
    [fetch_reply]                      # optional; columns: text, file_name, content_type, content
    sql = "..."
    [ping]
    sql = "SELECT 1"
    [[add_attachments.statements]]     # optional: files for a letter already in the system
    for_each = "attachments"           # context: external_id, tracking_code, attachments, now
    sql = "INSERT INTO files (letter_id, name, data) SELECT ... WHERE NOT EXISTS (...)"
    [list_attachments]                 # optional; columns: name, size (a letter's files)
    sql = "SELECT name, size FROM files WHERE letter_id = :external_id"
    [check]
    tables = ["letters", "files"]      # what `pishkhan adapter check` looks for

Parameters are ``:name`` (bound, never spliced; see sql.py). The context of each operation:
deliver — the letter's fields (as in the SOAP adapter), ``now`` (naive UTC) and ``register``;
find — ``tracking_code``; changes — ``cursor`` (an integer: the last change id read, minus the
overlap), ``page_size``; fetch_reply — ``external_id``. Column names are matched
case-insensitively.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.domain.errors import ConfigurationError
from connector.domain.letter import ChangeKind

from ..options import check_kinds, map_kind, read_profile

PROFILE_DIR = Path(__file__).with_name("profiles")
OPERATIONS = ("deliver", "find", "changes", "fetch_reply", "ping", "check", "add_attachments",
              "list_attachments")


@dataclass(frozen=True)
class Statement:
    sql: str
    outputs: Mapping[str, str] = field(default_factory=dict)
    for_each: str | None = None
    when: str | None = None


@dataclass(frozen=True)
class SqlProfile:
    name: str
    description: str
    deliver: tuple[Statement, ...]
    find: str
    changes: str
    kinds: Mapping[str, str]
    ping: str
    fetch_reply: str | None = None
    tables: tuple[str, ...] = ()
    # Optional: files added to a letter already in the system (``external_id``, ``attachments``).
    add_attachments: tuple[Statement, ...] = ()
    # Optional: a letter's files (``external_id``), looked up before a follow-up is sent.
    list_attachments: str | None = None

    def kind(self, system_kind: str) -> ChangeKind | str | None:
        """Our kind for the system's, IGNORE, or None when the profile does not know it."""
        return map_kind(self.kinds, system_kind)


def load_sql_profile(name_or_path: str) -> SqlProfile:
    data, path = read_profile(name_or_path, PROFILE_DIR, "SQL profile")
    return parse_sql_profile(data, path.stem, str(path))


def parse_sql_profile(data: Mapping[str, Any], default_name: str = "",
                      source: str = "profile") -> SqlProfile:
    def bad(where: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{source}: {where} {problem}")

    unknown = set(data) - set(OPERATIONS) - {"name", "description"}
    if unknown:
        raise bad(", ".join(sorted(unknown)), "are not SQL profile keys")

    def sql_of(op: str, required: bool = True) -> str | None:
        table = data.get(op)
        if table is None and not required:
            return None
        if not isinstance(table, dict) or not isinstance(table.get("sql"), str) \
                or not table["sql"].strip():
            raise bad(f"[{op}]", 'needs sql = "SELECT ..."')
        return table["sql"]

    def statements_of(op: str, required: bool) -> list[Statement]:
        raw = data.get(op, {}).get("statements") if isinstance(data.get(op), dict) else None
        if raw is None and not required:
            return []
        if not isinstance(raw, list) or not raw:
            raise bad(f"[{op}]", f"needs at least one [[{op}.statements]]")
        found = []
        for i, item in enumerate(raw):
            where = f"{op}.statements[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("sql"), str):
                raise bad(where, 'needs sql = "INSERT ..."')
            extra = set(item) - {"sql", "outputs", "for_each", "when"}
            if extra:
                raise bad(where, f"has unknown keys {sorted(extra)}")
            outputs = item.get("outputs", {})
            if not isinstance(outputs, dict) or not all(isinstance(v, str)
                                                        for v in outputs.values()):
                raise bad(f"{where}.outputs", "must map names to column names")
            found.append(Statement(item["sql"], outputs, item.get("for_each"), item.get("when")))
        return found

    statements = statements_of("deliver", True)
    if not any("letter_id" in s.outputs for s in statements):
        raise bad("[deliver]", "no statement outputs letter_id (the new letter's id)")
    changes = data.get("changes", {})
    kinds = changes.get("kinds") if isinstance(changes, dict) else None
    kinds = check_kinds(kinds, bad)
    tables = data.get("check", {}).get("tables", []) if isinstance(data.get("check"), dict) \
        else []
    if not isinstance(tables, list) or not all(isinstance(t, str) and
                                               re.fullmatch(r"[A-Za-z_][\w.]*", t)
                                               for t in tables):
        raise bad("check.tables", "must list table names")
    return SqlProfile(name=str(data.get("name", default_name)),
                      description=str(data.get("description", "")),
                      deliver=tuple(statements), find=sql_of("find") or "",
                      changes=sql_of("changes") or "", kinds=dict(kinds),
                      ping=sql_of("ping") or "", fetch_reply=sql_of("fetch_reply", False),
                      tables=tuple(tables),
                      add_attachments=tuple(statements_of("add_attachments", False)),
                      list_attachments=sql_of("list_attachments", False))
