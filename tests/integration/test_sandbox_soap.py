"""The sandbox's SOAP service (dialect `reference`), driven by a real zeep client over loopback."""

from __future__ import annotations

import base64
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
import zeep
from lxml import etree
from persiantools.jdatetime import JalaliDate
from zeep.exceptions import Fault
from zeep.wsse.username import UsernameToken

from tests.sandbox_server import PASSWORD, USERNAME, soap_client, start_sandbox

SUBJECT = "درخواست صدور پروانهٔ ساختمانی — پلاک ۱۲۳، کوچهٔ شهید بهشتی"
BODY = "با سلام\nاحتراماً خواهشمند است دستور فرمایید بررسی شود.\u200cمی‌خواهم پیگیری کنم."


@pytest.fixture
def sandbox(tmp_path):
    base_url, _app, stop = start_sandbox(tmp_path)
    yield base_url
    stop()


@pytest.fixture
def client(sandbox):
    return soap_client(sandbox)


def deliver(client: zeep.Client, reference: str, unit: str = "CIV", **extra) -> int:
    answer = client.service.DeliverLetter(
        reference=reference,
        subject=extra.pop("subject", SUBJECT),
        body=BODY,
        senderName="زهرا محمدی",
        senderNationalCode="0012345678",
        senderMobile="09121234567",
        unitCode=unit,
        **extra,
    )
    assert answer.status == "pending"
    return answer.letterId


def act(base_url: str, letter_id: int, action: str, **body) -> dict:
    response = requests.post(f"{base_url}/api/letters/{letter_id}/{action}", json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def set_faults(base_url: str, **faults) -> None:
    response = requests.post(f"{base_url}/api/faults", json=faults, timeout=5)
    assert response.status_code == 200, response.text


def fault_of(call) -> Fault:
    with pytest.raises(Fault) as caught:
        call()
    return caught.value


def test_wsdl_names_the_address_it_is_served_from(sandbox, tmp_path):
    wsdl = requests.get(f"{sandbox}/soap/reference?wsdl", timeout=5)
    assert wsdl.status_code == 200
    assert f'location="{sandbox}/soap/reference"' in wsdl.text

    public_url, _app, stop = start_sandbox(tmp_path / "public", PUBLIC_URL="https://oa.example.ir/")
    try:
        wsdl = requests.get(f"{public_url}/soap/reference?wsdl", timeout=5)
        assert 'location="https://oa.example.ir/soap/reference"' in wsdl.text
    finally:
        stop()


@pytest.mark.parametrize("use_digest", [False, True], ids=["password-text", "password-digest"])
def test_ping_with_either_password_form(sandbox, use_digest):
    answer = soap_client(sandbox, use_digest=use_digest).service.Ping()
    assert answer.ok is True
    assert abs(answer.serverTime - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_deliver_then_find_keeps_persian_text_and_attachments(sandbox, client):
    scan = bytes(range(256)) * 40
    letter_id = deliver(
        client,
        "PK-1001",
        attachments=[
            {"name": "نقشهٔ ساختمان.pdf", "contentType": "application/pdf", "content": b"%PDF-1.4"},
            {"name": "scan.jpg", "contentType": "image/jpeg", "content": scan},
        ],
    )

    found = client.service.FindLetter(reference="PK-1001")
    assert found.found is True
    assert found.letter.letterId == letter_id
    assert found.letter.reference == "PK-1001"
    assert found.letter.status == "pending"
    assert found.letter.unitCode == "CIV"
    assert found.letter.number is None and found.letter.numberDate is None

    stored = requests.get(f"{sandbox}/api/letters/{letter_id}", timeout=5).json()
    assert stored["subject"] == SUBJECT
    assert stored["body"] == BODY
    assert stored["senderName"] == "زهرا محمدی"
    assert [(a["name"], a["size"]) for a in stored["attachments"]] == [
        ("نقشهٔ ساختمان.pdf", 8),
        ("scan.jpg", len(scan)),
    ]
    download = requests.get(
        f"{sandbox}/letters/{letter_id}/attachments/{stored['attachments'][1]['id']}", timeout=5
    )
    assert download.content == scan


def test_deliver_without_unit_goes_to_the_secretariat_and_unknown_unit_is_refused(client):
    letter_id = deliver(client, "PK-1002", unit="")
    assert client.service.FindLetter(reference="PK-1002").letter.unitCode == "SEC"
    assert letter_id > 0

    fault = fault_of(lambda: deliver(client, "PK-1003", unit="NOPE"))
    assert (fault.code, fault.message) == ("soap:Client", "InvalidRequest")


def test_delivering_twice_makes_two_letters_and_find_answers_the_oldest(sandbox, client):
    first = deliver(client, "PK-2000")
    second = deliver(client, "PK-2000")
    assert first != second
    listed = requests.get(f"{sandbox}/api/letters", params={"reference": "PK-2000"}, timeout=5)
    assert [letter["id"] for letter in listed.json()["letters"]] == [second, first]
    assert client.service.FindLetter(reference="PK-2000").letter.letterId == first


def test_find_unknown_reference(client):
    answer = client.service.FindLetter(reference="NO-SUCH")
    assert answer.found is False
    assert answer.letter is None


def test_registering_shows_in_the_feed_with_a_jalali_number(sandbox, client):
    letter_id = deliver(client, "PK-3000")
    act(sandbox, letter_id, "register")

    page = client.service.GetChanges(cursor=0, max=10)
    assert len(page.changes) == 1
    change = page.changes[0]
    assert (change.letterId, change.reference, change.kind) == (letter_id, "PK-3000", "registered")
    assert re.fullmatch(r"\d{4}/\d+", change.number)
    assert change.number.split("/")[0] == str(JalaliDate.today().year)
    assert page.nextCursor == change.changeId

    empty = client.service.GetChanges(cursor=page.nextCursor, max=10)
    assert empty.changes == []
    assert empty.nextCursor == page.nextCursor

    found = client.service.FindLetter(reference="PK-3000").letter
    assert (found.status, found.number) == ("registered", change.number)
    assert abs(found.numberDate - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_deliver_can_register_at_once(sandbox, client):
    answer = client.service.DeliverLetter(reference="PK-3100", subject=SUBJECT, register=True)
    assert answer.status == "registered"
    assert re.fullmatch(rf"{JalaliDate.today().year}/\d+", answer.number)
    assert abs(answer.numberDate - datetime.now(timezone.utc)) < timedelta(minutes=1)

    (change,) = client.service.GetChanges(cursor=0, max=10).changes
    assert (change.letterId, change.kind, change.number) == (
        answer.letterId, "registered", answer.number
    )
    plain = client.service.DeliverLetter(reference="PK-3101", subject=SUBJECT, register=False)
    assert (plain.status, plain.number, plain.numberDate) == ("pending", None, None)


def test_rejecting_carries_the_reason(sandbox, client):
    letter_id = deliver(client, "PK-4000")
    act(sandbox, letter_id, "reject", reason="مدارک هویتی ناقص است")

    (change,) = client.service.GetChanges(cursor=0, max=10).changes
    assert (change.kind, change.reason, change.number) == ("rejected", "مدارک هویتی ناقص است", None)
    assert client.service.FindLetter(reference="PK-4000").letter.status == "rejected"


def test_a_letters_whole_life_through_the_feed_and_its_reply(sandbox, client):
    letter_id = deliver(client, "PK-5000")
    act(sandbox, letter_id, "register")
    act(sandbox, letter_id, "refer", unit="IT", person="علی رضایی", instruction="بررسی و اقدام")
    assert client.service.GetReply(letterId=letter_id).found is False
    act(sandbox, letter_id, "answer", text="درخواست شما انجام شد.")
    act(sandbox, letter_id, "close")

    first = client.service.GetChanges(cursor=0, max=2)
    rest = client.service.GetChanges(cursor=first.nextCursor, max=10)
    changes = first.changes + rest.changes
    assert [c.kind for c in changes] == ["registered", "referred", "answered", "closed"]
    assert [c.changeId for c in changes] == sorted(c.changeId for c in changes)
    assert rest.nextCursor == changes[-1].changeId
    referred, answered = changes[1], changes[2]
    assert (referred.unit, referred.person, referred.instruction) == (
        "IT", "علی رضایی", "بررسی و اقدام"
    )
    assert answered.text == "درخواست شما انجام شد."

    reply = client.service.GetReply(letterId=letter_id)
    assert reply.found is True
    assert reply.text == "درخواست شما انجام شد."
    assert reply.fileName == f"reply-{letter_id}.txt"
    assert reply.contentType.startswith("text/plain")
    assert "درخواست شما انجام شد." in reply.content.decode("utf-8")


def test_unknown_letter_is_a_client_fault(client):
    fault = fault_of(lambda: client.service.GetReply(letterId=999))
    assert (fault.code, fault.message) == ("soap:Client", "LetterNotFound")


@pytest.mark.parametrize(
    "username, password, use_digest",
    [
        (None, PASSWORD, False),
        (USERNAME, "wrong", False),
        ("someone-else", PASSWORD, False),
        (USERNAME, "wrong", True),
    ],
    ids=["no-token", "wrong-password", "wrong-user", "wrong-digest"],
)
def test_authentication_failures(sandbox, username, password, use_digest):
    client = soap_client(sandbox, username=username, password=password, use_digest=use_digest)
    fault = fault_of(client.service.Ping)
    assert (fault.code, fault.message) == ("soap:Client", "AuthenticationFailed")


def test_a_stale_digest_is_refused(sandbox):
    stale = UsernameToken(
        USERNAME, PASSWORD, use_digest=True, created=datetime.now(timezone.utc) - timedelta(hours=1)
    )
    client = zeep.Client(f"{sandbox}/soap/reference?wsdl", wsse=stale)
    assert fault_of(client.service.Ping).message == "AuthenticationFailed"


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
        b"<soap:Body><Ping xmlns='urn:sandbox-oa:reference'>&b;</Ping></soap:Body></soap:Envelope>",
        b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
        b"not xml at all",
    ],
    ids=["entities", "external-dtd", "garbage"],
)
def test_documents_with_a_dtd_or_no_xml_are_refused(sandbox, document):
    response = requests.post(
        f"{sandbox}/soap/reference", data=document, headers={"Content-Type": "text/xml"}, timeout=5
    )
    assert response.status_code == 500
    fault = etree.fromstring(response.content).find(".//faultstring")
    assert fault.text == "InvalidEnvelope"
    assert b"root:" not in response.content


def test_down_answers_503_but_the_wsdl_stays_readable(sandbox, client):
    set_faults(sandbox, down=True)
    fault = fault_of(client.service.Ping)
    assert (fault.code, fault.message) == ("soap:Server", "Unavailable")
    raw = requests.post(f"{sandbox}/soap/reference", data=b"<x/>", timeout=5)
    assert raw.status_code == 503
    assert requests.get(f"{sandbox}/soap/reference?wsdl", timeout=5).status_code == 200

    set_faults(sandbox)
    assert client.service.Ping().ok is True


def test_error_rate_fails_before_doing_anything(sandbox, client):
    set_faults(sandbox, error_rate=1)
    fault = fault_of(lambda: deliver(client, "PK-6000"))
    assert (fault.code, fault.message) == ("soap:Server", "Unavailable")
    assert requests.get(f"{sandbox}/api/letters", timeout=5).json()["letters"] == []


def test_latency_delays_the_answer(sandbox, client):
    set_faults(sandbox, latency_ms=400)
    started = time.monotonic()
    client.service.Ping()
    assert 0.4 <= time.monotonic() - started < 3


def test_commit_then_timeout_times_out_but_the_letter_exists(tmp_path):
    base_url, _app, stop = start_sandbox(tmp_path, TIMEOUT_SLEEP=2)
    try:
        client = soap_client(base_url, operation_timeout=0.5)
        set_faults(base_url, commit_then_timeout=1)
        with pytest.raises(requests.exceptions.Timeout):
            deliver(client, "PK-7000")
        # Only calls that change data are held back, so the adapter's look-up still answers.
        found = client.service.FindLetter(reference="PK-7000")
        assert found.found is True and found.letter.status == "pending"
    finally:
        stop()


def test_duplicate_events_repeat_changes_in_the_page(sandbox, client):
    for reference in ("PK-8001", "PK-8002"):
        act(sandbox, deliver(client, reference), "register")
    set_faults(sandbox, duplicate_events=1)
    page = client.service.GetChanges(cursor=0, max=10)
    ids = [c.changeId for c in page.changes]
    assert len(ids) == 4 and ids[0] == ids[1] and ids[2] == ids[3]
    assert page.nextCursor == max(ids)


def test_reorder_events_reverse_the_page(sandbox, client):
    for reference in ("PK-9001", "PK-9002", "PK-9003"):
        act(sandbox, deliver(client, reference), "register")
    set_faults(sandbox, reorder_events=True)
    page = client.service.GetChanges(cursor=0, max=10)
    ids = [c.changeId for c in page.changes]
    assert ids == sorted(ids, reverse=True) and len(ids) == 3
    assert page.nextCursor == max(ids)


def test_attachment_content_is_base64_on_the_wire(sandbox):
    """A hand-made envelope (no zeep) proves the wire format other clients will see."""
    envelope = f"""<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    xmlns:r="urn:sandbox-oa:reference">
  <soap:Header><wsse:Security><wsse:UsernameToken>
    <wsse:Username>{USERNAME}</wsse:Username>
    <wsse:Password Type="wsse:PasswordText">{PASSWORD}</wsse:Password>
  </wsse:UsernameToken></wsse:Security></soap:Header>
  <soap:Body><r:DeliverLetter>
    <r:reference>PK-9900</r:reference><r:subject>{SUBJECT}</r:subject>
    <r:attachments><r:name>a.txt</r:name><r:contentType>text/plain</r:contentType>
      <r:content>{base64.b64encode("سلام".encode()).decode()}</r:content></r:attachments>
  </r:DeliverLetter></soap:Body>
</soap:Envelope>""".encode()
    response = requests.post(f"{sandbox}/soap/reference", data=envelope, timeout=5)
    assert response.status_code == 200, response.text
    letter = requests.get(f"{sandbox}/api/letters", timeout=5).json()["letters"][0]
    assert letter["subject"] == SUBJECT
    assert letter["attachments"][0]["size"] == len("سلام".encode())
