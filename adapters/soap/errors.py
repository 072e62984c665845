"""Which of the core's error classes a failed SOAP call is.

The core acts on the class: a transient failure is retried, an ambiguous one is looked up
(``find``) before anything is sent again, a permanent one waits for an admin, a configuration
one waits for a config change. Getting "ambiguous" wrong duplicates letters, because the
reference system's DeliverLetter is deliberately not idempotent.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
import zeep.exceptions

from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    ExternalError,
    PermanentError,
    TransientError,
)
from connector.plugins.secrets import scrub
from connector.plugins.unsent import PROXY_LOGIN, handshake_failure, proxy_failure

_AUTH_WORDS = ("authenticationfailed", "authentication failed", "unauthorized", "access denied",
               "invalid credentials", "invalidsecurity", "failedauthentication")


def classify(exc: BaseException, *, action: str, effectful: bool = False, posted: bool = False,
             loading_wsdl: bool = False, http_status: int | None = None,
             secrets: Iterable[str] = ()) -> ExternalError:
    """The error to raise for ``exc``, raised while doing ``action`` (a WSDL operation name, or
    a description). ``effectful``: the call changes the other side (delivering), so a failure
    after the request left us may have taken effect. ``posted``: the request was handed to the
    HTTP layer (zeep's own errors before that mean our arguments do not fit the WSDL).
    ``http_status``: the status of the answer, where one arrived."""
    if isinstance(exc, ExternalError):
        return exc

    def make(cls: type[ExternalError], text: str) -> ExternalError:
        return cls(scrub(f"{action}: {text}", secrets))

    def unknown_outcome(text: str) -> ExternalError:
        if effectful:
            return make(AmbiguousError, f"{text}; the call may have taken effect — look the "
                                        "letter up before sending it again")
        return make(TransientError, text)

    # --- the network: nothing answered, or the answer never arrived ---
    if isinstance(exc, requests.exceptions.SSLError):
        reason = handshake_failure(exc)
        if reason is None and posted:
            # Closed after the request was written: a connection cut mid-answer (after which
            # a delivery may be in, and a read may simply be tried again) — or, as TLS 1.3
            # sometimes reports it, a client certificate the system refused.
            return unknown_outcome("the TLS connection closed after the request was written "
                                   f"({_short(exc)}); if it keeps happening, check that the "
                                   "system accepts adapter.client_cert")
        return make(ConfigurationError, "the TLS handshake failed — check adapter.verify "
                                        f"and adapter.client_cert ({reason or _short(exc)})")
    at_proxy = proxy_failure(exc, "the system")
    if at_proxy is not None:
        return make(*at_proxy)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return make(TransientError, "no connection within the timeout (nothing was sent)")
    if isinstance(exc, requests.exceptions.ReadTimeout):
        if loading_wsdl:
            return make(TransientError, "the WSDL did not arrive within the timeout")
        return unknown_outcome("no answer within the timeout")
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = _connect_reason(exc)
        if reason or loading_wsdl:
            return make(TransientError, f"cannot connect to {_host(exc)} "
                                        f"({reason or _short(exc)}); nothing was sent")
        return unknown_outcome(f"the connection broke before the answer ({_short(exc)})")
    if isinstance(exc, requests.exceptions.HTTPError) and exc.response is not None:
        return _by_status(exc.response.status_code, make, unknown_outcome, loading_wsdl)
    if isinstance(exc, requests.exceptions.RequestException):
        # InvalidURL, MissingSchema and friends: the address itself is wrong.
        return make(ConfigurationError, f"the address cannot be used ({_short(exc)}) — "
                                        "check adapter.wsdl")

    if loading_wsdl:
        # Whatever zeep or lxml disliked in the document (DTD, entities, syntax, lookups).
        return make(ConfigurationError, f"the document is not a usable WSDL ({_short(exc)}) — "
                                        "check that adapter.wsdl points at the service's ?wsdl")

    # --- an answer arrived ---
    if isinstance(exc, zeep.exceptions.Fault):
        code = (exc.code or "").rsplit(":", 1)[-1]
        text = f"{exc.message or 'fault'}"[:200]
        if http_status in (401, 403) or any(w in f"{text} {code}".lower() for w in _AUTH_WORDS):
            return make(ConfigurationError, f"the system refused our credentials ({text}) — "
                                            "check the username and password variables")
        if code in ("Server", "Receiver"):
            # WCF services raise these after their transaction has committed, too: on a step
            # that writes (and is not marked idempotent) the letter may be in.
            where = f" (HTTP {http_status})" if http_status else ""
            if http_status == 503:  # refused before any work: unavailable
                return make(TransientError, f"server fault {text}{where}")
            return unknown_outcome(f"server fault {text}{where}")
        if code in ("Client", "Sender"):
            return make(PermanentError, f"the system rejected the call: {text}")
        return unknown_outcome(f"unexpected answer ({text})")
    if isinstance(exc, zeep.exceptions.TransportError):
        return _by_status(exc.status_code, make, unknown_outcome, loading_wsdl)
    if not posted and isinstance(exc, (zeep.exceptions.Error, TypeError, ValueError)):
        return make(ConfigurationError, f"the profile's arguments do not fit the WSDL "
                                        f"({_short(exc)}) — check the profile")
    if isinstance(exc, zeep.exceptions.Error):
        if effectful:
            return unknown_outcome(f"the answer cannot be read ({_short(exc)})")
        return make(PermanentError, f"the answer does not match the WSDL ({_short(exc)})")
    if posted and effectful:
        return unknown_outcome(f"unexpected {type(exc).__name__}")
    return make(PermanentError, f"unexpected {type(exc).__name__}: {_short(exc)}")


def _by_status(status: int, make: Callable[[type[ExternalError], str], ExternalError],
               unknown_outcome: Callable[[str], ExternalError],
               loading_wsdl: bool) -> ExternalError:
    if status in (401, 403):
        return make(ConfigurationError, f"HTTP {status}: access refused — check the "
                                        "credentials and that this server allows us in")
    if status == 407:  # only a proxy answers so: the request went no further
        return make(ConfigurationError, f"HTTP 407: the proxy refused to pass us on; "
                                        f"{PROXY_LOGIN}")
    if status in (404, 405, 410):
        return make(ConfigurationError, f"HTTP {status}: no service at this address — "
                                        "check adapter.wsdl")
    if status in (408, 429, 503):
        # Refused before any work: too busy, too many requests, not accepting.
        return make(TransientError, f"HTTP {status}: the service is unavailable")
    if 500 <= status < 600:
        # 500 without a SOAP fault, 502, 504: a proxy or the service gave up, possibly after
        # the call took effect — ambiguous for a delivery, transient for a read.
        return unknown_outcome(f"HTTP {status} from the service or a proxy in front of it")
    if 400 <= status < 500:
        return make(PermanentError, f"HTTP {status}: the request was refused")
    if loading_wsdl:
        return make(ConfigurationError, f"HTTP {status}: not a WSDL")
    return unknown_outcome(f"HTTP {status} with an answer that is not SOAP")


def _connect_reason(exc: requests.exceptions.ConnectionError) -> str | None:
    """Why no connection was made (refused, unresolvable, unreachable), or None when one was —
    then the request may have left this machine."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, urllib3.exceptions.NewConnectionError):  # NameResolutionError too
            # urllib3 says "HTTPConnection(host=..., port=...): Failed to ...: [Errno 111] ..."
            return str(e).split("): ", 1)[-1]
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        todo.extend([getattr(e, "reason", None), e.__cause__, e.__context__,
                     *[a for a in e.args if isinstance(a, BaseException)]])
    return None


def _host(exc: requests.exceptions.RequestException) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None) or ""
    return urlsplit(url).netloc.rsplit("@", 1)[-1] or "the service"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]
