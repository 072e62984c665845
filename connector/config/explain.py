"""Pydantic's validation errors in plain words for the person who edits a file or a variable:
what is wrong with the value, and the line to write instead."""
from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

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
