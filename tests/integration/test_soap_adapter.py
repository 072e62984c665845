"""The SOAP adapter against the real sandbox over loopback: every neutral operation, and every
failure the core must tell apart (transient, permanent, ambiguous, configuration)."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from adapters.soap import SoapAdapter
from connector.domain.errors import (
    AmbiguousError,
    ConfigurationError,
    PermanentError,
    TransientError,
)
from connector.domain.letter import (
    ApplicantType,
    ChangeKind,
    OutgoingAttachment,
    OutgoingLetter,
    PollResult,
)
from tests.sandbox_server import PASSWORD, USERNAME, serve_in_processes, start_sandbox

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")
PROFILE = Path(__file__).resolve().parents[2] / "adapters/soap/profiles/reference.toml"
SECRETS = {"OA_USER": USERNAME, "OA_PASS": PASSWORD}


class Sandbox:
    def __init__(self, tmp_path: Path, **config: Any) -> None:
        self.base, self.app, self.stop = start_sandbox(tmp_path, **config)
        self.wsdl = f"{self.base}/soap/reference?wsdl"

    def adapter(self, secrets: dict[str, str] | None = None, **options: Any) -> SoapAdapter:
        opts = {"wsdl": self.wsdl, "username_env": "OA_USER", "password_env": "OA_PASS",
                "timeout": 5, **options}
        return SoapAdapter.from_options(opts, SECRETS if secrets is None else secrets)

    def api(self, path: str, body: dict[str, Any] | None = None) -> Any:
        if body is None:
            r = requests.get(f"{self.base}/api{path}", timeout=5)
        else:
            r = requests.post(f"{self.base}/api{path}", json=body, timeout=5)
        r.raise_for_status()
        return r.json()

    def faults(self, **faults: Any) -> None:
        self.api("/faults", faults)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    box = Sandbox(tmp_path, TIMEOUT_SLEEP=2)
    yield box
    box.stop()


@pytest.fixture
def adapter(sandbox: Sandbox) -> Iterator[SoapAdapter]:
    a = sandbox.adapter()
    yield a
    a.close()


def letter(code: str = "PK-1001", unit: str = "IT") -> OutgoingLetter:
    return OutgoingLetter(
        tracking_code=code, subject="درخواست مجوز", body="متن نامه", sender_name="مریم احمدی",
        sender_national_code="0012345678", sender_mobile="09121234567",
        applicant_type=ApplicantType.NATURAL, unit_code=unit,
        attachments=(OutgoingAttachment("scan.pdf", "application/pdf", PDF),
                     OutgoingAttachment("photo.png", "image/png", PNG)))


def only(result: PollResult, kind: ChangeKind) -> Any:
    found = [c for c in result.changes if c.kind == kind]
    assert len(found) == 1, result
    return found[0]


# -- the operations -------------------------------------------------------------------------

def test_deliver_with_attachments_then_find(sandbox: Sandbox, adapter: SoapAdapter) -> None:
    receipt = adapter.deliver(letter())
    assert receipt.external_id and receipt.status == "pending" and receipt.letter_number is None

    stored = sandbox.api(f"/letters/{receipt.external_id}")
    assert stored["reference"] == "PK-1001" and stored["unit"] == "IT"
    assert [(a["name"], a["size"]) for a in stored["attachments"]] == [
        ("scan.pdf", len(PDF)), ("photo.png", len(PNG))]

    found = adapter.find("PK-1001")
    assert found is not None and found.external_id == receipt.external_id
    assert adapter.find("PK-NOPE") is None
    assert adapter.ping().startswith("ok: server time ")


def test_registered_change_then_empty_page(sandbox: Sandbox, adapter: SoapAdapter) -> None:
    receipt = adapter.deliver(letter())
    number = sandbox.api(f"/letters/{receipt.external_id}/register", {})["number"]

    page = adapter.changes("")
    change = only(page, ChangeKind.REGISTERED)
    assert change.number == number and change.external_id == receipt.external_id
    assert change.reference == "PK-1001" and change.source_id.startswith("reference:")
    assert change.at.tzinfo is None  # the core keeps naive UTC
    assert page.cursor and page.cursor != "0"

    again = adapter.changes(page.cursor)
    assert again.changes == [] and again.cursor == page.cursor
    assert adapter.find("PK-1001").letter_number == number  # type: ignore[union-attr]


def test_rejected_with_reason(sandbox: Sandbox, adapter: SoapAdapter) -> None:
    receipt = adapter.deliver(letter())
    sandbox.api(f"/letters/{receipt.external_id}/reject", {"reason": "مدارک ناقص است"})
    change = only(adapter.changes(""), ChangeKind.REJECTED)
    assert change.reason == "مدارک ناقص است" and change.external_id == receipt.external_id


def test_referred_with_unit_person_instruction(sandbox: Sandbox, adapter: SoapAdapter) -> None:
    receipt = adapter.deliver(letter())
    sandbox.api(f"/letters/{receipt.external_id}/register", {})
    sandbox.api(f"/letters/{receipt.external_id}/refer",
                {"unit": "FIN", "person": "حسن کریمی", "instruction": "بررسی شود"})
    page = adapter.changes("")
    assert [c.kind for c in page.changes] == [ChangeKind.REGISTERED, ChangeKind.REFERRED]
    change = page.changes[1]
    assert (change.unit, change.person, change.instruction) == ("FIN", "حسن کریمی", "بررسی شود")


def test_answered_and_reply_download(sandbox: Sandbox, adapter: SoapAdapter) -> None:
    assert adapter.capabilities.reply_download
    receipt = adapter.deliver(letter())
    assert adapter.fetch_reply(receipt.external_id) is None  # nothing answered yet
    sandbox.api(f"/letters/{receipt.external_id}/register", {})
    sandbox.api(f"/letters/{receipt.external_id}/answer", {"text": "با درخواست موافقت شد"})
    change = only(adapter.changes(""), ChangeKind.ANSWERED)
    assert change.text == "با درخواست موافقت شد"
    reply = adapter.fetch_reply(receipt.external_id)
    assert reply is not None and reply.text == "با درخواست موافقت شد"
    assert reply.file_name and reply.content


def test_duplicated_and_reversed_pages_are_cleaned(sandbox: Sandbox,
                                                   adapter: SoapAdapter) -> None:
    receipt = adapter.deliver(letter())
    sandbox.api(f"/letters/{receipt.external_id}/register", {})
    sandbox.api(f"/letters/{receipt.external_id}/answer", {"text": "پاسخ"})
    sandbox.faults(duplicate_events=1, reorder_events=True)
    page = adapter.changes("")
    assert [c.kind for c in page.changes] == [ChangeKind.REGISTERED, ChangeKind.ANSWERED]


def test_register_on_delivery_returns_the_number(sandbox: Sandbox) -> None:
    adapter = sandbox.adapter(register_on_delivery=True)
    receipt = adapter.deliver(letter())
    assert receipt.letter_number and receipt.letter_date is not None
    assert sandbox.api(f"/letters/{receipt.external_id}")["number"] == receipt.letter_number
    assert only(adapter.changes(""), ChangeKind.REGISTERED).number == receipt.letter_number


def test_delivery_threads_share_one_adapter(sandbox: Sandbox) -> None:
    adapter = sandbox.adapter()  # not loaded yet: the threads race to build the client
    with ThreadPoolExecutor(max_workers=6) as pool:
        receipts = list(pool.map(lambda i: adapter.deliver(letter(f"PK-30{i}")), range(6)))
    assert len({r.external_id for r in receipts}) == 6
    for i, receipt in enumerate(receipts):
        assert adapter.find(f"PK-30{i}").external_id == receipt.external_id  # type: ignore[union-attr]


def test_delivery_threads_keep_their_connections(tmp_path: Path) -> None:
    """Sixteen threads delivering at once, three times over, open sixteen connections to a
    keep-alive server (the sandbox under gunicorn, as `make run` serves it): each call past the
    client's pool would otherwise open a new one (a TLS handshake with a real system) and
    throw it away."""
    # The calls of a wave overlap; connections stay open for the whole test.
    base, stop = serve_in_processes(f"sqlite:///{tmp_path / 'oa.db'}", latency_ms=100,
                                    keep_alive=30, control_dir=str(tmp_path))
    try:
        adapter = SoapAdapter.from_options(
            {"wsdl": f"{base}/soap/reference?wsdl", "username_env": "OA_USER",
             "password_env": "OA_PASS", "timeout": 10}, SECRETS)
        adapter.ping()
        together = threading.Barrier(16)

        def call(i: int) -> None:
            together.wait(10)
            adapter.deliver(letter(f"PK-9{i:03d}"))

        for n in range(3):
            with ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(call, range(n * 16, n * 16 + 16)))
        # urllib3's own count of the connections it opened to the sandbox.
        pools = adapter._client_service()[1].session.get_adapter(base).poolmanager.pools
        opened = sum(pools[key].num_connections for key in pools.keys())
        assert opened <= 16, opened  # 10 kept and a new one per call past them: 28
        adapter.close()
    finally:
        stop()


def test_digest_password_and_masked_exchange(sandbox: Sandbox) -> None:
    adapter = sandbox.adapter(wsse="digest")
    assert adapter.ping().startswith("ok:")
    text = sandbox.adapter()
    text.ping()
    sent, received = text.last_exchange()
    assert "<wsse:Password" in sent and "***" in sent and PASSWORD not in sent
    assert "PingResponse" in received


# -- failures -------------------------------------------------------------------------------

def test_wrong_password_is_a_configuration_error(sandbox: Sandbox) -> None:
    adapter = sandbox.adapter(secrets={"OA_USER": USERNAME, "OA_PASS": "wrong-horse-battery"})
    for call in (adapter.ping, lambda: adapter.deliver(letter())):
        with pytest.raises(ConfigurationError) as err:
            call()
        assert "wrong-horse-battery" not in str(err.value)
    assert "wrong-horse-battery" not in "".join(adapter.last_exchange())


def test_service_down_is_transient(sandbox: Sandbox, adapter: SoapAdapter) -> None:
    adapter.ping()
    sandbox.faults(down=True)
    with pytest.raises(TransientError):
        adapter.deliver(letter())
    with pytest.raises(TransientError):
        adapter.changes("")
    sandbox.faults(error_rate=1)  # soap:Server `Unavailable` (HTTP 500), before any effect
    # A server fault on a write cannot be told from one after the commit: looked up first.
    with pytest.raises(AmbiguousError):
        adapter.deliver(letter())
    with pytest.raises(TransientError) as err:
        adapter.changes("")
    assert not isinstance(err.value, AmbiguousError)
    sandbox.faults()
    assert sandbox.api("/letters")["letters"] == []


def test_connection_refused_is_transient(sandbox: Sandbox) -> None:
    loaded = sandbox.adapter()
    loaded.ping()  # WSDL loaded: the failure comes from the operation call itself
    fresh = sandbox.adapter()  # never loaded: the failure comes from fetching the WSDL
    sandbox.stop()
    for adapter in (loaded, fresh):
        with pytest.raises(TransientError) as err:
            adapter.deliver(letter())
        assert not isinstance(err.value, AmbiguousError)


def test_timeout_after_commit_is_ambiguous(sandbox: Sandbox) -> None:
    adapter = sandbox.adapter(timeout=0.5)
    adapter.ping()
    sandbox.faults(commit_then_timeout=1)
    with pytest.raises(AmbiguousError):
        adapter.deliver(letter("PK-2002"))
    sandbox.faults()
    found = adapter.find("PK-2002")
    assert found is not None
    assert sandbox.api("/letters?reference=PK-2002")["letters"][0]["id"] == int(found.external_id)


def test_slow_read_only_call_is_transient(sandbox: Sandbox) -> None:
    adapter = sandbox.adapter(timeout=0.3)
    adapter.ping()
    sandbox.faults(latency_ms=800)
    with pytest.raises(TransientError) as err:
        adapter.find("PK-1001")
    assert not isinstance(err.value, AmbiguousError)


def test_unknown_letter_is_permanent(adapter: SoapAdapter) -> None:
    with pytest.raises(PermanentError):
        adapter.fetch_reply("987654")


def test_not_a_wsdl_is_a_configuration_error(sandbox: Sandbox, tmp_path: Path) -> None:
    for url in (f"{sandbox.base}/api/health", f"{sandbox.base}/no/such/service?wsdl"):
        with pytest.raises(ConfigurationError):
            sandbox.adapter(wsdl=url).ping()
    profile = tmp_path / "other.toml"
    profile.write_text(PROFILE.read_text(encoding="utf-8").replace('"Ping"', '"Pong"'),
                       encoding="utf-8")
    with pytest.raises(ConfigurationError, match="no operation Pong"):
        sandbox.adapter(profile=str(profile)).ping()


def test_endpoint_overrides_the_address_in_the_wsdl(tmp_path: Path) -> None:
    # The WSDL advertises an address where nothing listens, as vendors' internal names do.
    box = Sandbox(tmp_path, PUBLIC_URL="http://127.0.0.1:9")
    try:
        with pytest.raises(TransientError):
            box.adapter().ping()
        assert box.adapter(endpoint=f"{box.base}/soap/reference").ping().startswith("ok:")
    finally:
        box.stop()


def test_from_options_names_the_key(tmp_path: Path) -> None:
    base = {"wsdl": "http://127.0.0.1:9/soap/reference?wsdl", "username_env": "OA_USER",
            "password_env": "OA_PASS"}
    cases = [
        ({"wsdl": None}, "adapter.wsdl is missing"),
        ({"wsdl": "oa.example.ir"}, "adapter.wsdl"),
        ({"profile": "no-such-dialect"}, "adapter.profile"),
        ({"wsse": "kerberos"}, "adapter.wsse"),
        ({"username_env": None}, "adapter.username_env is missing"),
        ({"password_env": "OA_NOT_SET"}, "OA_NOT_SET"),
        ({"timeout": "fast"}, "adapter.timeout"),
        ({"register_on_delivery": "yes"}, "adapter.register_on_delivery"),
        ({"page_size": 0}, "adapter.page_size"),
        ({"verify": str(tmp_path / "missing-ca.pem")}, "adapter.verify"),
        ({"client_key": str(tmp_path)}, "adapter.client_key"),
        ({"pasword_env": "X"}, "adapter.pasword_env"),
    ]
    for change, expected in cases:
        options = {k: v for k, v in {**base, **change}.items() if v is not None}
        with pytest.raises(ConfigurationError) as err:
            SoapAdapter.from_options(options, SECRETS)
        assert expected in str(err.value), (change, str(err.value))
        assert PASSWORD not in str(err.value)

    adapter = SoapAdapter.from_options({**base, "profile": "sandbox", "wsse": "none",
                                        "verify": False, "timeout": 3}, SECRETS)
    assert adapter.profile.name == "reference" and adapter.timeout == 3.0
    assert SoapAdapter.from_options({"wsdl": base["wsdl"], "wsse": "none"}, {}).wsse == "none"


def test_an_id_cursor_without_next_cursor_continues_from_the_highest_id(sandbox: Sandbox,
                                                                       tmp_path: Path) -> None:
    """Many systems answer "events after N" without saying where to go on."""
    text = PROFILE.read_text("utf-8").replace(
        'outputs = { changes = "changes", next_cursor = "nextCursor" }',
        'outputs = { changes = "changes" }')
    path = tmp_path / "no-cursor.toml"
    path.write_text(text, "utf-8")
    adapter = sandbox.adapter(profile=str(path))
    receipt = adapter.deliver(letter("PK-1201"))
    sandbox.api(f"/letters/{receipt.external_id}/register", {})
    first = adapter.changes("")
    assert [c.kind for c in first.changes] == [ChangeKind.REGISTERED]
    assert first.cursor == first.changes[0].source_id.split(":")[1]
    again = adapter.changes(first.cursor)
    assert again.changes == [] and again.cursor == first.cursor
