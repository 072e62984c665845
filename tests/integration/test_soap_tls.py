"""TLS for real: the SOAP adapter against a live HTTPS endpoint on loopback that demands a client
certificate (certificates made here with trustme), and the refusal of a server whose CA we do
not trust — both as configuration errors an admin can act on."""
from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from werkzeug.serving import make_server

from adapters.soap import SoapAdapter
from connector.domain.errors import ConfigurationError
from sandbox.app import create_app
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
