"""What a failed connection says about whether the request left: the failures that come before
the other side could see it — at a proxy, or in the TLS handshake. The SOAP adapter and the
SMS gateways share these, so that such a failure is retried or handed on (nothing was sent)
rather than taken for a call that may have taken effect."""
from __future__ import annotations

import re
import ssl

# http.client's words when a proxy answers CONNECT with anything but 200; urllib3 wraps them in
# its ProxyError, which it raises only before it is through to the other side.
_TUNNEL = re.compile(r"Tunnel connection failed: (\d{3})([^'\")]*)")

# OpenSSL's reasons that only a handshake gives. The certificate alerts are the other side
# refusing ours (TLS 1.3 reports them on the first read, after the request was written, but
# the server refused the connection before it read the request).
_HANDSHAKE_ONLY = ("WRONG_VERSION_NUMBER", "UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION",
                   "SSLV3_ALERT_HANDSHAKE_FAILURE", "NO_PROTOCOLS_AVAILABLE", "NO_SHARED_CIPHER",
                   "SSLV3_ALERT_BAD_CERTIFICATE", "SSLV3_ALERT_CERTIFICATE_UNKNOWN",
                   "TLSV1_ALERT_UNKNOWN_CA", "TLSV13_ALERT_CERTIFICATE_REQUIRED",
                   "SSLV3_ALERT_CERTIFICATE_EXPIRED", "SSLV3_ALERT_CERTIFICATE_REVOKED",
                   "TLSV1_ALERT_ACCESS_DENIED")


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every error it wraps: causes, contexts, and errors among its arguments (as
    urllib3's and requests' wrappers hold them), or as a ``reason``."""
    seen: set[int] = set()
    found: list[BaseException] = []
    todo: list[object] = [exc]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        found.append(e)
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None), *e.args])
    return found


def handshake_failure(exc: BaseException) -> str | None:
    """What failed, if ``exc`` can only have come from a TLS handshake: the other side's
    certificate not verified (unknown CA, expired, another name), no protocol both sides speak,
    or our certificate refused. Other TLS errors (a record broken mid-answer) may come after
    the request left; for them, None."""
    for e in _chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"certificate not accepted: {e.verify_message or e}"
        if isinstance(e, ssl.SSLError) and e.reason in _HANDSHAKE_ONLY:
            return str(e)[:200]
    return None


def tunnel_refused(exc: BaseException) -> tuple[int, str] | None:
    """The status and reason a proxy gave when it would not open a tunnel (CONNECT) to the
    other side, if that is what ``exc`` says; the request never went beyond the proxy."""
    for e in _chain(exc):
        found = _TUNNEL.search(str(e)) if isinstance(e, OSError) else None
        if found is not None:
            return int(found.group(1)), found.group(2).strip()
    return None


# What the admin should do about a proxy that refused (by its status).
PROXY_LOGIN = ("the proxy wants a login: write its user name and password in HTTPS_PROXY and "
               "HTTP_PROXY, before the proxy's address")
PROXY_POLICY = ("ask for the address to be allowed through the proxy, or name it in NO_PROXY")
