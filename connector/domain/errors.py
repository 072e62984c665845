"""Errors shared by the core and the adapters that plug into it.

External calls fail in three ways that call for different handling, so adapters must raise the
right class: a *transient* failure may simply be retried, a *permanent* one needs a person, and an
*ambiguous* one (a timeout after the request was sent) may have taken effect — the letter or SMS
must be looked up before anything is sent again.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Message:
    """What to tell a person, as a code and its parameters. The sentence, in Persian or
    English, is the message catalog's (the top-level ``messages`` package), which the portal
    and the command line render; the core never holds the words. ``parts``: several messages
    said one after another (each refused attachment, say)."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)
    parts: tuple[Message, ...] = ()

    def __str__(self) -> str:  # for logs and tests; people see the catalog's sentence
        if self.parts:
            return " ".join(str(p) for p in self.parts)
        return self.code + (f" {dict(self.params)}" if self.params else "")


def msg(code: str, **params: Any) -> Message:
    return Message(code, params)


class PishkhanError(Exception):
    """Base of every error the core raises on purpose."""


class ExternalError(PishkhanError):
    """A call to an outside system failed; ``detail`` is safe to show an admin (no secrets)."""

    kind = "external"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TransientError(ExternalError):
    """Nothing happened on the other side; retry later with backoff."""

    kind = "transient"


class PermanentError(ExternalError):
    """Retrying cannot help (rejected input, unknown object); an admin must look."""

    kind = "permanent"


class AmbiguousError(ExternalError):
    """The call may have taken effect; reconcile (look it up) before any retry."""

    kind = "ambiguous"


class ConfigurationError(ExternalError):
    """Wrong credentials, address or settings; retrying will not help until config changes."""

    kind = "configuration"


class InvalidTransition(PishkhanError):
    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"letter cannot move from {current} to {target}")
        self.current = current
        self.target = target


class ValidationError(PishkhanError):
    """Bad input from a person. ``errors`` maps a field name to the :class:`Message` to show
    by it."""

    def __init__(self, errors: dict[str, Message]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotFound(PishkhanError):
    pass


class Forbidden(PishkhanError):
    pass


class RateLimited(PishkhanError):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class TryLater(ValidationError):
    """The input could not be checked now (the virus scanner is down): nothing was stored, the
    person may send the same again in a few minutes."""
