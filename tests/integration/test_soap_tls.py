"""TLS for real: the SOAP adapter against a live HTTPS endpoint on loopback that demands a client
certificate (certificates made here with trustme), and the refusal of a server whose CA we do
not trust — both as configuration errors an admin can act on; and the failures on the way to
the system (a refused client certificate, a proxy refusing the tunnel) classified by whether a
delivery may have gone in."""
from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import trustme
from werkzeug.serving import make_server

from adapters.soap import SoapAdapter
from adapters.soap.errors import classify
from adapters.soap.transport import PinnedSession
from connector.domain.errors import (AmbiguousError, ConfigurationError, TransientError)
from sandbox.app import create_app
from tests.network import RefusingProxy, http_server
from tests.sandbox_server import PASSWORD, USERNAME

SECRETS = {"OA_USER": USERNAME, "OA_PASS": PASSWORD}


@pytest.fixture
def https(tmp_path: Path) -> Iterator[tuple[str, trustme.CA, Path]]:
    """The sandbox over HTTPS, requiring a client certificate signed by its CA."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca.configure_trust(context)
    context.verify_mode = ssl.CERT_REQUIRED
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.db'}",
                      "USERNAME": USERNAME, "PASSWORD": PASSWORD, "FAULTS": {},
                      "PUBLIC_URL": ""})
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    ca_path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    yield f"https://127.0.0.1:{server.server_port}", ca, ca_path
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def adapter(base: str, **options: object) -> SoapAdapter:
    return SoapAdapter.from_options(
        {"wsdl": f"{base}/soap/session?wsdl", "profile": "session", "wsse": "none",
         "username_env": "OA_USER", "password_env": "OA_PASS", "timeout": 5, **options},
        SECRETS)


def test_client_certificate_is_presented_and_accepted(https, tmp_path: Path) -> None:
    base, ca, ca_path = https
    client = ca.issue_cert("pishkhan-client@example.ir")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    client.cert_chain_pems[0].write_to_path(str(cert))
    client.private_key_pem.write_to_path(str(key))
    checks = adapter(base, verify=str(ca_path), client_cert=str(cert),
                     client_key=str(key)).check()
    assert [c.ok for c in checks] == [True, True, True], checks


def test_without_a_client_certificate_the_server_refuses(https) -> None:
    base, _ca, ca_path = https
    with pytest.raises(ConfigurationError, match="TLS handshake failed"):
        adapter(base, verify=str(ca_path)).ping()


def test_a_server_from_an_unknown_ca_is_refused(https, tmp_path: Path) -> None:
    base, ca, _ca_path = https
    stranger = trustme.CA()
    client = ca.issue_cert("pishkhan-client@example.ir")
    cert = tmp_path / "client-both.pem"
    client.private_key_and_cert_chain_pem.write_to_path(str(cert))
    other = tmp_path / "other-ca.pem"
    stranger.cert_pem.write_to_path(str(other))
    with pytest.raises(ConfigurationError, match="TLS handshake failed") as err:
        adapter(base, verify=str(other), client_cert=str(cert)).ping()
    assert "adapter.verify" in err.value.detail


def test_http_basic_authentication_as_iis_asks(tmp_path: Path) -> None:
    """A front that refuses every request without HTTP Basic credentials (as an IIS site with
    Basic authentication does), in front of the sandbox."""
    import base64

    inner = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.db'}",
                        "USERNAME": USERNAME, "PASSWORD": PASSWORD, "FAULTS": {},
                        "PUBLIC_URL": ""})
    expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()

    def front(environ, start_response):
        if environ.get("HTTP_AUTHORIZATION") != expected:
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="oa"'),
                                                ("Content-Type", "text/plain")])
            return [b"401 - Unauthorized"]
        return inner(environ, start_response)

    server = make_server("127.0.0.1", 0, front, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        checks = adapter(base, http_auth="basic").check()
        assert [c.ok for c in checks] == [True, True, True], checks
        with pytest.raises(ConfigurationError, match="HTTP 401"):
            adapter(base).ping()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_a_profile_that_logs_in_needs_the_credentials() -> None:
    with pytest.raises(ConfigurationError, match="adapter.username_env is missing"):
        SoapAdapter.from_options({"wsdl": "http://127.0.0.1:9/x?wsdl", "profile": "session",
                                  "wsse": "none"}, {})


# --- a delivery that failed on the way: sent, or not? ----------------------------------------

def test_a_refused_client_certificate_during_a_delivery_names_the_certificate(https) -> None:
    """Over TLS 1.3 the server refuses a missing client certificate after the client has
    written its request: as an alert (the certificate refused: a setting to fix) or, as the
    race goes, as a connection closed — which for a delivery is also what a cut mid-answer
    looks like, so the letter is then looked up before any resend, and a read is tried again.
    Either way the message names the certificate."""
    base, _ca, ca_path = https
    session = PinnedSession()
    session.verify = str(ca_path)
    with pytest.raises(requests.exceptions.SSLError) as caught:
        session.post(f"{base}/soap/session", data=b"<x/>", timeout=5)
    delivering = classify(caught.value, action="DeliverLetter", effectful=True, posted=True)
    reading = classify(caught.value, action="FindLetter", posted=True)
    closed = isinstance(caught.value.args[0].reason.args[0], ssl.SSLEOFError) \
        if caught.value.args and hasattr(caught.value.args[0], "reason") else False
    assert type(delivering) is (AmbiguousError if closed else ConfigurationError), delivering
    assert type(reading) is (TransientError if closed else ConfigurationError), reading
    assert "adapter.client_cert" in str(delivering) and "adapter.client_cert" in str(reading)


@pytest.mark.parametrize("status, expected", [(403, ConfigurationError),
                                              (407, ConfigurationError), (502, TransientError)])
def test_a_proxy_that_refuses_the_tunnel_sent_nothing(monkeypatch, status, expected) -> None:
    """The request never went beyond the office's proxy: not a delivery in doubt, but one to
    retry (the proxy could not reach the system) or a setting to fix."""
    RefusingProxy.status = status
    for name in ("NO_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    with http_server(RefusingProxy) as proxy:
        for name in ("HTTPS_PROXY", "https_proxy"):
            monkeypatch.setenv(name, proxy)
        with pytest.raises(requests.exceptions.ProxyError) as caught:
            PinnedSession().post("https://oa.example.invalid/soap", data=b"<x/>", timeout=5)
    error = classify(caught.value, action="DeliverLetter", effectful=True, posted=True)
    assert type(error) is expected, error
    assert f"HTTP {status}" in str(error)
