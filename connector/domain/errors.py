"""Errors shared by the core and the adapters that plug into it.

External calls fail in three ways that call for different handling, so adapters must raise the
right class: a *transient* failure may simply be retried, a *permanent* one needs a person, and an
*ambiguous* one (a timeout after the request was sent) may have taken effect — the letter or SMS
must be looked up before anything is sent again.
"""
from __future__ import annotations


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
    """Bad input from a person. ``errors`` maps a field name to a plain Persian message."""

    def __init__(self, errors: dict[str, str]) -> None:
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
