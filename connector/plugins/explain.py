"""Pydantic's validation errors in plain words for the person who edits a file or a variable:
what is wrong with the value, and the line to write instead."""
from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from connector.domain.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)

_KINDS = {
    "int": "a whole number", "float": "a number", "bool": "true or false",
    "string": "text in quotes", "list": "a list in brackets, like [\"a\", \"b\"]",
    "dict": "a table", "model": "a table", "model_attributes": "a table",
}
_BOUNDS = {"greater_than_equal": ("ge", "at least"), "less_than_equal": ("le", "at most"),
           "greater_than": ("gt", "more than"), "less_than": ("lt", "less than")}


def toml_value(value: Any) -> str:
    """A value as it is written in TOML (for the suggested line)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def _typename(value: Any) -> str:
    return {str: "text", int: "a whole number", float: "a number", bool: "true/false",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)


def what_is_wrong(err: Any) -> str:
    """The message for one pydantic error (``err`` as given by ``ValidationError.errors()``)."""
    kind: str = err["type"]
    ctx = err.get("ctx") or {}
    given = err.get("input")
    if kind == "missing":
        return "is missing"
    if kind == "extra_forbidden":
        return "is not a key this table knows"
    if kind == "literal_error":
        return f"is {given!r}, which is not one of the choices"
    if kind in _BOUNDS:
        word = _BOUNDS[kind][1]
        limit = next(iter(ctx.values()), "?")
        return f"is {given!r}, but must be {word} {limit}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length', 1)} entry"
    if kind == "string_pattern_mismatch":
        return f"{given!r} does not have the right form"
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    base = kind.split("_")[0] if not kind.startswith("model_attributes") else "model"
    if base in _KINDS:
        return f"must be {_KINDS[base]}, not {_typename(given)}"
    return err["msg"]


def field_at(model: type[BaseModel], loc: Sequence[Any]) -> tuple[type[BaseModel] | None,
                                                                  FieldInfo | None]:
    """The model that holds the last key of ``loc`` and that key's field (None when unknown),
    walking nested models and lists of models."""
    current: Any = model
    info: FieldInfo | None = None
    holder: type[BaseModel] | None = None
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return holder, None
        holder = current
        info = current.model_fields.get(str(part))
        if info is None:
            return holder, None
        current = _inner_model(info.annotation)
    return holder, info


def _inner_model(annotation: Any) -> Any:
    """The model inside ``X``, ``list[X]`` or ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def bounds(info: FieldInfo) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for meta in info.metadata:
        for name in ("ge", "le", "gt", "lt"):
            if getattr(meta, name, None) is not None:
                found[name] = getattr(meta, name)
    return found


def example(info: FieldInfo | None) -> Any:
    """A good value for the field: its first example, else its default."""
    if info is None:
        return None
    if info.examples:
        return info.examples[0]
    default = info.get_default(call_default_factory=True)
    return None if default in (None, "", [], {}) else default


def suggestion(word: str, known: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def key_of(loc: Sequence[Any]) -> str:
    """``("units", 0, "code")`` as written in messages: ``units[0].code``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe(model: type[BaseModel], err: Any, fixes: Mapping[str, str] | None = None
             ) -> tuple[str, str, str]:
    """One pydantic error as (key, what is wrong, how to fix it). ``fixes`` gives the fix for
    keys one example value cannot show (by dotted key without indexes, or by name)."""
    loc = tuple(err["loc"])
    key = key_of(loc)
    holder, info = field_at(model, loc)
    name = str(next((p for p in reversed(loc) if isinstance(p, str)), key))
    plain = re.sub(r"\[\d+\]", "", key)
    message = what_is_wrong(err)
    fixes = fixes or {}
    inner = _inner_model(info.annotation) if info is not None else None
    # A key inside a free-form table (sms.texts.KIND) takes the table's fix.
    table = None if info is not None else next(
        (k for k in fixes if plain.startswith(k + ".")), None)
    if inner is not None and err["type"] in ("list_type", "model_type", "dict_type",
                                              "model_attributes_type"):
        # A table (or an array of tables) written as a plain value.
        many = err["type"] == "list_type" or "list" in str(info.annotation)
        message = f"must be {'[[' + plain + ']] tables' if many else 'a table: [' + plain + ']'}"
    if err["type"] == "extra_forbidden":
        known = list(holder.model_fields) if holder else []
        close = suggestion(name, known)
        fix = (f"did you mean {close}? rename it, or remove it" if close else
               f"remove it; this table knows: {', '.join(known)}")
    elif err["type"] == "literal_error":
        fix = "use one of: " + ", ".join(re.findall(r"'([^']*)'", err["ctx"]["expected"]))
    elif plain in fixes or name in fixes:
        fix = fixes.get(plain) or fixes[name]
    elif table is not None:
        fix = fixes[table]
    elif inner is not None:
        fix = f"write [{plain}] on a line of its own, with its keys on the lines below it"
    elif err["type"] == "value_error" and " — " in message:
        message, fix = message.split(" — ", 1)
    else:
        fix = ""
        limits = bounds(info) if info else {}
        if limits:
            words = {"ge": "at least", "le": "at most", "gt": "more than", "lt": "less than"}
            fix = "use a number " + " and ".join(f"{words[k]} {v}" for k, v in limits.items())
        good = example(info)
        if good is not None:
            fix += ("; " if fix else "") + f"write {name} = {toml_value(good)}"
        fix = fix or f"correct {name}"
    return key, message, fix


def check_options(model: type[M], options: Mapping[str, Any], where: str, sep: str = ".",
                  fixes: Mapping[str, str] | None = None) -> M:
    """A plugin's options read into its model; the first mistake is a ConfigurationError
    like ``adapter.timeout is 'fast', ... — write timeout = 10`` (``where``: "adapter")."""
    try:
        return model.model_validate(dict(options))
    except ValidationError as exc:
        # A misspelled key first: it explains the "missing" one that comes with it.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        key, message, fix = describe(model, errors[0], fixes)
        # A check across options names its keys in the message itself.
        name = f"{where}{sep}{key} {message}" if key else f"{where}{sep}{message}"
        raise ConfigurationError(f"{name} — {fix}") from None
