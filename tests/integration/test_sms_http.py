"""The gateways' HTTP client on loopback, where it differs from a browser-like client: proxies
named by the environment, a redirect not followed, the charset an answer declares; and the
failures that come before the provider sees the request (a proxy, a TLS handshake), which
must not leave a message in doubt."""
from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

import pytest
import trustme

from connector.domain.errors import (AmbiguousError, ConfigurationError, ExternalError,
                                      TransientError)
from connector.plugins import registry
from sms.gateways.http import HttpClient
from tests.network import RefusingProxy, http_server, plaintext_after_request, proxy_that_drops
from tests.smsfakes import kavenegar, serve

TEXT = "نامه شما رسید. کد رهگیری: K7P2QX"
REF = "3f2b9c1d8e7a4b5c6d7e8f9a0b1c2d3e"


@pytest.fixture(autouse=True)
def _no_ca_bundle_of_the_machine(monkeypatch):
    """Whatever CA bundle this machine names, the tests choose their own (or certifi's)."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def kavenegar_gateway(url: str):
    return registry.create(registry.SMS_GATEWAYS, "kavenegar",
                           {"api_key_env": "KAVENEGAR_API_KEY", "sender": "10004346",
                            "url": url, "timeout": 2, "connect_timeout": 2},
                           {"KAVENEGAR_API_KEY": kavenegar.KEY})


class ForwardProxy(BaseHTTPRequestHandler):
    """A plain HTTP forward proxy: the request line holds the whole address."""
    seen: list[tuple[str, str | None]] = []  # (address, Proxy-Authorization)

    def _forward(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Proxy-Authorization")))
        target = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("proxy-connection", "connection",
                                        "proxy-authorization")}
        conn.request(self.command, target.path + (f"?{target.query}" if target.query else ""),
                     body=body, headers=headers)
        answer = conn.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = do_POST = _forward

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("written", ["http://{proxy}", "{proxy}", "http://ali:p%40ss@{proxy}"],
                         ids=["address", "no-scheme", "with-login"])
def test_calls_go_through_the_proxy_the_environment_names(monkeypatch, written):
    """An office's network often reaches the internet only through its proxy: HTTP_PROXY is
    read (once, when the gateway is made) and the send goes through it, written with or
    without http://, with the proxy's login when it has one."""
    fake = kavenegar.FakeKavenegar()
    ForwardProxy.seen = []
    with serve(fake) as url, http_server(ForwardProxy) as proxy:
        for name in ("NO_PROXY", "ALL_PROXY", "HTTPS_PROXY"):
            monkeypatch.delenv(name, raising=False)
            monkeypatch.delenv(name.lower(), raising=False)
        value = written.format(proxy=proxy.removeprefix("http://"))
        monkeypatch.setenv("HTTP_PROXY", value)
        monkeypatch.setenv("http_proxy", value)  # the lower-case one wins where both are set
        gateway = kavenegar_gateway(url)
        result = gateway.send("09121234567", TEXT, REF)
    assert fake.messages[result.provider_message_id]["text"] == TEXT
    assert len(ForwardProxy.seen) == 1
    address, login = ForwardProxy.seen[0]
    # The whole address, as a client writes it to a proxy.
    assert address.startswith(f"{url}/") and "sms/send.json" in address
    expected = "Basic " + base64.b64encode(b"ali:p@ss").decode() if "ali" in written else None
    assert login == expected


class Redirecting(BaseHTTPRequestHandler):
    hits: list[str] = []
    to = ""

    def do_POST(self) -> None:
        type(self).hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(301)
        self.send_header("Location", type(self).to + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST

    def log_message(self, *args) -> None:
        pass


def test_a_redirect_is_not_followed_and_asks_for_the_address_to_be_corrected():
    """A provider that moved answers with a redirect: the send is not repeated at the other
    address on its own (a second SMS), and the admin reads what to correct."""
    fake = kavenegar.FakeKavenegar()
    Redirecting.hits = []
    with serve(fake) as url, http_server(Redirecting) as old:
        Redirecting.to = url
        with pytest.raises(ConfigurationError) as caught:
            kavenegar_gateway(old).send("09121234567", TEXT, REF)
    assert len(Redirecting.hits) == 1
    assert fake.messages == {}
    assert "HTTP 301" in str(caught.value) and kavenegar.KEY not in str(caught.value)


class Windows1256(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"status": "رسيد"}, ensure_ascii=False).encode("cp1256")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=windows-1256")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("json_body", [False, True], ids=["text", "json"])
def test_an_answer_in_the_charset_it_declares_is_read_in_it(json_body):
    with http_server(Windows1256) as url:
        reply = HttpClient("test", url, (2, 2)).call("GET", "status", write=False,
                                                    json_body=json_body, params={"id": "1"})
    body = reply.body if json_body else json.loads(reply.body)
    assert body == {"status": "رسيد"}


# --- failures before anything reached the provider: the next gateway may send it -----------

class Counting(BaseHTTPRequestHandler):
    hits = 0

    def do_POST(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    do_GET = do_POST

    def log_message(self, *args) -> None:
        pass


def untrusted_tls() -> ssl.SSLContext:
    """A server's TLS with a certificate from a CA of its own, which nobody trusts."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    return context


def _no_proxies(monkeypatch) -> None:
    for name in ("NO_PROXY", "ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def test_a_certificate_that_cannot_be_verified_is_a_configuration_error_not_a_doubt(
        monkeypatch):
    """The TLS handshake fails before the request is written: nothing reached the provider,
    so the message goes to the next gateway instead of waiting, looked up, as if it might
    have been sent."""
    _no_proxies(monkeypatch)
    Counting.hits = 0
    with http_server(Counting, untrusted_tls()) as url:
        with pytest.raises(ConfigurationError) as caught:
            kavenegar_gateway(url).send("09121234567", TEXT, REF)
    assert Counting.hits == 0
    assert "certificate" in str(caught.value) and kavenegar.KEY not in str(caught.value)


def test_a_proxy_that_cannot_be_reached_is_transient(monkeypatch):
    _no_proxies(monkeypatch)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{closed}")
    with pytest.raises(TransientError) as caught:
        kavenegar_gateway("http://sms.example.invalid").send("09121234567", TEXT, REF)
    assert not isinstance(caught.value, AmbiguousError)
    assert "proxy" in str(caught.value)


@pytest.mark.parametrize("scheme, status, expected", [
    ("https", 403, ConfigurationError), ("https", 407, ConfigurationError),
    ("https", 502, TransientError), ("http", 407, ConfigurationError)])
def test_a_proxy_that_refuses_to_pass_the_request_on_is_not_a_doubt(monkeypatch, scheme, status,
                                                                     expected):
    """Over https the proxy refuses the tunnel (CONNECT); over http it answers in the
    provider's place. Either way the provider never saw the request: a refusal by policy or
    for want of a login is for the admin (the next gateway is tried meanwhile), a proxy that
    could not reach the provider is transient."""
    _no_proxies(monkeypatch)
    RefusingProxy.status = status
    with http_server(RefusingProxy) as proxy:
        for name in ("HTTP_PROXY", "HTTPS_PROXY"):
            monkeypatch.setenv(name, proxy)
            monkeypatch.setenv(name.lower(), proxy)
        with pytest.raises(ExternalError) as caught:
            kavenegar_gateway(f"{scheme}://sms.example.invalid").send("09121234567", TEXT, REF)
    assert type(caught.value) is expected, caught.value
    assert str(status) in str(caught.value)


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_connection_dropped_after_the_request_went_through_the_proxy_is_a_doubt(
        monkeypatch, tmp_path, scheme):
    """urllib3 calls this a proxy error too, but the provider may have the message: it is
    looked up, not sent again through the next gateway."""
    _no_proxies(monkeypatch)
    tls = _trusted_tls(monkeypatch, tmp_path, "sms.example.invalid")
    with proxy_that_drops(tls) as (proxy, seen):
        for name in ("HTTP_PROXY", "HTTPS_PROXY"):
            monkeypatch.setenv(name, proxy)
            monkeypatch.setenv(name.lower(), proxy)
        with pytest.raises(AmbiguousError):
            kavenegar_gateway(f"{scheme}://sms.example.invalid").send("09121234567", TEXT, REF)
    assert len(seen) == 1 and b"sms/send.json" in seen[0]


def test_a_proxy_that_never_answers_connect_is_transient(monkeypatch):
    _no_proxies(monkeypatch)
    with proxy_that_drops(answer_connect=False) as (proxy, seen):
        monkeypatch.setenv("HTTPS_PROXY", proxy)
        monkeypatch.setenv("https_proxy", proxy)
        with pytest.raises(TransientError) as caught:
            kavenegar_gateway("https://sms.example.invalid").send("09121234567", TEXT, REF)
    assert not isinstance(caught.value, AmbiguousError) and "proxy" in str(caught.value)
    assert seen == []


def _trusted_tls(monkeypatch, tmp_path, name: str) -> ssl.SSLContext:
    """A server's TLS with a certificate for ``name`` from a CA this client is told to trust."""
    ca = trustme.CA()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(tls)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "ca.pem"))
    return tls


def test_a_tls_error_after_the_request_arrived_is_a_doubt(monkeypatch, tmp_path):
    """OpenSSL's "wrong version number" comes from a handshake with something that is not TLS
    (nothing sent) but also from a plain-text answer after the request arrived: here the
    provider had the request, so the message is looked up, not sent elsewhere."""
    _no_proxies(monkeypatch)
    with plaintext_after_request(_trusted_tls(monkeypatch, tmp_path, "127.0.0.1")) as (url, seen):
        with pytest.raises(AmbiguousError):
            kavenegar_gateway(url).send("09121234567", TEXT, REF)
    assert len(seen) == 1 and b"sms/send.json" in seen[0]


def test_tls_spoken_to_a_plain_http_server_fails_in_the_handshake(monkeypatch):
    _no_proxies(monkeypatch)
    Counting.hits = 0
    with http_server(Counting) as url:
        with pytest.raises(ConfigurationError) as caught:
            kavenegar_gateway(url.replace("http://", "https://")).send("09121234567", TEXT, REF)
    assert "handshake" in str(caught.value) and Counting.hits == 0


def test_the_ca_bundle_the_environment_names_is_used_file_or_folder(monkeypatch, tmp_path):
    """requests took REQUESTS_CA_BUNDLE as a file or a folder; one that is not there makes
    the gateway unusable (a setting to fix: the next gateway is tried), not every send a
    doubt."""
    _no_proxies(monkeypatch)
    Counting.hits = 0
    with http_server(Counting, untrusted_tls()) as url:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs")  # a folder; ours is not in it
        with pytest.raises(ConfigurationError, match="certificate not accepted"):
            kavenegar_gateway(url).send("09121234567", TEXT, REF)
        assert HttpClient("test", url, (2, 2)).session.verify == "/etc/ssl/certs"
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
        with pytest.raises(ConfigurationError, match="REQUESTS_CA_BUNDLE"):
            kavenegar_gateway(url).send("09121234567", TEXT, REF)
    assert Counting.hits == 0
