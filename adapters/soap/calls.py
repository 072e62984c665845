"""One SOAP call of a profile step: the session ticket put in, the result code read, a call the
system refused for an expired session repeated once with a fresh ticket, and every failure
classified (errors.py) with secrets and tickets masked."""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import zeep.exceptions
from lxml import etree

from connector.domain import clock
from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    PermanentError,
    TransientError,
)
from connector.plugins.secrets import scrub

from .errors import classify
from .model import Profile, Session
from .runner import AlreadyExists, NotFound
from .session import SessionKeeper
from .templates import MapLookup, put_session, render, resolve_answer
from .transport import RecordingTransport

log = logging.getLogger(__name__)

_ERRORS = {"transient": TransientError, "permanent": PermanentError,
           "configuration": ConfigurationError, "ambiguous": AmbiguousError}


class _Relogin(Exception):
    """The system says the session ticket is no longer good."""


class Caller:
    """Makes a profile's calls through one zeep service; shared by threads."""

    def __init__(self, profile: Profile, service_of: Callable[[], tuple[Any, RecordingTransport]],
                 base_context: Callable[[], dict[str, Any]], secrets: Callable[[], list[str]],
                 maps: MapLookup) -> None:
        self.profile = profile
        self._service_of = service_of
        self._base_context = base_context
        self._base_secrets = secrets
        self._maps = maps
        spec = profile.session
        self.session: SessionKeeper | None = None
        if spec is not None:
            self.session = SessionKeeper(lambda: self._login(spec), spec.lifetime_seconds,
                                         (lambda t: self._logout(spec, t)) if spec.logout
                                         else None)

    def secrets(self) -> list[str]:
        return self._base_secrets() + (self.session.seen() if self.session else [])

    # -- a step's call ----------------------------------------------------------------------

    def call(self, spec: Any, kwargs: dict[str, Any], effectful: bool) -> Any:
        """The answer to ``spec.call`` (a step or a look-up) with ``kwargs``. ``effectful``: the
        operation writes, so a failure after sending is ambiguous unless the step is marked
        idempotent."""
        effectful = effectful and not getattr(spec, "idempotent", True)
        codes = {**(self.profile.session.codes if self.profile.session else {}),
                 **getattr(spec, "codes", {})}
        for attempt in (1, 2):
            ticket = self.session.ticket() if self.session else None
            try:
                answer = self._invoke(spec.call, kwargs, ticket, effectful)
                return self._check(spec.call, answer, codes)
            except _Relogin:
                assert self.session is not None and ticket is not None
                self.session.expire(ticket)
                if attempt == 2:
                    raise TransientError(f"{spec.call}: the system refused a fresh session "
                                         "ticket too; will try again later") from None
                log.info("%s: session expired; logging in again", spec.call)
        raise AssertionError("unreachable")

    def _invoke(self, name: str, kwargs: dict[str, Any], ticket: str | None,
                effectful: bool) -> Any:
        service, transport = self._service_of()
        spec = self.profile.session
        headers: dict[str, str] = {}
        extra: dict[str, Any] = {}
        if ticket is not None and spec is not None:
            kwargs = put_session(kwargs, ticket)  # {session} may appear in any mode
            if spec.pass_as == "header":
                extra["_soapheaders"] = [self._header(spec, ticket, service)]
            elif spec.pass_as == "cookie":
                headers["Cookie"] = f"{spec.cookie}={ticket}"
        transport.begin(headers)
        try:
            return service[name](**kwargs, **extra)
        except Exception as exc:
            if spec is not None and ticket and (
                    (isinstance(exc, zeep.exceptions.Fault) and _matches(exc, spec.relogin_faults))
                    or transport.status == 401):  # a session-cookie service's "log in again"
                raise _Relogin() from exc
            raise classify(exc, action=name, effectful=effectful, posted=transport.posted,
                           http_status=transport.status, secrets=self.secrets()) from exc

    def _check(self, name: str, answer: Any, codes: Mapping[str, str]) -> Any:
        """The answer, or the signal or error its result code stands for."""
        status = self.profile.status
        if status is None:
            return answer
        kind, code, message = status.classify(answer, codes)
        if kind in ("ok", "ignore"):
            return answer
        if kind == "relogin" and self.session is not None:
            raise _Relogin()
        if kind == "not-found":
            raise NotFound(f"{name}: code {code}")
        if kind == "already-exists":
            raise AlreadyExists(answer)
        error = _ERRORS.get(kind, TransientError)
        raise error(scrub(f"{name}: the system answered code {code}"
                          + (f" ({message})" if message else ""), self.secrets()))

    # -- the session ------------------------------------------------------------------------

    def _login(self, spec: Session) -> str:
        service, transport = self._service_of()
        context = self._base_context()
        kwargs = render(spec.args, context, self._maps) or {}
        transport.begin()
        try:
            answer = service[spec.call](**kwargs)
        except Exception as exc:
            raise classify(exc, action=f"{spec.call} (login)", posted=transport.posted,
                           http_status=transport.status, secrets=self.secrets()) from exc
        status = self.profile.status
        if status is not None:
            kind, code, message = status.classify(answer, spec.codes)
            if kind not in ("ok", "ignore"):
                cls = ConfigurationError if kind in ("relogin", "permanent", "configuration",
                                                     "not-found") else _ERRORS.get(
                    kind, TransientError)
                raise cls(scrub(f"{spec.call} (login): the system answered code {code}"
                                + (f" ({message})" if message else "")
                                + " — check the username and password variables",
                                self.secrets()))
        ticket = resolve_answer(answer, spec.ticket) if spec.ticket else \
            transport.session.cookies.get(spec.cookie)
        if ticket is None or str(ticket).strip() == "":
            raise ConfigurationError(
                f"{spec.call} (login) answered without a ticket at "
                f"{spec.ticket or 'cookie ' + spec.cookie!r} — check session.ticket in the "
                "profile against the login answer (adapter check --exchange shows it)")
        return str(ticket)

    def _logout(self, spec: Session, ticket: str) -> None:
        assert spec.logout is not None
        service, transport = self._service_of()
        kwargs = put_session(render(spec.logout.args, self._base_context(), self._maps) or {},
                             ticket)
        transport.begin()
        service[spec.logout.call](**kwargs)

    def _header(self, spec: Session, ticket: str, service: Any) -> etree._Element:
        namespace = spec.header_namespace or _target_namespace(service)
        outer, _, inner = spec.header.partition(".")
        element = etree.Element(etree.QName(namespace, outer) if namespace else outer)
        if inner:
            child = etree.SubElement(element, etree.QName(namespace, inner) if namespace
                                     else inner)
            child.text = ticket
        else:
            element.text = ticket
        return element


def _matches(fault: zeep.exceptions.Fault, needles: tuple[str, ...]) -> bool:
    text = f"{fault.code or ''} {fault.message or ''} {fault.subcodes or ''}".lower()
    return any(n.lower() in text for n in needles)


def _target_namespace(service: Any) -> str:
    try:
        return str(service._binding.name.namespace or "")
    except AttributeError:
        return ""


def now_utc() -> datetime:
    return clock.now()
