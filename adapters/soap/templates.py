"""Argument templates of SOAP profiles: placeholders, filters and value maps.

A placeholder is ``{name}`` or ``{name.path}``, optionally followed by filters:
``{submitted_at|jalali(datetime)}``, ``{applicant_type|map(sender_type)}``,
``{item.content|base64}``, ``{params.letter_type|int}``. A string that is exactly one placeholder
passes the value itself (bytes, numbers and booleans keep their type); other strings are
formatted (None as ""). ``{{`` and ``}}`` are literal braces.

Filters (applied left to right; None passes through all of them except ``default``):

- ``int``, ``str``, ``bool``: convert.
- ``base64``: bytes (or text, as UTF-8) as a base64 string — for files typed ``xs:string``.
- ``jalali``: a time or date as a Jalali date in Iran's time, ``1405/09/08``;
  ``jalali(datetime)`` adds the time, ``1405/09/08 14:30``; ``jalali(datetime-seconds)``
  ``1405/09/08 14:30:00``; any other argument is a strftime format (``jalali(%Y-%m-%d)``).
- ``gregorian``: ISO date ``2026-11-29``; ``gregorian(datetime)`` ``2026-11-29T14:30:00``
  (Iran's time); any other argument is a strftime format.
- ``upper``, ``lower``, ``strip``: text case and spaces.
- ``latin_digits``: Persian and Arabic-Indic digits as Latin ones.
- ``default(VALUE)``: VALUE where the value is None or "".
- ``map(NAME)``: the profile's value map NAME (``[maps.NAME]``, which an organization may
  override in ``[adapter.maps.NAME]``); a value the map does not list is an error unless the map
  has a ``"*"`` entry.

Every placeholder, filter and map is checked when the profile loads (:func:`check_template`).
"""
from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from persiantools.digits import ar_to_fa, fa_to_en
from persiantools.jdatetime import JalaliDateTime

from connector.domain.clock import TEHRAN

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][\w]*(?:\.[\w]+)*$")
_FILTER = re.compile(r"^([a-z_0-9]+)(?:\((.*)\))?$")
FILTERS = ("int", "str", "bool", "base64", "jalali", "gregorian", "upper", "lower", "strip",
           "latin_digits", "default", "map")
_NEEDS_ARG = {"default", "map"}
_TAKES_ARG = {"jalali", "gregorian", "default", "map"}
# What a session ticket is rendered as; the adapter puts the live ticket in at call time, so the
# ticket never enters a step's context, its outputs or the stored progress.
SESSION_TOKEN = "\x00pishkhan-session\x00"
MISSING = object()


class TemplateError(ValueError):
    """A template that cannot work; the message says what and how to fix it."""


@dataclass(frozen=True)
class Placeholder:
    name: str                       # dotted path in the context
    filters: tuple[tuple[str, str | None], ...]

    @property
    def root(self) -> str:
        return self.name.split(".")[0]


def parse_placeholder(text: str) -> Placeholder:
    """``name.path|filter|filter(arg)`` → Placeholder; TemplateError naming the problem."""
    parts = [p.strip() for p in _split_filters(text)]
    name = parts[0]
    if not _NAME.match(name):
        raise TemplateError(f"{{{text}}} is not a placeholder — write {{name}} or "
                            "{name|filter}, e.g. {tracking_code} or {submitted_at|jalali}")
    filters = []
    for raw in parts[1:]:
        match = _FILTER.match(raw)
        if match is None or match.group(1) not in FILTERS:
            raise TemplateError(f"{{{text}}} uses the unknown filter {raw!r} — use one of: "
                                f"{', '.join(FILTERS)}")
        fname, arg = match.group(1), match.group(2)
        if fname in _NEEDS_ARG and not arg:
            raise TemplateError(f"{{{text}}}: the filter {fname} needs an argument, e.g. "
                                f"{fname}(sender_type)" if fname == "map" else
                                f"{{{text}}}: write default(VALUE)")
        if arg is not None and fname not in _TAKES_ARG:
            raise TemplateError(f"{{{text}}}: the filter {fname} takes no argument — "
                                f"write |{fname}")
        filters.append((fname, arg))
    return Placeholder(name, tuple(filters))


def _split_filters(text: str) -> list[str]:
    """Split on | outside parentheses (a date format may hold none, a default may)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == "|" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def placeholders(template: Any) -> Iterator[tuple[Placeholder, bool]]:
    """Every placeholder in a template (strings, nested tables, lists), with whether it sits
    inside a ``for_each`` table (then ``item`` is defined)."""
    yield from _walk(template, False)


def _walk(template: Any, in_item: bool) -> Iterator[tuple[Placeholder, bool]]:
    if isinstance(template, str):
        if "{" in _PLACEHOLDER.sub("", template) or "}" in _PLACEHOLDER.sub("", template):
            raise TemplateError(f"the template {template!r} has an unmatched brace — write "
                                "{name} for a placeholder, {{ or }} for a literal brace")
        for match in _PLACEHOLDER.finditer(template):
            if match.group(1) is not None:
                yield parse_placeholder(match.group(1)), in_item
    elif isinstance(template, Mapping):
        if "for_each" in template:
            yield parse_placeholder(str(template["for_each"])), in_item
            yield from _walk(template.get("template", {}), True)
            return
        for value in template.values():
            yield from _walk(value, in_item)
    elif isinstance(template, list):
        for value in template:
            yield from _walk(value, in_item)


# -- rendering ------------------------------------------------------------------------------

MapLookup = Callable[[str, Any], Any]


def render(template: Any, context: Mapping[str, Any], maps: MapLookup | None = None) -> Any:
    """An argument value from its template (see the module docstring); an argument whose value
    is None is left out, so optional elements stay absent."""
    if isinstance(template, str):
        matches = list(_PLACEHOLDER.finditer(template))
        if len(matches) == 1 and matches[0].group(1) is not None and \
                matches[0].span() == (0, len(template)):
            return _value(parse_placeholder(matches[0].group(1)), context, maps)
        out, last = [], 0
        for match in matches:
            out.append(template[last:match.start()])
            last = match.end()
            if match.group(1) is None:
                out.append(match.group(0)[0])
                continue
            value = _value(parse_placeholder(match.group(1)), context, maps)
            out.append("" if value is None else str(value))
        out.append(template[last:])
        return "".join(out)
    if isinstance(template, Mapping):
        if "for_each" in template:
            items = resolve(context, str(template["for_each"])) or []
            built = [render(template.get("template", {}), {**context, "item": it}, maps)
                     for it in items]
            if not built:
                return None
            return {template["wrap"]: built} if template.get("wrap") else built
        rendered = {k: render(v, context, maps) for k, v in template.items()}
        return {k: v for k, v in rendered.items() if v is not None}
    if isinstance(template, list):
        return [render(v, context, maps) for v in template]
    return template


def _value(ph: Placeholder, context: Mapping[str, Any], maps: MapLookup | None) -> Any:
    if ph.name == "session":
        return SESSION_TOKEN
    value = resolve(context, ph.name)
    for fname, arg in ph.filters:
        value = apply_filter(fname, arg, value, maps)
    return value


def apply_filter(fname: str, arg: str | None, value: Any, maps: MapLookup | None = None) -> Any:
    if fname == "default":
        return _literal(arg or "") if value is None or value == "" else value
    if value is None:
        return None
    if fname == "map":
        if maps is None:
            raise TemplateError(f"no value maps to look {value!r} up in")
        return maps(arg or "", value)
    if fname == "int":
        return int(fa_to_en(ar_to_fa(str(value))).strip()) if isinstance(value, str) \
            else int(value)
    if fname == "str":
        return value.decode() if isinstance(value, bytes) else str(value)
    if fname == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "y")
        return bool(value)
    if fname == "base64":
        raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
        return base64.b64encode(raw).decode("ascii")
    if fname == "jalali":
        return to_jalali_text(value, arg)
    if fname == "gregorian":
        return to_gregorian_text(value, arg)
    if fname in ("upper", "lower", "strip"):
        return getattr(str(value), fname)()
    if fname == "latin_digits":
        return fa_to_en(ar_to_fa(str(value)))
    raise TemplateError(f"unknown filter {fname}")


def _literal(text: str) -> Any:
    """A default's argument: a number stays a number, quotes are dropped."""
    stripped = text.strip()
    if re.fullmatch(r"-?\d+", stripped):
        return int(stripped)
    return stripped.strip("\"'")


_JALALI_FORMATS = {None: "%Y/%m/%d", "": "%Y/%m/%d", "date": "%Y/%m/%d",
                   "datetime": "%Y/%m/%d %H:%M", "datetime-seconds": "%Y/%m/%d %H:%M:%S"}
_GREGORIAN_FORMATS = {None: "%Y-%m-%d", "": "%Y-%m-%d", "date": "%Y-%m-%d",
                      "datetime": "%Y-%m-%dT%H:%M:%S"}


def _local(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return aware.astimezone(TEHRAN).replace(tzinfo=None)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise TemplateError(f"{value!r} is not a date or time")


def to_jalali_text(value: Any, fmt: str | None = None) -> str:
    """A naive-UTC (or aware) time, or a date, in Iran's Jalali calendar."""
    local = _local(value)
    return JalaliDateTime.to_jalali(local).strftime(_JALALI_FORMATS.get(fmt, fmt or ""))


def to_gregorian_text(value: Any, fmt: str | None = None) -> str:
    return _local(value).strftime(_GREGORIAN_FORMATS.get(fmt, fmt or ""))


def resolve(obj: Any, path: str, default: Any = None) -> Any:
    """The value at a dotted path in a zeep answer, dict or list ('letter.number', 'items.0');
    ``default`` where any part is absent."""
    current = obj
    for part in path.split(".") if path else []:
        if current is None:
            return default
        if isinstance(current, Mapping):
            current = current.get(part, MISSING)
        elif isinstance(current, (list, tuple)) and part.isdigit():
            current = current[int(part)] if int(part) < len(current) else MISSING
        else:
            # zeep's CompoundValue supports both; attribute access covers plain objects too.
            try:
                current = current[part]
            except (KeyError, IndexError, TypeError, AttributeError):
                current = getattr(current, part, MISSING)
        if current is MISSING:
            return default
    return current


def resolve_answer(answer: Any, path: str) -> Any:
    """A path in a SOAP answer, written as ``--exchange`` shows it (starting at the children
    of ``<OperationResponse>``). zeep hands back a response's lone child without its wrapper
    (``LoginResponse{LoginResult{Ticket}}`` comes back as ``{Ticket}``, and
    ``{LoginResult: "abc"}`` as ``"abc"``), so a first part that is not there is skipped."""
    head, _, rest = path.partition(".")
    if not path or resolve(answer, head, MISSING) is not MISSING:
        return resolve(answer, path)
    # An answer with its XxxResult beside out-parameters: "Code" means XxxResult.Code.
    values = getattr(answer, "__values__", answer)
    wrapped = [k for k in values if str(k).endswith("Result")] if isinstance(
        values, Mapping) else []
    if len(wrapped) == 1 and resolve(values[wrapped[0]], head, MISSING) is not MISSING:
        return resolve(values[wrapped[0]], path)
    if not rest:
        scalar = answer is not None and not isinstance(answer, (Mapping, list, tuple)) and \
            not hasattr(answer, "__values__")
        return answer if scalar else None
    return resolve(answer, rest)


def put_session(value: Any, ticket: str) -> Any:
    """Rendered arguments with the live session ticket in place of its token."""
    if isinstance(value, str):
        return ticket if value == SESSION_TOKEN else value.replace(SESSION_TOKEN, ticket)
    if isinstance(value, dict):
        return {k: put_session(v, ticket) for k, v in value.items()}
    if isinstance(value, list):
        return [put_session(v, ticket) for v in value]
    return value


def as_list(value: Any) -> list[Any]:
    """A repeated element of an answer as a list: zeep gives one item bare and none as None."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]
