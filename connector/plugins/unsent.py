"""What a failed connection says about whether the request left: the failures that come before
the other side could see it — at a proxy, or in the TLS handshake. The SOAP adapter and the
SMS gateways share these, so that such a failure is retried or handed on (nothing was sent)
rather than taken for a call that may have taken effect; anything not recognized here is left
to the caller's own, more cautious classification.

Where an error was raised says more than what it says: OpenSSL gives "wrong version number"
for a handshake with something that is not TLS, and also for a plaintext page a middlebox
injects after the request; urllib3 calls an error a proxy error also when the connection was
closed after the request went through the proxy. So the handshake and the proxy's CONNECT are
recognized by the functions they were raised in."""
from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Iterator

import requests
import urllib3.exceptions

from connector.domain.errors import ConfigurationError, ExternalError, TransientError

# http.client's words when a proxy answers CONNECT with anything but 200.
_TUNNEL = re.compile(r"Tunnel connection failed: (\d{3})([^'\")]*)")

# The other side refusing our certificate. Over TLS 1.3 these come on the first read, after the
# request was written; but the server refused the connection in its handshake, before it read
# any request (OpenSSL-based servers, IIS and Java alike).
_OUR_CERTIFICATE_REFUSED = frozenset({
    "SSLV3_ALERT_BAD_CERTIFICATE", "SSLV3_ALERT_CERTIFICATE_UNKNOWN", "TLSV1_ALERT_UNKNOWN_CA",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_CERTIFICATE_EXPIRED",
    "SSLV3_ALERT_CERTIFICATE_REVOKED", "TLSV1_ALERT_ACCESS_DENIED"})

# What a connection to a proxy failing looks like before anything was written to it.
_NOT_CONNECTED = (ConnectionRefusedError, socket.gaierror)

# The errors of a proxy, or of a wait for its answer to CONNECT (counted as a read): the only
# ones :func:`proxy_unreached` may speak for (a plain connection refused is no proxy's).
_AT_A_PROXY = (urllib3.exceptions.ProxyError, urllib3.exceptions.ReadTimeoutError,
               requests.exceptions.ProxyError, requests.exceptions.ReadTimeout)

# What the admin should do about a proxy that refused (by its status).
PROXY_LOGIN = ("the proxy wants a login: write its user name and password in HTTPS_PROXY and "
               "HTTP_PROXY, before the proxy's address")
PROXY_POLICY = "ask for the address to be allowed through the proxy, or name it in NO_PROXY"


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every error it wraps: its cause, and errors among its arguments (as urllib3's
    and requests' wrappers hold them) or as a ``reason`` or ``original_error``."""
    seen: set[int] = set()
    found: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        found.append(e)
        # Not __context__: an error handled earlier on the same thread (a first attempt's)
        # would be taken for part of this one.
        todo.extend([e.__cause__, getattr(e, "reason", None),
                     getattr(e, "original_error", None), *e.args])
    return found


def _frames(exc: BaseException) -> Iterator[str]:
    """The names of the functions ``exc`` passed through, from where it was caught inward."""
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame.f_code.co_name
        tb = tb.tb_next


def _raised_in(exc: BaseException, function: str) -> BaseException | None:
    """The error in ``exc``'s chain that was raised within ``function``, if any."""
    for e in _chain(exc):
        if function in _frames(e):
            return e
    return None


def handshake_failure(exc: BaseException) -> str | None:
    """What failed, if ``exc`` came from a TLS handshake (the other side's certificate not
    verified, no protocol both sides speak, ...) or is the other side refusing our
    certificate; the request was not read. Other TLS errors (a record broken mid-answer) may
    come after the request left; for them, None."""
    for e in _chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"certificate not accepted: {e.verify_message or e}"
        if isinstance(e, ssl.SSLError) and (
                getattr(e, "reason", None) in _OUR_CERTIFICATE_REFUSED
                or "do_handshake" in _frames(e)):
            return str(e)[:200]
    return None


def tunnel_refused(exc: BaseException) -> tuple[int, str] | None:
    """The status and reason a proxy gave when it would not open a tunnel (CONNECT) to the
    other side, if that is what ``exc`` says; the request never went beyond the proxy."""
    for e in _chain(exc):
        # http.client's own error, raised in the CONNECT exchange: not any text an answer to
        # the request itself could carry.
        found = _TUNNEL.search(str(e)) if type(e) is OSError and "_tunnel" in _frames(e) \
            else None
        if found is not None:
            return int(found.group(1)), found.group(2).strip()
    return None


def proxy_unreached(exc: BaseException) -> BaseException | None:
    """The error, if ``exc`` says the proxy itself could not be reached or did not answer our
    CONNECT (in time): nothing went beyond it. A connection closed or reset after the request
    was written through the proxy is not this, whatever the wrapper calls it."""
    for e in _chain(exc):
        if isinstance(e, _NOT_CONNECTED) or type(e).__name__ in (
                "NewConnectionError", "NameResolutionError", "ConnectTimeoutError"):
            return e
    return _raised_in(exc, "_tunnel")


def proxy_failure(exc: BaseException, other_side: str
                  ) -> tuple[type[ExternalError], str] | None:
    """The class and text of a failure at the proxy, before anything went beyond it: a
    refused tunnel (a setting to fix; transient when the proxy could not reach
    ``other_side``), or a proxy that could not be reached or did not answer CONNECT; else
    None."""
    refused = tunnel_refused(exc)
    if refused is not None:
        status, said = refused
        if status >= 500:
            return TransientError, (f"the proxy could not reach {other_side} (HTTP {status} "
                                    f"{said}); nothing was sent")
        hint = PROXY_LOGIN if status == 407 else PROXY_POLICY
        return ConfigurationError, f"the proxy refused to pass us on (HTTP {status} {said}); {hint}"
    unreached = proxy_unreached(exc) if isinstance(exc, _AT_A_PROXY) else None
    if unreached is not None:
        text = str(unreached).strip().splitlines()[0][:200] if str(unreached).strip() \
            else type(unreached).__name__
        return TransientError, f"cannot reach the proxy ({text}); nothing was sent"
    return None
