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

Templates: a string that is exactly one placeholder (``"{cursor|int}"``) passes the value itself
(bytes, bools and numbers keep their type; ``|int``, ``|str`` and ``|bool`` convert it), and an
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
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connector.domain import ChangeKind
from connector.errors import ConfigurationError

PROFILE_DIR = Path(__file__).with_name("profiles")
ALIASES = {"sandbox": "reference"}
IGNORE = "ignore"

# What the adapter puts in the context of each operation, and what it reads back from it.
CONTEXT_FIELDS: dict[str, frozenset[str]] = {
    "deliver": frozenset({
        "tracking_code", "subject", "body", "sender_name", "sender_national_code",
        "sender_mobile", "applicant_type", "unit_code", "service_title", "submitted_at",
        "attachments", "register"}),
    "find": frozenset({"tracking_code"}),
    "changes": frozenset({"cursor", "page_size"}),
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

_WHOLE = re.compile(r"^\{([A-Za-z_][\w.]*)(?:\|(int|str|bool))?\}$")
_CONVERT: dict[str, Callable[[Any], Any]] = {"int": int, "str": str, "bool": bool}
_STEP_KEYS = frozenset({"call", "args", "outputs", "for_each", "when"})
_MISSING = object()


@dataclass(frozen=True)
class Step:
    call: str
    args: Mapping[str, Any] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    for_each: str | None = None
    when: str | None = None


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

    def calls(self) -> set[str]:
        """Every WSDL operation the profile uses, to check against the WSDL once it is loaded."""
        return {s.call for op in self.operations.values() for s in op.steps}

    def kind(self, system_kind: str) -> ChangeKind | str | None:
        """Our kind for the system's, IGNORE, or None when the profile does not know it."""
        mapped = self.kinds.get(system_kind)
        if mapped is None or mapped == IGNORE:
            return mapped
        return ChangeKind(mapped)


# -- loading -------------------------------------------------------------------------------

def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name (or alias), or a profile file by path."""
    if name_or_path.endswith(".toml"):
        path = Path(name_or_path)
    else:
        name = ALIASES.get(name_or_path, name_or_path)
        path = PROFILE_DIR / f"{name}.toml"
        if not re.fullmatch(r"[a-z0-9_-]+", name) or not path.is_file():
            known = sorted([p.stem for p in PROFILE_DIR.glob("*.toml")] + list(ALIASES))
            raise ConfigurationError(
                f"adapter.profile {name_or_path!r} is not a known profile — use one of: "
                f"{', '.join(known)}, or the path of a profile .toml file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(
            f"adapter.profile {str(path)!r} cannot be read ({exc.strerror}) — "
            "give the path of an existing profile .toml file") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"profile {str(path)!r} is not valid TOML: {exc}") from None
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
    unknown = set(data) - set(CONTEXT_FIELDS) - {"name", "description"}
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
    ours = {k.value for k in ChangeKind} | {IGNORE}
    if not isinstance(kinds, dict) or not kinds:
        raise bad("[changes.kinds]", "must map the system's change kinds to ours")
    for theirs, mapped in kinds.items():
        if mapped not in ours:
            raise bad(f"changes.kinds.{theirs}", f"is {mapped!r}; use one of {sorted(ours)}")
    return Profile(name=name, description=str(data.get("description", "")),
                   operations=operations, change_item=dict(item), kinds=dict(kinds))


def _parse_operation(op_name: str, raw: Any, bad: Callable[[str, str], Exception]) -> Operation:
    if not isinstance(raw, dict) or not isinstance(raw.get("steps"), list) or not raw["steps"]:
        raise bad(f"[{op_name}]", "needs at least one [[" + op_name + ".steps]]")
    extra = set(raw) - {"steps"} - ({"item", "kinds"} if op_name == "changes" else set())
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
                          for_each=s.get("for_each"), when=s.get("when")))
    # The adapter reads these names; a typo here would otherwise surface as a missing value.
    missing = {"deliver": {"letter_id"}, "find": {"found"}, "changes": {"changes", "next_cursor"},
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
