"""Profiles: how Pishkhan's neutral operations map onto one vendor's WSDL.

A profile is a TOML file in ``adapters/soap/profiles/<name>.toml`` (or any path given as the
``profile`` option). It names no Python code, so supporting another dialect of the same kind of
service is a matter of writing a file. Format::

    name = "reference"                 # used in RoutingChange.source_id ("reference:42")
    description = "one line for people"

    # One table per neutral operation: deliver, find, changes, fetch_reply, ping.
    # An operation is a list of steps, run in order; each step is one SOAP call.
    [[deliver.steps]]
    call = "DeliverLetter"             # the WSDL operation
    when = "register"                  # optional: run the step only if this value is truthy
    for_each = "attachments"           # optional: call once per item; the item is {item.<field>}
    [deliver.steps.args]               # the call's arguments, each a template (below)
    reference = "{tracking_code}"
    register = "{register}"
    attachments = { for_each = "attachments", template = { name = "{item.name}" } }
    [deliver.steps.outputs]            # neutral names -> dotted paths in the call's answer
    letter_id = "letterId"
    number = "letter.number"

    [changes.item]                     # changes only: neutral names -> paths inside one change
    change_id = "changeId"
    [changes.kinds]                    # changes only: the system's kinds -> ours, or "ignore"
    registered = "registered"

Multi-step delivery (several ``deliver`` steps) resumes from the progress the core keeps: each
finished step (each item of a ``for_each`` step) is stored, and a retry skips it. After an
ambiguous failure the first unfinished step may have taken effect; a step's ``reconcile`` table
says how to look it up instead of repeating it (the first step is looked up by ``find``)::

    [deliver.steps.reconcile]
    call = "GetLetterAttachments"      # a read-only call
    args = { fldLetterId = "{letter_id}" }
    list = "Attachments"               # path of the records in the answer ("" = the answer)
    match = { fldName = "{item.name}" }  # a record matches when these paths equal the templates
    present = ["fldId"]                # ... and these paths are not empty
    outputs = { attachment_id = "fldId" }  # the step's outputs, read from the matching record

Systems that report errors inside the answer instead of as SOAP faults::

    [status]
    path = "Err.ErrorCode"             # where each answer carries its status code
    message = "Err.ErrorMsg"           # optional: the system's words, for the admin
    default = "permanent"              # class of a code not listed below
    [status.codes]                     # code -> ok | ignore | transient | permanent |
    "0" = "ok"                         #         configuration | ambiguous
    "7" = "ignore"                     # ignore: treat as done (e.g. "already assigned")

``date_format = "jalali"`` reads date strings in answers as Jalali dates in Iran's time
(``"1403/07/15 14:30"``); ``"iso"`` (the default) leaves them to the WSDL's types. For systems
whose routing is read by date rather than by a change id, ``[changes] cursor = "date"`` makes
the cursor the last day read; every poll then reads from ``overlap_days`` before it (and a
wide sweep every ``sweep_every`` polls reads ``sweep_days`` back) up to today, through the
context fields ``since`` and ``until`` (``"{since|jalali}"``).

Templates: a string that is exactly one placeholder (``"{cursor|int}"``) passes the value itself
(bytes, bools and numbers keep their type; ``|int``, ``|str`` and ``|bool`` convert it,
``|jalali`` writes a time as a Jalali date string), and an
argument whose value is None is left out, so optional elements stay absent. Other strings are
formatted (``"{sender_name} ({sender_mobile})"``, None as ""). Numbers and booleans are literals,
tables are nested elements, and a table with ``for_each`` builds a list from a list in the
context, one ``template`` per item (``wrap = "Attachment"`` nests the list under that element for
WSDLs that wrap repeated elements in a container).

Placeholders read the *context*: the fields the adapter provides for the operation (see
``CONTEXT_FIELDS``), ``username``/``password`` (for dialects that want credentials in the body),
and the outputs of the steps already run — so a later step can use ``{letter_id}`` from an
earlier one. The operation's result is the context after the last step; the adapter reads the
neutral names listed in ``RESULT_FIELDS`` from it.
"""
from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from connector.domain.errors import ConfigurationError
from connector.domain.letter import ChangeKind
from connector.plugins.ports import DeliveryProgress

from ..options import check_kinds, map_kind, read_profile
from .dates import to_jalali

PROFILE_DIR = Path(__file__).with_name("profiles")
ALIASES = {"sandbox": "reference"}

# What the adapter puts in the context of each operation, and what it reads back from it.
CONTEXT_FIELDS: dict[str, frozenset[str]] = {
    "deliver": frozenset({
        "tracking_code", "subject", "body", "sender_name", "sender_national_code",
        "sender_mobile", "applicant_type", "unit_code", "service_title", "submitted_at",
        "attachments", "register"}),
    "find": frozenset({"tracking_code"}),
    "changes": frozenset({"cursor", "page_size", "since", "until"}),
    "fetch_reply": frozenset({"external_id"}),
    "ping": frozenset(),
}
RESULT_FIELDS: dict[str, frozenset[str]] = {
    "deliver": frozenset({"letter_id", "status", "number", "number_date"}),
    "find": frozenset({"found", "letter_id", "status", "number", "number_date"}),
    "changes": frozenset({"changes", "next_cursor"}),
    "fetch_reply": frozenset({"found", "text", "file_name", "content_type", "content"}),
    "ping": frozenset({"ok", "server_time"}),
}
CHANGE_FIELDS = frozenset({"change_id", "letter_id", "reference", "kind", "at", "number",
                           "reason", "unit", "person", "instruction", "text"})
REQUIRED_OPERATIONS = ("deliver", "find", "changes", "ping")

_WHOLE = re.compile(r"^\{([A-Za-z_][\w.]*)(?:\|(int|str|bool|jalali))?\}$")
_CONVERT: dict[str, Callable[[Any], Any]] = {"int": int, "str": str, "bool": bool,
                                             "jalali": to_jalali}
_STEP_KEYS = frozenset({"call", "args", "outputs", "for_each", "when", "reconcile"})
_RECONCILE_KEYS = frozenset({"call", "args", "list", "match", "present", "outputs"})
STATUS_CLASSES = ("ok", "ignore", "transient", "permanent", "configuration", "ambiguous")
DATE_FORMATS = ("iso", "jalali")
CURSORS = ("id", "date")
_MISSING = object()


@dataclass(frozen=True)
class Reconcile:
    """How to tell whether a step that may have taken effect did (see the module docstring)."""
    call: str
    args: Mapping[str, Any] = field(default_factory=dict)
    list: str = ""
    match: Mapping[str, Any] = field(default_factory=dict)
    present: tuple[str, ...] = ()
    outputs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Step:
    call: str
    args: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    for_each: str | None = None
    when: str | None = None
    reconcile: Reconcile | None = None


@dataclass(frozen=True)
class StatusCodes:
    """Status codes inside answers, for systems that do not use SOAP faults."""
    path: str
    message: str = ""
    codes: Mapping[str, str] = field(default_factory=dict)
    default: str = "permanent"

    def classify(self, answer: Any) -> tuple[str, str, str]:
        """(class, code, message) of one answer; class "ok" when it carries no code."""
        code = resolve(answer, self.path)
        if code is None:
            return "ok", "", ""
        code_text = str(code).strip()
        message = str(resolve(answer, self.message) or "") if self.message else ""
        return self.codes.get(code_text, self.default), code_text, message


@dataclass(frozen=True)
class Operation:
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    operations: Mapping[str, Operation]
    change_item: Mapping[str, str] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)
    status: StatusCodes | None = None
    date_format: str = "iso"
    cursor: str = "id"
    overlap_days: int = 1
    sweep_every: int = 0
    sweep_days: int = 7

    @property
    def multi_step(self) -> bool:
        steps = self.operations["deliver"].steps
        return len(steps) > 1 or steps[0].for_each is not None

    def calls(self) -> set[str]:
        """Every WSDL operation the profile uses, to check against the WSDL once it is loaded."""
        return {c for op in self.operations.values() for s in op.steps
                for c in (s.call, s.reconcile.call if s.reconcile else None) if c}

    def kind(self, system_kind: str) -> ChangeKind | str | None:
        """Our kind for the system's, IGNORE, or None when the profile does not know it."""
        return map_kind(self.kinds, system_kind)


# -- loading -------------------------------------------------------------------------------

def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name (or alias), or a profile file by path."""
    data, path = read_profile(name_or_path, PROFILE_DIR, "profile", ALIASES)
    return parse_profile(data, default_name=path.stem, source=str(path))


def parse_profile(data: Mapping[str, Any], default_name: str = "", source: str = "profile"
                  ) -> Profile:
    """Check a profile's structure; the first mistake raises ConfigurationError naming it."""
    def bad(where: str, problem: str) -> ConfigurationError:
        return ConfigurationError(f"{source}: {where} {problem}")

    name = data.get("name", default_name)
    if not isinstance(name, str) or not name:
        raise bad("name", "must be a non-empty string")
    operations: dict[str, Operation] = {}
    for op_name in CONTEXT_FIELDS:
        raw = data.get(op_name)
        if raw is None:
            if op_name in REQUIRED_OPERATIONS:
                raise bad(f"[{op_name}]", "is missing — every profile maps deliver, find, "
                                          "changes and ping")
            continue
        operations[op_name] = _parse_operation(op_name, raw, bad)
    unknown = set(data) - set(CONTEXT_FIELDS) - {"name", "description", "status",
                                                  "date_format"}
    if unknown:
        raise bad(", ".join(sorted(unknown)), "are not profile keys")

    changes = data["changes"]
    item = changes.get("item", {})
    kinds = changes.get("kinds", {})
    if not isinstance(item, dict) or not all(isinstance(v, str) for v in item.values()):
        raise bad("[changes.item]", "must map field names to response paths")
    if set(item) - CHANGE_FIELDS:
        raise bad("[changes.item]", f"has unknown fields {sorted(set(item) - CHANGE_FIELDS)}; "
                                    f"use {sorted(CHANGE_FIELDS)}")
    for required in ("change_id", "kind"):
        if required not in item:
            raise bad("[changes.item]", f"must give the path of {required}")
    kinds = check_kinds(kinds, bad)
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
    deliver = operations["deliver"]
    if (len(deliver.steps) > 1 or deliver.steps[0].for_each) and \
            "letter_id" not in deliver.steps[0].outputs:
        raise bad("deliver.steps[0]", "must output letter_id: a multi-step delivery is "
                                      "resumed from the letter found by tracking code")
    return Profile(name=name, description=str(data.get("description", "")),
                   operations=operations, change_item=dict(item), kinds=dict(kinds),
                   status=_parse_status(data.get("status"), bad), date_format=date_format,
                   cursor=cursor, **numbers)


def _parse_status(raw: Any, bad: Callable[[str, str], Exception]) -> StatusCodes | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("path"), str) or not raw["path"]:
        raise bad("[status]", 'needs path = "<where the answer carries its code>"')
    if set(raw) - {"path", "message", "codes", "default"}:
        raise bad("[status]", f"has unknown keys {sorted(set(raw) - {'path', 'message', 'codes', 'default'})}")
    codes = raw.get("codes", {})
    if not isinstance(codes, dict):
        raise bad("[status.codes]", "must map codes to classes")
    for code, cls in {**codes, "default": raw.get("default", "permanent")}.items():
        if cls not in STATUS_CLASSES:
            raise bad(f"status.codes.{code}", f"is {cls!r}; use one of {list(STATUS_CLASSES)}")
    return StatusCodes(path=raw["path"], message=str(raw.get("message", "")),
                       codes={str(k): v for k, v in codes.items()},
                       default=raw.get("default", "permanent"))


def _parse_reconcile(raw: Any, where: str, bad: Callable[[str, str], Exception]
                     ) -> Reconcile | None:
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
    return Reconcile(call=raw["call"], args=raw.get("args", {}), list=str(raw.get("list", "")),
                     match=match, present=tuple(present), outputs=outputs)


def _parse_operation(op_name: str, raw: Any, bad: Callable[[str, str], Exception]) -> Operation:
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), list) or not raw["steps"]:
        raise bad(f"[{op_name}]", "needs at least one [[" + op_name + ".steps]]")
    extra = set(raw) - {"steps"} - ({"item", "kinds", "cursor", "overlap_days", "sweep_every",
                                     "sweep_days"} if op_name == "changes" else set())
    if extra:
        raise bad(f"[{op_name}]", f"has unknown keys {sorted(extra)}")
    steps = []
    produced: set[str] = set()
    for i, s in enumerate(raw["steps"]):
        where = f"{op_name}.steps[{i}]"
        if not isinstance(s, dict) or not isinstance(s.get("call"), str) or not s["call"]:
            raise bad(where, 'needs call = "<WSDL operation>"')
        if set(s) - _STEP_KEYS:
            raise bad(where, f"has unknown keys {sorted(set(s) - _STEP_KEYS)}")
        args, outputs = s.get("args", {}), s.get("outputs", {})
        if not isinstance(args, dict):
            raise bad(f"{where}.args", "must be a table")
        if not isinstance(outputs, dict) or not all(isinstance(v, str) for v in outputs.values()):
            raise bad(f"{where}.outputs", "must map names to response paths")
        produced |= set(outputs)
        steps.append(Step(call=s["call"], args=args, outputs=outputs,
                          for_each=s.get("for_each"), when=s.get("when"),
                          reconcile=_parse_reconcile(s.get("reconcile"), where, bad)))
    # The adapter reads these names; a typo here would otherwise surface as a missing value.
    cursor_output = {"next_cursor"} if raw.get("cursor", "id") == "id" else set()
    missing = {"deliver": {"letter_id"}, "find": {"found"}, "changes": {"changes"} | cursor_output,
               "fetch_reply": {"found"}}.get(op_name, set()) - produced
    if missing:
        raise bad(f"[{op_name}]", f"no step outputs {sorted(missing)}")
    unused = produced - RESULT_FIELDS[op_name] - _referenced_names(steps, op_name, bad)
    if unused:
        raise bad(f"[{op_name}]", f"outputs {sorted(unused)}, which nothing reads; "
                                  f"the adapter reads {sorted(RESULT_FIELDS[op_name])}")
    return Operation(steps=tuple(steps))


def _referenced_names(steps: Iterable[Step], op_name: str,
                      bad: Callable[[str, str], Exception]) -> set[str]:
    """The context names the steps' templates use (checking each template parses)."""
    names: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(value) if f]
            except ValueError as exc:
                raise bad(f"[{op_name}] template {value!r}", f"cannot be read ({exc})") from None
            names.update(f.split("|")[0].split(".")[0] for f in fields)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
    for s in steps:
        walk(s.args)
        if s.reconcile:
            walk(s.reconcile.args)
            walk(s.reconcile.match)
        names.update(n.split(".")[0] for n in (s.for_each, s.when) if n)
    return names


# -- running -------------------------------------------------------------------------------

def resolve(obj: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted path in a zeep answer, dict or list ('letter.number', 'items.0');
    ``default`` where any part is absent."""
    current = obj
    for part in path.split(".") if path else []:
        if current is None:
            return default
        if isinstance(current, Mapping):
            current = current.get(part, _MISSING)
        elif isinstance(current, (list, tuple)) and part.isdigit():
            current = current[int(part)] if int(part) < len(current) else _MISSING
        else:
            # zeep's CompoundValue supports both; attribute access covers plain objects too.
            try:
                current = current[part]
            except (KeyError, IndexError, TypeError, AttributeError):
                current = getattr(current, part, _MISSING)
        if current is _MISSING:
            return default
    return current


def render(template: Any, context: Mapping[str, Any]) -> Any:
    """An argument value from its template (see the module docstring)."""
    if isinstance(template, str):
        whole = _WHOLE.match(template)
        if whole:
            value = resolve(context, whole.group(1))
            if value is not None and whole.group(2):
                value = _CONVERT[whole.group(2)](value)
            return value
        return _format(template, context)
    if isinstance(template, dict):
        if "for_each" in template:
            items = resolve(context, template["for_each"]) or []
            built = [render(template.get("template", {}), {**context, "item": it})
                     for it in items]
            if not built:
                return None
            return {template["wrap"]: built} if template.get("wrap") else built
        rendered = {k: render(v, context) for k, v in template.items()}
        return {k: v for k, v in rendered.items() if v is not None}
    if isinstance(template, list):
        return [render(v, context) for v in template]
    return template


def _format(template: str, context: Mapping[str, Any]) -> str:
    out = []
    for literal, field_name, _spec, _conv in string.Formatter().parse(template):
        out.append(literal)
        if field_name:
            value = resolve(context, field_name.split("|")[0])
            out.append("" if value is None else str(value))
    return "".join(out)


def run(operation: Operation, context: Mapping[str, Any],
        call: Callable[[str, dict[str, Any]], Any]) -> dict[str, Any]:
    """Run an operation's steps through ``call(wsdl_operation, kwargs)``; return the context
    with every step's outputs added."""
    ctx = dict(context)
    for step in operation.steps:
        if step.when and not resolve(ctx, step.when):
            continue
        items = (resolve(ctx, step.for_each) or []) if step.for_each else [None]
        for item in items:
            local = {**ctx, "item": item} if step.for_each else ctx
            args = render(step.args, local) or {}
            answer = call(step.call, args)
            for name, path in step.outputs.items():
                ctx[name] = resolve(answer, path)
    return ctx


def run_resuming(operation: Operation, context: Mapping[str, Any],
                 call: Callable[[str, dict[str, Any]], Any],
                 progress: DeliveryProgress) -> dict[str, Any]:
    """Like :func:`run`, but each finished step (each item of a ``for_each`` step) is stored in
    ``progress`` and skipped when the operation is run again; after an ambiguous failure the
    first unfinished step is looked up (the first step by the core's ``find``, others by their
    ``reconcile``) before it is repeated."""
    ctx = dict(context)
    uncertain = progress.uncertain
    for i, step in enumerate(operation.steps):
        if step.when and not resolve(ctx, step.when):
            continue
        items = (resolve(ctx, step.for_each) or []) if step.for_each else [None]
        for j, item in enumerate(items):
            key = f"{i}.{step.call}" + (f".{j}" if step.for_each else "")
            saved = progress.get(key)
            if saved is not None:
                ctx.update(saved)
                continue
            local = {**ctx, "item": item} if step.for_each else ctx
            outputs = None
            if i == 0 and progress.found is not None:
                outputs = {"letter_id": progress.found.external_id}
            elif uncertain:
                outputs = _reconcile(step, local, call)
            uncertain = False
            if outputs is None:
                answer = call(step.call, render(step.args, local) or {})
                outputs = {name: resolve(answer, path) for name, path in step.outputs.items()}
            outputs = {name: _jsonable(value) for name, value in outputs.items()}
            progress.put(key, outputs)
            ctx.update(outputs)
    return ctx


def _reconcile(step: Step, context: Mapping[str, Any],
               call: Callable[[str, dict[str, Any]], Any]) -> dict[str, Any] | None:
    """The step's outputs if the system shows it took effect, else None (or the step has no
    way to look it up: then the ambiguous failure was in an earlier step, already settled)."""
    spec = step.reconcile
    if spec is None:
        return None
    answer = call(spec.call, render(spec.args, context) or {})
    records = resolve(answer, spec.list) if spec.list else answer
    if records is None:
        records = []
    elif not isinstance(records, (list, tuple)):
        records = [records]
    wanted = {path: render(template, context) for path, template in spec.match.items()}
    for record in records:
        if all(_same(resolve(record, path), value) for path, value in wanted.items()) and \
                all(resolve(record, path) not in (None, "") for path in spec.present):
            return {name: resolve(record, path) for name, path in spec.outputs.items()}
    return None


def _same(found: Any, wanted: Any) -> bool:
    return found is not None and wanted is not None and str(found).strip() == str(wanted).strip()


def _jsonable(value: Any) -> Any:
    """A step output as the core can store it (JSON)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)
