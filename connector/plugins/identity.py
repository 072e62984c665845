"""Identity look-ups: the civil registry (national code -> name, father's name, alive) and
mobile ownership (Shahkar-style: does this mobile belong to this national code?).

Both are ports (connector/plugins/ports.py); the providers are licensed intermediaries or a
government bus and differ, so the one adapter shipped (``http``, adapters/identity_http.py) is
configured by a profile file named in ``PISHKHAN_IDENTITY_PROFILE`` (config/identity/sandbox.toml
talks to the sandbox's registry).
Without a profile look-ups are off and the desk types names by hand.

Results are cached briefly (personal data: in memory only, keyed by a hash, gone at restart)
and every look-up — cached or not, found or not, failed or not — is written to the audit chain.
A person is waiting at a desk, so a failing registry gets one quick retry, then the desk is told
to type the name from the card.

It lives with the plugins (not with people) because letter submission uses it too, and letters
sit below people in the core's layers.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connector.domain.errors import (
    ConfigurationError,
    ExternalError,
    Message,
    TransientError,
    ValidationError,
    msg,
)
from connector.domain.normalize import mask_id, national_code
from connector.domain.normalize import mobile as clean_mobile
from connector.plugins import registry
from connector.plugins.ports import Person
from connector.store import audit

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

log = logging.getLogger(__name__)
GROUP = "pishkhan.identity"
MSG_OFF = msg("identity.off")
MSG_DOWN = msg("identity.down")
MSG_NOT_FOUND = msg("identity.not_found")
MSG_DEAD = msg("identity.dead")
MSG_NOT_OWNER = msg("identity.not_owner")


@dataclass(frozen=True)
class Outcome:
    status: str  # found | not_found | match | mismatch | unavailable | off
    person: Person | None = None
    message: Message | None = None  # what to tell the desk or the citizen, if anything
    cached: bool = False


class _Cache:
    def __init__(self) -> None:
        self._rows: dict[str, tuple[float, Outcome]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Outcome | None:
        with self._lock:
            row = self._rows.get(key)
            if row is None or row[0] < time.monotonic():
                self._rows.pop(key, None)
                return None
            return row[1]

    def put(self, key: str, outcome: Outcome, ttl: float) -> None:
        with self._lock:
            if len(self._rows) > 10_000:  # bounded: drop the oldest half
                for k in sorted(self._rows, key=lambda k: self._rows[k][0])[:5_000]:
                    del self._rows[k]
            self._rows[key] = (time.monotonic() + ttl, outcome)


@dataclass
class Lookups:
    """What one process uses: the adapter (or None when off) and the cache."""

    adapter: Any
    ttl: float
    cache: _Cache


# By the Pishkhan's id, with a weak reference to it: a closed one is not kept alive (the tests
# make hundreds), and a new one at a reused id is told apart.
_built: dict[int, tuple[weakref.ref[Any], Lookups]] = {}
_built_lock = threading.Lock()


def lookups(px: Pishkhan) -> Lookups:
    """Built once per Pishkhan from its environment."""
    with _built_lock:
        held = _built.get(id(px))
        if held is not None and held[0]() is px:
            return held[1]
        env = px.settings.env
        path = px.settings.identity_profile.strip()
        adapter: Any = None
        if path:
            try:
                adapter = build_adapter(Path(path), env)
            except ConfigurationError as exc:
                # A broken profile must not break the desk's pages: every look-up answers
                # "type the name" and its audit record carries the reason.
                log.error("identity profile %s: %s", path, exc.detail)
                adapter = _Misconfigured(exc.detail)
        made = Lookups(adapter, px.settings.identity_cache_seconds, _Cache())
        for key in [k for k, (ref, _) in _built.items() if ref() is None]:
            del _built[key]
        _built[id(px)] = (weakref.ref(px), made)
        return made


class _Misconfigured:
    def __init__(self, detail: str) -> None:
        self.detail = detail

    def lookup(self, national_code: str, birth_date: str | None = None) -> Person | None:
        raise ConfigurationError(self.detail)

    def owns(self, mobile: str, national_code: str) -> bool:
        raise ConfigurationError(self.detail)


def build_adapter(path: Path, env: Any) -> Any:
    import tomllib
    try:
        options = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"identity profile {path}: {exc}") from None
    kind = str(options.pop("type", "http"))
    return registry.create(GROUP, kind, options, env)


def _key(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _call(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except TransientError:
        time.sleep(0.2)
        return fn(*args)


def _record(px: Pishkhan, action: str, org: str, code: str, outcome: Outcome,
            purpose: str, detail: str = "") -> None:
    audit.log(px, action, org=org, who=mask_id(code), outcome=outcome.status,
              cached=outcome.cached or None, purpose=purpose or None, error=detail or None)


def lookup_person(px: Pishkhan, typed_code: str, *, org: str = "", purpose: str = "",
                  birth_date: str | None = None) -> Outcome:
    code = national_code(typed_code) or ""
    found = lookups(px)
    if found.adapter is None or not code:
        return Outcome("off", message=MSG_OFF if not found.adapter else MSG_NOT_FOUND)
    key = _key("person", code, birth_date or "")
    cached = found.cache.get(key)
    if cached is not None:
        outcome = Outcome(cached.status, cached.person, cached.message, cached=True)
        _record(px, "identity.lookup", org, code, outcome, purpose)
        return outcome
    try:
        person = _call(found.adapter.lookup, code, birth_date)
    except ExternalError as exc:
        outcome = Outcome("unavailable", message=MSG_DOWN)
        _record(px, "identity.lookup", org, code, outcome, purpose, f"{exc.kind}: {exc.detail}")
        return outcome
    if person is None:
        outcome = Outcome("not_found", message=MSG_NOT_FOUND)
    else:
        outcome = Outcome("found", person, None if person.alive else MSG_DEAD)
    found.cache.put(key, outcome, found.ttl)
    _record(px, "identity.lookup", org, code, outcome, purpose)
    return outcome


def check_mobile(px: Pishkhan, typed_mobile: str, typed_code: str, *, org: str = "",
                 purpose: str = "") -> Outcome:
    code, mobile = national_code(typed_code) or "", clean_mobile(typed_mobile) or ""
    found = lookups(px)
    if found.adapter is None or not code or not mobile:
        return Outcome("off", message=MSG_OFF)
    key = _key("mobile", code, mobile)
    cached = found.cache.get(key)
    if cached is not None:
        outcome = Outcome(cached.status, message=cached.message, cached=True)
        _record(px, "identity.mobile", org, code, outcome, purpose)
        return outcome
    try:
        owns = _call(found.adapter.owns, mobile, code)
    except ExternalError as exc:
        outcome = Outcome("unavailable", message=MSG_DOWN)
        _record(px, "identity.mobile", org, code, outcome, purpose, f"{exc.kind}: {exc.detail}")
        return outcome
    outcome = Outcome("match") if owns else Outcome("mismatch", message=MSG_NOT_OWNER)
    found.cache.put(key, outcome, found.ttl)
    _record(px, "identity.mobile", org, code, outcome, purpose)
    return outcome


def require_owner(px: Pishkhan, org: str, mobile: str, national_code_: str) -> None:
    """For organizations with ``[identity] mobile_check = true``: a letter in a person's name
    needs a mobile that is theirs. A mismatch is refused with a plain message; a registry that
    does not answer lets the letter through (a citizen is not turned away for our outage) — the
    audit record says the check could not be made."""
    outcome = check_mobile(px, mobile, national_code_, org=org, purpose="letter")
    if outcome.status == "mismatch":
        raise ValidationError({"national_code": MSG_NOT_OWNER})
