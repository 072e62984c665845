"""Every SMS gateway against a fake of its provider on loopback: success, each documented error
class, a timeout after the provider took the message, a refused connection, status queries,
template lines, and option checks — through the entry point, as the core builds them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    ExternalError,
    PermanentError,
    TransientError,
)
from connector.plugins import registry
from connector.plugins.ports import SmsGateway
from tests.smsfakes import (
    FakeProvider,
    closed_port,
    ghasedak,
    ippanel,
    ippanel_v1,
    kavenegar,
    magfa,
    melipayamak,
    melipayamak_soap,
    serve,
    smsir,
)

TEXT = "اداره نمونه\nنامه شما رسید.\nکد رهگیری: K7P2QX\nمی‌توانید پیگیری کنید."
REF = "3f2b9c1d8e7a4b5c6d7e8f9a0b1c2d3e"


@dataclass
class Spec:
    name: str
    fake: Callable[[], FakeProvider]
    options: dict[str, Any]
    env: dict[str, str]
    errors: dict[Any, type[ExternalError]]  # provider code → the class we must raise
    phone: str  # 09121234567 as the provider wants it
    deliver: Callable[[dict[str, Any]], None]  # mark a stored message delivered
    template: str | None = None
    bad_token: str = "۱۲۳ الف_۱"  # a letter number with a space and an underscore
    extra: dict[str, Any] = field(default_factory=dict)


SPECS = [
    Spec("kavenegar", kavenegar.FakeKavenegar,
         {"api_key_env": "KAVENEGAR_API_KEY", "sender": "10004346"},
         {"KAVENEGAR_API_KEY": kavenegar.KEY},
         {403: ConfigurationError, 418: ConfigurationError, 411: PermanentError,
          409: TransientError, 431: PermanentError, 424: ConfigurationError,
          402: TransientError, 414: PermanentError},
         "09121234567", lambda m: m.update(status=10), template="verify"),
    Spec("ghasedak", ghasedak.FakeGhasedak,
         {"api_key_env": "GHASEDAK_API_KEY", "sender": "30005088"},
         {"GHASEDAK_API_KEY": ghasedak.KEY},
         {401: ConfigurationError, 418: ConfigurationError, 406: PermanentError,
          429: TransientError, 422: PermanentError, 403: ConfigurationError,
          503: TransientError},
         "09121234567", lambda m: m.update(status=14), template="pishkhanotp"),
    Spec("smsir", smsir.FakeSmsIr,
         {"api_key_env": "SMSIR_API_KEY", "sender": "30007732000000"},
         {"SMSIR_API_KEY": smsir.KEY},
         {10: ConfigurationError, 102: ConfigurationError, 111: PermanentError,
          20: TransientError, 115: PermanentError, 113: ConfigurationError,
          105: PermanentError, 101: ConfigurationError},
         "09121234567", lambda m: m.update(status=1), template="123456", bad_token="x" * 26),
    Spec("melipayamak", melipayamak.FakeMelipayamak,
         {"username_env": "MELI_USER", "password_env": "MELI_PASS", "sender": "50004001"},
         {"MELI_USER": melipayamak.USERNAME, "MELI_PASS": melipayamak.PASSWORD},
         {0: ConfigurationError, 2: ConfigurationError, 3: TransientError, 5: ConfigurationError,
          7: PermanentError, 11: TransientError, 14: PermanentError, 15: ConfigurationError},
         "09121234567", lambda m: m.update(status=1), template="12345", bad_token="a;b"),
    Spec("magfa", magfa.FakeMagfa,
         {"username_env": "MAGFA_USER", "password_env": "MAGFA_PASS", "domain": magfa.DOMAIN,
          "sender": "30001234"},
         {"MAGFA_USER": magfa.USERNAME, "MAGFA_PASS": magfa.PASSWORD},
         {18: ConfigurationError, 14: ConfigurationError, 1: PermanentError, 15: TransientError,
          23: TransientError, 27: PermanentError, 33: PermanentError, 8: TransientError},
         "989121234567", lambda m: m.update(status=1)),
    Spec("ippanel-edge", ippanel.FakeIppanelEdge,
         {"api_key_env": "IPPANEL_API_KEY", "sender": "+983000505"},
         {"IPPANEL_API_KEY": ippanel.KEY},
         {401: ConfigurationError, 402: ConfigurationError, 403: ConfigurationError,
          404: ConfigurationError, 422: PermanentError, 429: TransientError,
          400: PermanentError},
         "+989121234567", lambda m: m.update(status=2), template="pattern-otp",
         bad_token="a\nb"),
    Spec("melipayamak-soap", melipayamak_soap.FakeMelipayamakSoap,
         {"username_env": "MELI_USER", "password_env": "MELI_PASS", "sender": "50004001"},
         {"MELI_USER": melipayamak.USERNAME, "MELI_PASS": melipayamak.PASSWORD},
         {0: ConfigurationError, 2: ConfigurationError, 3: TransientError, 7: PermanentError,
          11: TransientError, 14: PermanentError, 15: ConfigurationError,
          "fault": AmbiguousError},
         "09121234567", lambda m: m.update(status=1), template="12345", bad_token="a;b"),
]
# Farapayamak runs on the same backend: its names build the same clients.
SPECS += [replace(SPECS[3], name="farapayamak"), replace(SPECS[6], name="farapayamak-soap")]
# IPPanel's older API (api2.ippanel.com/api/v1): refusals carry their code as the HTTP status.
SPECS.append(Spec("ippanel", ippanel_v1.FakeIppanel,
                  {"api_key_env": "IPPANEL_API_KEY", "sender": "+983000505"},
                  {"IPPANEL_API_KEY": ippanel_v1.KEY},
                  {401: ConfigurationError, 403: ConfigurationError, 404: ConfigurationError,
                   422: PermanentError, 429: TransientError, 400: PermanentError},
                  "989121234567", lambda m: m.update(status=2), template="pattern-otp",
                  bad_token="a\nb"))


@pytest.fixture(params=SPECS, ids=lambda s: s.name)
def spec(request) -> Spec:
    return request.param


@pytest.fixture
def provider(spec):
    fake = spec.fake()
    with serve(fake) as url:
        yield fake, url


def build(spec: Spec, url: str, **options: Any) -> SmsGateway:
    opts = {**spec.options, "url": url, "timeout": 0.3, "connect_timeout": 0.3, **options}
    return registry.create(registry.SMS_GATEWAYS, spec.name, opts, spec.env)


def secrets_of(spec: Spec) -> list[str]:
    return [v for v in spec.env.values() if len(v) > 3]


def test_send_reaches_the_provider_in_its_number_format_with_the_text_intact(spec, provider):
    fake, url = provider
    result = build(spec, url).send("۰۹۱۲ ۱۲۳ ۴۵۶۷", TEXT, REF)
    stored = fake.messages[result.provider_message_id]
    assert stored["to"] == spec.phone and stored["text"] == TEXT  # ZWNJ and newlines kept
    assert result.status in ("sending", "pending")


@pytest.mark.parametrize(("spec", "code", "cls"),
                         [(s, code, cls) for s in SPECS for code, cls in s.errors.items()],
                         ids=lambda v: v.name if isinstance(v, Spec) else str(v))
def test_each_documented_error_is_classified_and_the_key_never_shows(spec, code, cls):
    fake = spec.fake()
    fake.fail_next = code
    with serve(fake) as url, pytest.raises(ExternalError) as caught:
        build(spec, url).send("09121234567", TEXT, REF)
    assert type(caught.value) is cls
    assert str(code) in caught.value.detail
    for secret in secrets_of(spec):
        assert secret not in str(caught.value)
    assert fake.messages == {}


def test_a_timeout_after_the_provider_took_it_is_ambiguous_and_found_by_reference(spec,
                                                                                  provider):
    fake, url = provider
    gateway = build(spec, url)
    fake.delay = 0.6
    with pytest.raises(AmbiguousError) as caught:
        gateway.send("09121234567", TEXT, REF)
    for secret in secrets_of(spec):
        assert secret not in str(caught.value)
    fake.delay = 0
    assert len(fake.messages) == 1
    if gateway.capabilities.supports_status_by_reference:
        found = gateway.find(REF)
        assert found is not None and found.provider_message_id in fake.messages
        assert gateway.find("0" * 32) is None


def test_a_refused_connection_is_transient(spec):
    gateway = build(spec, closed_port())
    with pytest.raises(TransientError):
        gateway.send("09121234567", TEXT, REF)


def test_status_is_read_from_the_provider(spec, provider):
    fake, url = provider
    gateway = build(spec, url)
    sent = gateway.send("09121234567", TEXT, REF)
    spec.deliver(fake.messages[sent.provider_message_id])
    assert gateway.capabilities.supports_status_query
    got = gateway.status([sent.provider_message_id])
    assert got[sent.provider_message_id].status == "delivered"


def test_the_otp_template_line_takes_the_code_and_refuses_bad_tokens(spec, provider):
    fake, url = provider
    gateway = build(spec, url)
    if spec.template is None:
        assert not gateway.capabilities.supports_template
        return
    result = gateway.send_template("09121234567", spec.template, {"code": "48213"}, REF)
    stored = fake.messages[result.provider_message_id]
    assert "48213" in str(stored["params"]) and stored["to"] == spec.phone
    with pytest.raises(PermanentError):
        gateway.send_template("09121234567", spec.template, {"code": spec.bad_token}, REF)


def test_options_are_checked_and_name_the_fix(spec):
    with pytest.raises(ConfigurationError) as caught:
        registry.create(registry.SMS_GATEWAYS, spec.name, spec.options, {})
    assert "_env" in caught.value.detail and "not set" in caught.value.detail
    with pytest.raises(ConfigurationError):
        registry.create(registry.SMS_GATEWAYS, spec.name,
                        {**spec.options, "timeout": "soon"}, spec.env)
    with pytest.raises(ConfigurationError) as caught:  # a typo is not silently ignored
        registry.create(registry.SMS_GATEWAYS, spec.name, {**spec.options, "sendr": "1"},
                        spec.env)
    assert "sendr" in caught.value.detail


def test_the_key_in_kavenegar_urls_is_masked_in_the_http_log(caplog):
    import logging
    spec = SPECS[0]
    fake = spec.fake()
    with serve(fake) as url, caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        build(spec, url).send("09121234567", TEXT, REF)
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("sms/send.json" in line for line in lines)
    assert not any(kavenegar.KEY in line for line in lines)
    assert any("/***/sms/send.json" in line for line in lines)


@pytest.mark.parametrize("spec", [s for s in SPECS if s.name != "melipayamak-soap"],
                         ids=lambda s: s.name)
def test_an_answer_cut_off_after_the_provider_took_the_message_is_ambiguous(spec: Spec):
    """The provider read the whole request and started to answer, then the connection broke:
    the SMS may be on its way, so it must not be sent again blindly."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    got: list[bytes] = []

    def answer_half() -> None:
        conn, _ = server.accept()
        conn.settimeout(2)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            while len(body) < length:
                body += conn.recv(65536)
            got.append(data)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 200\r\n\r\n{\"return\": {\"status\": 2")
        finally:
            conn.close()

    thread = threading.Thread(target=answer_half, daemon=True)
    thread.start()
    gateway = build(spec, f"http://127.0.0.1:{server.getsockname()[1]}")
    with pytest.raises(AmbiguousError):
        gateway.send("09121234567", TEXT, REF)
    thread.join(3)
    server.close()
    assert got, "the provider never saw the request"


def test_the_file_gateway_can_be_asked_by_our_reference(tmp_path):
    from sms.gateways.file import FileGateway
    gateway = FileGateway(tmp_path / "outbox.jsonl")
    assert gateway.find("ref-1") is None  # no file yet: it never took anything
    gateway.send("09121234567", "سلام", "ref-1")
    found = gateway.find("ref-1")
    assert found is not None and found.status == "delivered"
    assert gateway.find("ref-2") is None
