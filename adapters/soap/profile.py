"""Profiles: how Pishkhan's neutral operations map onto one vendor's WSDL.

A profile is a TOML file in ``adapters/soap/profiles/<name>.toml`` (or any path given as the
``profile`` option). It names no Python code, so supporting another vendor is a matter of
writing a file. docs/adapters.md describes every key for IT admins; in short::

    name = "vendor"                    # used in RoutingChange.source_id ("vendor:42")
    [params.organ_id]                  # what each organization supplies in [adapter.params]
    type = "int"
    default = 1
    [maps.sender_type]                 # our values -> theirs ({applicant_type|map(sender_type)})
    natural = 1
    legal = 2
    [session]                          # Login(user, password) -> ticket, passed on every call
    call = "Login"
    args = { UserName = "{username}", Password = "{password}" }
    ticket = "LoginResult.Ticket"
    pass_as = "argument"               # {session} in the steps' args; or "header" / "cookie"
    [status]                           # result codes inside answers, profile-wide
    path = "Result.Code"
    codes = { "0" = "ok", "1" = "relogin" }
    [[deliver.steps]]                  # each neutral operation: steps, each one SOAP call
    call = "AddLetter"
    args = { Ticket = "{session}", Subject = "{subject}" }
    outputs = { letter_id = "LetterId" }
    codes = { "5" = "already-exists" } # this step's codes over the table above

The neutral operations are deliver, find, changes, fetch_reply and ping; their context fields
and results are listed in ``CONTEXT_FIELDS`` and ``RESULT_FIELDS``.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from connector.domain.errors import ConfigurationError

from ..options import check_kinds, read_profile
from .checks import check_profile_templates
from .model import (
    PARAM_TYPES,
    PASS_AS,
    SNAPSHOT_KINDS,
    STATUS_CLASSES,
    Operation,
    Param,
    Profile,
    Reconcile,
    Session,
    StatusCodes,
    Step,
)
from .runner import run, run_resuming  # noqa: F401  (the profile's public face)
from .templates import render, resolve  # noqa: F401

PROFILE_DIR = Path(__file__).with_name("profiles")
ALIASES = {"sandbox": "reference"}

# What the adapter puts in the context of each operation, and what it reads back from it.
CONTEXT_FIELDS: dict[str, frozenset[str]] = {
    "deliver": frozenset({
        "tracking_code", "subject", "body", "sender_name", "sender_national_code",
        "sender_mobile", "applicant_type", "unit_code", "service_title", "service_code",
        "submitted_at", "attachments", "register",
        "relation", "related_letter_id", "related_number", "related_code"}),
    "find": frozenset({"tracking_code"}),
    "changes": frozenset({"cursor", "page_size", "since", "until"}),
    "fetch_reply": frozenset({"external_id"}),
    "ping": frozenset(),
    # Optional: files for a letter already in the system; each file is run on its own, looked
    # up first by the step's reconcile, so a retry adds nothing twice.
    "add_attachments": frozenset({"letter_id", "tracking_code", "attachments"}),
}
# Available in every operation (and the session's login).
COMMON_FIELDS = frozenset({"username", "password", "params", "session", "now"})
RESULT_FIELDS: dict[str, frozenset[str]] = {
    "deliver": frozenset({"letter_id", "status", "number", "number_date"}),
    "find": frozenset({"found", "letter_id", "status", "number", "number_date", "reason",
                       "unit", "person"}),
    "changes": frozenset({"changes", "next_cursor"}),
    "fetch_reply": frozenset({"found", "text", "file_name", "content_type", "content"}),
    "ping": frozenset({"ok", "server_time"}),
    "add_attachments": frozenset(),
}
CHANGE_FIELDS = frozenset({"change_id", "letter_id", "reference", "kind", "at", "number",
                           "reason", "unit", "person", "instruction", "text"})
# Without [changes] the system is "feedless": the core follows each letter with find (whose
# [find.statuses] maps the system's status values to ours).
REQUIRED_OPERATIONS = ("deliver", "find", "ping")
ATTACHMENT_FIELDS = frozenset({"name", "content_type", "content", "size"})

_STEP_KEYS = frozenset({"call", "args", "outputs", "for_each", "when", "reconcile", "codes",
                        "idempotent"})
_RECONCILE_KEYS = frozenset({"call", "args", "list", "match", "present", "outputs", "codes"})
_SESSION_KEYS = frozenset({"call", "args", "ticket", "pass_as", "header", "header_namespace",
                           "cookie", "lifetime_seconds", "relogin_codes", "relogin_faults",
                           "logout", "codes"})
_TOP_KEYS = set(CONTEXT_FIELDS) | {"name", "description", "status", "date_format", "session",
                                   "params", "maps"}
DATE_FORMATS = ("iso", "jalali")
CURSORS = ("id", "date")

Bad = Callable[[str, str], Exception]


# -- loading -------------------------------------------------------------------------------

def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name (or alias), or a profile file by path."""
    data, path = read_profile(name_or_path, PROFILE_DIR, "profile", ALIASES)
    return parse_profile(data, default_name=path.stem, source=str(path))


def parse_profile(data: Mapping[str, Any], default_name: str = "", source: str = "profile"
                  ) -> Profile:
    """Check a profile; the first mistake raises ConfigurationError naming the profile, where
    in it, and the fix."""
    label = f"profile {data.get('name', default_name) or source!r}"

    def bad(where: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{label} ({source}): {where} {problem}")

    name = data.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise bad("name", "must be a non-empty string")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise bad(", ".join(sorted(unknown)), f"are not profile keys; use {sorted(_TOP_KEYS)}")
    status = _parse_status(data.get("status"), bad)
    session = _parse_session(data.get("session"), status, bad)
    if session and session.relogin_faults == () and status is None and not session.codes:
        raise bad("[session]", "gives no way to tell an expired session — add relogin_codes = "
                               '["<code>"] (with [status]) or relogin_faults = ["<fault text>"]')
    operations: dict[str, Operation] = {}
    for op_name in CONTEXT_FIELDS:
        raw = data.get(op_name)
        if raw is None:
            if op_name in REQUIRED_OPERATIONS:
                raise bad(f"[{op_name}]", "is missing — every profile maps deliver, find "
                                          "and ping (and changes, where the system has a "
                                          "history)")
            continue
        operations[op_name] = _parse_operation(op_name, raw, bad)

    changes = data.get("changes") or {}
    if "changes" not in operations and not operations["find"].statuses:
        raise bad("[changes]", "is missing, and [find.statuses] too — map the system's "
                               "history in [changes], or its status values in [find.statuses] "
                               "so letters are followed one by one")
    item = changes.get("item", {}) if "changes" in operations else {
        "change_id": "", "kind": ""}
    if not isinstance(item, dict) or not all(isinstance(v, str) for v in item.values()):
        raise bad("[changes.item]", "must map field names to response paths")
    if set(item) - CHANGE_FIELDS:
        raise bad("[changes.item]", f"has unknown fields {sorted(set(item) - CHANGE_FIELDS)}; "
                                    f"use {sorted(CHANGE_FIELDS)}")
    for required in ("change_id", "kind"):
        if required not in item:
            raise bad("[changes.item]", f"must give the path of {required}")
    kinds = check_kinds(changes.get("kinds", {}), bad) if "changes" in operations else {}
    date_format = data.get("date_format", "iso")
    if date_format not in DATE_FORMATS:
        raise bad("date_format", f"is {date_format!r}; use one of {list(DATE_FORMATS)}")
    cursor = changes.get("cursor", "id")
    if cursor not in CURSORS:
        raise bad("changes.cursor", f"is {cursor!r}; use one of {list(CURSORS)}")
    numbers = {}
    for key, default in (("overlap_days", 1), ("sweep_every", 0), ("sweep_days", 7)):
        value = changes.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise bad(f"changes.{key}", "must be a whole number, 0 or more")
        numbers[key] = value
    profile = Profile(name=name, description=str(data.get("description", "")),
                      operations=operations, change_item=dict(item), kinds=dict(kinds),
                      status=status, date_format=date_format, cursor=cursor,
                      session=session, params=_parse_params(data.get("params", {}), bad),
                      maps=_parse_maps(data.get("maps", {}), bad, "maps"), source=source,
                      **numbers)
    return dataclasses.replace(profile, map_uses=check_profile_templates(profile, bad))


def _codes(raw: Any, where: str, bad: Bad) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise bad(where, 'must map codes to classes, e.g. { "3" = "not-found" }')
    for code, cls in raw.items():
        if cls not in STATUS_CLASSES:
            raise bad(f"{where}.{code}", f"is {cls!r}; use one of {list(STATUS_CLASSES)}")
    return {str(k): v for k, v in raw.items()}


def _parse_status(raw: Any, bad: Bad) -> StatusCodes | None:
    if raw is None:
        return None
    keys = {"path", "message", "codes", "default", "absent"}
    if not isinstance(raw, dict) or not isinstance(raw.get("path"), str) or not raw["path"]:
        raise bad("[status]", 'needs path = "<where the answer carries its code>"')
    if set(raw) - keys:
        raise bad("[status]", f"has unknown keys {sorted(set(raw) - keys)}")
    codes = _codes(raw.get("codes", {}), "status.codes", bad)
    default = raw.get("default", "permanent")
    _codes({"default": default}, "status", bad)
    absent = raw.get("absent", "ok")
    if absent not in ("ok", "default"):
        raise bad("status.absent", 'is "ok" (an answer without a code is fine) or "default"')
    return StatusCodes(path=raw["path"], message=str(raw.get("message", "")), codes=codes,
                       default=default, ok_when_absent=absent == "ok")


def _parse_session(raw: Any, status: StatusCodes | None, bad: Bad) -> Session | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("call"), str) or not raw["call"]:
        raise bad("[session]", 'needs call = "<the login operation>"')
    if set(raw) - _SESSION_KEYS:
        raise bad("[session]", f"has unknown keys {sorted(set(raw) - _SESSION_KEYS)}; "
                               f"use {sorted(_SESSION_KEYS)}")
    pass_as = raw.get("pass_as", "argument")
    if pass_as not in PASS_AS:
        raise bad("session.pass_as", f"is {pass_as!r}; use one of {list(PASS_AS)}")
    ticket = raw.get("ticket", "")
    if not isinstance(ticket, str) or (not ticket and pass_as != "cookie"):
        raise bad("session.ticket", 'must give the path of the ticket in the login answer, '
                                    'e.g. ticket = "LoginResult"')
    if pass_as == "header" and not raw.get("header"):
        raise bad("session.header", 'is needed with pass_as = "header" — write header = '
                                    '"AuthHeader.Ticket" (element.child)')
    if pass_as == "cookie" and not raw.get("cookie"):
        raise bad("session.cookie", 'is needed with pass_as = "cookie" — write cookie = '
                                    '"ASP.NET_SessionId"')
    lifetime = raw.get("lifetime_seconds", 0)
    if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime < 0:
        raise bad("session.lifetime_seconds", "must be a number of seconds (0 = until the "
                                              "system says the session expired)")
    relogin_codes = raw.get("relogin_codes", [])
    faults = raw.get("relogin_faults", [])
    for key, value in (("relogin_codes", relogin_codes), ("relogin_faults", faults)):
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
            raise bad(f"session.{key}", 'must be a list, e.g. ["1"]')
    if relogin_codes and status is None:
        raise bad("session.relogin_codes", "needs [status] path = … to find the code")
    codes = _codes(raw.get("codes", {}), "session.codes", bad)
    logout = raw.get("logout")
    if logout is not None and (not isinstance(logout, dict) or not logout.get("call")):
        raise bad("session.logout", 'needs call = "<the logout operation>"')
    return Session(
        call=raw["call"], args=_table(raw.get("args", {}), "session.args", bad), ticket=ticket,
        pass_as=pass_as, header=str(raw.get("header", "")),
        header_namespace=str(raw.get("header_namespace", "")),
        cookie=str(raw.get("cookie", "")), lifetime_seconds=float(lifetime),
        relogin_faults=tuple(str(f) for f in faults),
        logout=Reconcile(call=logout["call"], args=logout.get("args", {})) if logout else None,
        codes={**{str(c): "relogin" for c in relogin_codes}, **codes})


def _parse_params(raw: Any, bad: Bad) -> dict[str, Param]:
    if not isinstance(raw, dict):
        raise bad("[params]", "must hold one table per parameter: [params.organ_id]")
    params = {}
    for name, spec in raw.items():
        if not isinstance(spec, dict):
            raise bad(f"params.{name}", 'must be a table: type = "int", default = 1')
        extra = set(spec) - {"type", "default", "description"}
        if extra:
            raise bad(f"params.{name}", f"has unknown keys {sorted(extra)}")
        kind = spec.get("type", "str")
        if kind not in PARAM_TYPES:
            raise bad(f"params.{name}.type", f"is {kind!r}; use one of {list(PARAM_TYPES)}")
        if kind == "secret" and "default" in spec:
            raise bad(f"params.{name}.default", "a secret has no default; each organization "
                                                f"names its variable: {name}_env = \"VAR\"")
        params[name] = Param(type=kind, default=spec.get("default"),
                             description=str(spec.get("description", "")))
    return params


def _parse_maps(raw: Any, bad: Bad, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise bad(f"[{where}]", f"must hold one table per map: [{where}.sender_type] "
                                "natural = 1")
    for name, table in raw.items():
        for key, value in table.items():
            if not isinstance(value, (str, int, bool)):
                raise bad(f"{where}.{name}.{key}", "must be a string or a number")
    return {name: {str(k): v for k, v in table.items()} for name, table in raw.items()}


def _table(raw: Any, where: str, bad: Bad) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad(where, "must be a table")
    return raw


def _parse_reconcile(raw: Any, where: str, bad: Bad) -> Reconcile | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("call"), str) or not raw["call"]:
        raise bad(f"{where}.reconcile", 'needs call = "<WSDL operation>"')
    if set(raw) - _RECONCILE_KEYS:
        raise bad(f"{where}.reconcile", f"has unknown keys {sorted(set(raw) - _RECONCILE_KEYS)}")
    outputs, match = raw.get("outputs", {}), raw.get("match", {})
    present = raw.get("present", [])
    if not isinstance(outputs, dict) or not all(isinstance(v, str) for v in outputs.values()):
        raise bad(f"{where}.reconcile.outputs", "must map names to record paths")
    if not isinstance(match, dict) or not isinstance(present, list) or not (match or present):
        raise bad(f"{where}.reconcile", "needs match = { path = template } and/or "
                                        "present = [paths] to recognise the record")
    return Reconcile(call=raw["call"], args=_table(raw.get("args", {}), f"{where}.reconcile.args",
                                                   bad),
                     list=str(raw.get("list", "")), match=match, present=tuple(present),
                     outputs=outputs, codes=_codes(raw.get("codes"), f"{where}.reconcile.codes",
                                                   bad))


def _parse_operation(op_name: str, raw: Any, bad: Bad) -> Operation:
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), list) or not raw["steps"]:
        raise bad(f"[{op_name}]", "needs at least one [[" + op_name + ".steps]]")
    allowed = {"steps", "codes"} | ({"item", "kinds", "cursor", "overlap_days", "sweep_every",
                                     "sweep_days"} if op_name == "changes" else set()) | (
        {"statuses"} if op_name == "find" else set())
    extra = set(raw) - allowed
    if extra:
        raise bad(f"[{op_name}]", f"has unknown keys {sorted(extra)}; use {sorted(allowed)}")
    op_codes = _codes(raw.get("codes"), f"{op_name}.codes", bad)
    statuses = raw.get("statuses", {})
    if not isinstance(statuses, dict):
        raise bad("[find.statuses]", 'must map the system\'s statuses to ours: "2" = '
                                     '"registered"')
    for theirs, ours in statuses.items():
        if ours not in SNAPSHOT_KINDS:
            raise bad(f"find.statuses.{theirs}", f"is {ours!r}; use one of {list(SNAPSHOT_KINDS)}")
    steps = []
    produced: set[str] = set()
    for i, s in enumerate(raw["steps"]):
        where = f"{op_name}.steps[{i}]"
        if not isinstance(s, dict) or not isinstance(s.get("call"), str) or not s["call"]:
            raise bad(where, 'needs call = "<WSDL operation>"')
        where = f"{where} ({s['call']})"
        if set(s) - _STEP_KEYS:
            raise bad(where, f"has unknown keys {sorted(set(s) - _STEP_KEYS)}; "
                             f"use {sorted(_STEP_KEYS)}")
        args, outputs = _table(s.get("args", {}), f"{where}.args", bad), s.get("outputs", {})
        if not isinstance(outputs, dict) or not all(isinstance(v, str) for v in outputs.values()):
            raise bad(f"{where}.outputs", "must map names to response paths")
        if set(outputs) & {"session", "username", "password", "params"}:
            raise bad(f"{where}.outputs", "may not name session, username, password or params "
                                          "(they are never stored as step progress)")
        if not isinstance(s.get("idempotent", False), bool):
            raise bad(f"{where}.idempotent", "must be true or false")
        produced |= set(outputs)
        step_codes = {**op_codes, **_codes(s.get("codes"), f"{where}.codes", bad)}
        reconcile = _parse_reconcile(s.get("reconcile"), where, bad)
        if reconcile is not None:
            reconcile = Reconcile(**{**reconcile.__dict__,
                                     "codes": {**op_codes, **reconcile.codes}})
        steps.append(Step(call=s["call"], args=args, outputs=outputs,
                          for_each=s.get("for_each"), when=s.get("when"),
                          reconcile=reconcile, codes=step_codes,
                          idempotent=bool(s.get("idempotent", False))))
    # The adapter reads these names; a typo here would otherwise surface as a missing value.
    # (next_cursor may be left out: the highest change id read is used.)
    missing = {"deliver": {"letter_id"}, "find": {"found"}, "changes": {"changes"},
               "fetch_reply": {"found"}}.get(op_name, set()) - produced
    if missing:
        raise bad(f"[{op_name}]", f"no step outputs {sorted(missing)}")
    return Operation(steps=tuple(steps), codes=op_codes, statuses={str(k): v for k, v in
                                                                   statuses.items()})
