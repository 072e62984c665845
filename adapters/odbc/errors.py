"""Which of the core's error classes a failed ODBC call is, from its SQLSTATE.

Only a failure while committing can be ambiguous: before the commit nothing the call did is
visible to anyone, and the database rolls it back when the connection goes.
"""
from __future__ import annotations

from collections.abc import Iterable

from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    ExternalError,
    PermanentError,
    TransientError,
)

# SQLSTATE classes and codes (ISO/ODBC); drivers fill in the rest of the message.
_CONFIGURATION = ("28", "42", "IM", "3D", "3F")  # credentials, SQL/objects, driver, database
_PERMANENT = ("22", "23", "44")                   # data, constraints
# Drivers that answer HY000 for everything (SQLite's) still say what is wrong in words.
_SQL_WORDS = ("no such table", "no such column", "syntax error", "does not exist",
              "doesn't exist", "unknown column")
_LINK = ("08S01", "08003", "08007", "HYT00", "HYT01", "08006")


def sqlstate(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    return str(args[0]) if args and isinstance(args[0], str) and len(args[0]) == 5 else ""


def classify(exc: BaseException, *, action: str, committing: bool = False,
             connecting: bool = False, secrets: Iterable[str] = ()) -> ExternalError:
    if isinstance(exc, ExternalError):
        return exc
    state = sqlstate(exc)
    text = str(exc.args[1] if len(getattr(exc, "args", ())) > 1 else exc)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = " ".join(text.split())[:500]
    detail = f"{action}: {state or 'error'} {text}"
    if committing and (state in _LINK or state.startswith("08") or not state):
        return AmbiguousError(f"{detail}; the commit may have gone through — look the letter "
                              "up before sending it again")
    if state == "08001" and any(w in text.lower() for w in ("password", "authentication",
                                                            "access denied")):
        return ConfigurationError(f"{detail} — check adapter.username_env and "
                                  "adapter.password_env")
    if "can't open lib" in text.lower() or "data source name not found" in text.lower():
        return ConfigurationError(f"{detail} — the ODBC driver named in adapter.connection is "
                                  "not installed (see odbcinst -q -d)")
    if state[:2] in _CONFIGURATION or state == "08004" or any(w in text.lower()
                                                                for w in _SQL_WORDS):
        return ConfigurationError(f"{detail} — check adapter.connection and adapter.profile")
    if state[:2] in _PERMANENT:
        return PermanentError(detail)
    if connecting:
        return TransientError(f"{action}: cannot connect to the database ({state} {text}) — is "
                              "it running and reachable, and is adapter.connection right?")
    return TransientError(detail)
