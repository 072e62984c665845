"""What proves that a request never reached the other side, on errors built as the libraries
build them: the cases a loopback test cannot bring about every time (TLS 1.3 reports a refused
client certificate as an alert or as a closed connection, as a race goes), and text that only
looks like a proxy's refusal."""
from __future__ import annotations

import ssl

import requests
import urllib3

from adapters.soap.errors import classify
from connector.domain.errors import AmbiguousError, ConfigurationError
from connector.plugins.unsent import handshake_failure, tunnel_refused


def _as_requests_raises(inner: BaseException) -> requests.exceptions.SSLError:
    """``inner`` wrapped as urllib3 and requests wrap a TLS error."""
    wrapped = urllib3.exceptions.SSLError(inner)
    return requests.exceptions.SSLError(
        urllib3.exceptions.MaxRetryError(None, "https://oa.example.ir/soap", reason=wrapped))


def _alert(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}] {reason.lower().replace('_', ' ')}")
    error.reason = reason  # as the ssl module sets it from OpenSSL's error
    return error


def test_our_certificate_refused_is_a_setting_even_after_the_request_was_written():
    exc = _as_requests_raises(_alert("TLSV13_ALERT_CERTIFICATE_REQUIRED"))
    assert handshake_failure(exc) is not None
    error = classify(exc, action="DeliverLetter", effectful=True, posted=True)
    assert isinstance(error, ConfigurationError) and "adapter.client_cert" in str(error)


def test_a_tls_error_on_reading_is_not_taken_for_a_handshake():
    for inner in (ssl.SSLEOFError(8, "EOF occurred in violation of protocol"),
                  _alert("WRONG_VERSION_NUMBER")):  # raised outside do_handshake
        exc = _as_requests_raises(inner)
        assert handshake_failure(exc) is None
        error = classify(exc, action="DeliverLetter", effectful=True, posted=True)
        assert isinstance(error, AmbiguousError), error


def test_only_http_client_s_own_connect_refusal_counts_as_a_refused_tunnel():
    # The same words in any other error (an answer's text, a server's status line) prove
    # nothing about where the request went.
    lookalike = requests.exceptions.ConnectionError(OSError("Tunnel connection failed: 503 x"))
    assert tunnel_refused(lookalike) is None
    error = classify(lookalike, action="DeliverLetter", effectful=True, posted=True)
    assert isinstance(error, AmbiguousError), error
