"""The message catalog: every sentence Pishkhan says to a person, in Persian and English, by
code. The core raises errors carrying a :class:`connector.domain.errors.Message` (a code and
its parameters) and never a sentence; the portal and the command line render them here.

This package imports nothing of ours (import-linter holds it to that), so both the portal and
connector.cli may use it while the core proper never does. SMS texts are not here: they are the
SMS catalog's (sms/texts.py), which organizations may override.

Why not Flask-Babel: the core's messages must render in the CLI too, without Flask, and the
catalog is small (about a hundred entries, two languages); gettext's .po/.mo build step and
extraction tooling would cost more than these two dictionaries and one function.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .en import EN
from .fa import FA

__all__ = ["EN", "FA", "LOCALES", "render", "render_all"]

LOCALES = ("fa", "en")
CATALOGS: dict[str, Mapping[str, str]] = {"fa": FA, "en": EN}
_FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


class MessageLike(Protocol):
    code: str
    params: Mapping[str, Any]
    parts: tuple[Any, ...]


def render(message: MessageLike | str, locale: str = "fa", **params: Any) -> str:
    """The sentence for a message (or a bare code with ``params``) in ``locale``. Numbers are
    written with Persian digits in Persian. An unknown code is shown as it is, so a missing
    entry never breaks a page (a test keeps the catalog complete)."""
    if isinstance(message, str):
        code, values, parts = message, params, ()
    else:
        code, values, parts = message.code, {**message.params, **params}, message.parts
    if parts:
        return " ".join(render(p, locale) for p in parts)
    catalog = CATALOGS.get(locale, FA)
    template = catalog.get(code) or FA.get(code) or code
    shown = {k: _show(v, locale) for k, v in values.items()}
    try:
        return template.format(**shown)
    except (KeyError, IndexError, ValueError):
        return template


def _show(value: Any, locale: str) -> Any:
    if hasattr(value, "code") and hasattr(value, "params"):
        return render(value, locale)
    if locale == "fa" and isinstance(value, int) and not isinstance(value, bool):
        return str(value).translate(_FA_DIGITS)
    return value


def render_all(errors: Mapping[str, MessageLike | str], locale: str = "fa") -> dict[str, str]:
    """A field -> message mapping (a ValidationError's) as field -> sentence."""
    return {field: render(m, locale) for field, m in errors.items()}
