"""The inboxes of Ghasedak, Melipayamak SOAP and IPPanel, each against its fake on loopback:
paging to the end, the cursor and its overlap, texts to other lines, and every failure
classified (and, through the core, recorded on the cursor rather than raised)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connector.bootstrap import bootstrap
from connector.domain.errors import (
    ConfigurationError,
    ExternalError,
    PermanentError,
    TransientError,
)
from connector.outbox import inbound
from connector.plugins import registry
from connector.store.channels import InboxCursor
from connector.store.db import upgrade
from connector.people import staff
from portal import create_app
from tests.conftest import make_settings, staff_login
from tests.smsfakes import closed_port, ghasedak, ippanel_v1, melipayamak, melipayamak_soap, serve

TIMEOUTS = {"timeout": 0.4, "connect_timeout": 0.4}


def _ghasedak(url: str, **extra):
    return registry.create(registry.SMS_GATEWAYS, "ghasedak", {
        "api_key_env": "K", "sender": "30005088", "url": url, **TIMEOUTS, **extra},
        {"K": ghasedak.KEY})


def _ippanel(url: str, key: str = ippanel_v1.KEY):
    return registry.create(registry.SMS_GATEWAYS, "ippanel", {
        "api_key_env": "K", "sender": "+983000505", "url": f"{url}/api/v1", **TIMEOUTS},
        {"K": key})


def _soap(url: str, **extra):
    return registry.create(registry.SMS_GATEWAYS, "melipayamak-soap", {
        "username_env": "U", "password_env": "P", "sender": "50004001",
        "url": f"{url}/post/send.asmx", **TIMEOUTS, **extra},
        {"U": melipayamak.USERNAME, "P": melipayamak.PASSWORD})


def _calls(fake, name: str) -> int:
    return sum(1 for r in fake.requests if r.path.endswith(name))


# --- Ghasedak ------------------------------------------------------------------------------

def test_ghasedak_reads_every_page_of_both_read_states_and_moves_its_cursor():
    fake = ghasedak.FakeGhasedak()
    with serve(fake) as url:
        gateway = _ghasedak(url)
        for i in range(230):
            fake.citizen_texts("09121234567", f"پیام {i}")
        fake.inbox[5]["read"] = True  # someone opened it in the panel: still ours to answer
        fake.citizen_texts("09121234567", "به خط دیگر", line="30009999")
        first, cursor = gateway.receive("")
        assert len(first) == 230 and [m.text for m in first[:2]] == ["پیام 0", "پیام 1"]
        assert first[0].sender == "09121234567" and first[0].line == "30005088"
        assert {int(m.provider_id) for m in first} == {m["id"] for m in fake.inbox[:230]}
        # 230 unread texts are three pages of 100; the read ones fit on one.
        assert _calls(fake, "GetReceivedSmsesPaging") == 4
        assert cursor == fake.inbox[229]["receiveDate"]
        query = fake.requests[-1].args
        assert query["LineNumber"] == "30005088" and int(query["PageSize"]) <= 200

        # A text the operator hands over late, dated before the cursor but within the overlap,
        # is still read; the same texts come back in the overlap and the cursor only moves on.
        late = datetime.fromisoformat(cursor) - timedelta(minutes=10)
        fake.citizen_texts("09121234567", "دیر رسید", at=late)
        again, cursor2 = gateway.receive(cursor)
        assert "دیر رسید" in [m.text for m in again]
        assert cursor2 == cursor  # the late text is older than the newest seen

        # Texts older than the overlap are not asked for again.
        old = ghasedak.FakeGhasedak()
        with serve(old) as url2:
            g2 = _ghasedak(url2)
            old.citizen_texts("09121234567", "قدیمی",
                              at=datetime.now(timezone.utc) - timedelta(hours=3))
            old.citizen_texts("09121234567", "تازه")
            got, c = g2.receive("")
            assert [m.text for m in got] == ["قدیمی", "تازه"]
            old.citizen_texts("09121234567", "تازه‌تر")
            got, _ = g2.receive(c)
            assert [m.text for m in got] == ["تازه", "تازه‌تر"]


@pytest.mark.parametrize(("code", "cls"), [
    (401, ConfigurationError), (403, ConfigurationError), (400, PermanentError),
    (429, TransientError), (503, TransientError)])
def test_ghasedak_inbox_errors_are_classified_and_the_key_never_shows(code, cls):
    fake = ghasedak.FakeGhasedak()
    fake.fail_next = code
    with serve(fake) as url, pytest.raises(ExternalError) as caught:
        _ghasedak(url).receive("")
    assert type(caught.value) is cls and str(code) in caught.value.detail
    assert ghasedak.KEY not in str(caught.value)


def test_ghasedak_inbox_wrong_key_timeout_and_refused_connection():
    fake = ghasedak.FakeGhasedak()
    with serve(fake) as url:
        wrong = registry.create(registry.SMS_GATEWAYS, "ghasedak", {
            "api_key_env": "K", "sender": "30005088", "url": url}, {"K": "not-the-key"})
        with pytest.raises(ConfigurationError):  # HTTP 401, isSuccess false, statusCode 401
            wrong.receive("")
        fake.delay = 0.8
        with pytest.raises(TransientError, match="no answer"):
            _ghasedak(url).receive("")
    with pytest.raises(TransientError):
        _ghasedak(closed_port()).receive("")


# --- Melipayamak SOAP ----------------------------------------------------------------------

def test_melipayamak_soap_pages_until_the_cursor_from_the_receive_service():
    fake = melipayamak_soap.FakeMelipayamakSoap()
    with serve(fake) as url:
        gateway = _soap(url)
        assert gateway.capabilities.supports_inbox
        for i in range(250):
            fake.citizen_texts("09121234567", f"پیام {i} <&>")
        fake.citizen_texts("09121234567", "به خط دیگر", line="30009999")
        first, cursor = gateway.receive("")
        assert len(first) == 250 and first[0].text == "پیام 0 <&>"
        assert cursor == str(fake.inbox[249]["MsgID"])
        assert fake.receive_paths == ["/post/receive.asmx"] * 3  # 100 + 100 + 50
        # SendDate is Tehran time without an offset: read as UTC, it is 3:30 earlier.
        tehran = datetime.fromisoformat(fake.inbox[0]["SendDate"])
        assert first[0].received_at == tehran - timedelta(hours=3, minutes=30)

        fake.citizen_texts("09121234567", "تازه")
        again, cursor2 = gateway.receive(cursor)
        assert [m.text for m in again] == ["تازه"] and int(cursor2) == int(cursor) + 2
        assert len(fake.receive_paths) == 4  # the first page already reached the cursor
        assert gateway.receive(cursor2) == ([], cursor2)


def test_melipayamak_soap_receive_address_can_be_given():
    fake = melipayamak_soap.FakeMelipayamakSoap()
    with serve(fake) as url:
        fake.citizen_texts("09121234567", "سلام")
        gateway = _soap(url, receive_url=f"{url}/other/Receive.asmx")
        assert [m.text for m in gateway.receive("")[0]] == ["سلام"]
        assert fake.receive_paths == ["/other/Receive.asmx"]
        with pytest.raises(ConfigurationError, match="receive_url"):
            _soap(url, receive_url="api.payamak-panel.com/post/receive.asmx")


def test_melipayamak_soap_inbox_failures():
    fake = melipayamak_soap.FakeMelipayamakSoap()
    with serve(fake) as url:
        gateway = _soap(url)
        fake.fail_next = "fault"
        with pytest.raises(TransientError, match="SOAP fault"):
            gateway.receive("")
        fake.delay = 0.8
        with pytest.raises(TransientError, match="no answer"):
            gateway.receive("")
        fake.delay = 0
        # The service documents no refusal of wrong credentials on GetMessages (what it
        # answers is not known, so nothing is asserted of it); the send path reports them.
        wrong = registry.create(registry.SMS_GATEWAYS, "melipayamak-soap", {
            "username_env": "U", "password_env": "P", "sender": "50004001",
            "url": f"{url}/post/send.asmx"}, {"U": melipayamak.USERNAME, "P": "wrong"})
        with pytest.raises(ConfigurationError):
            wrong.send("09121234567", "سلام", "ab" * 16)
        # An address that is not the receive service: HTTP 404 is a configuration error.
        fake.missing.add("/nothing/here")
        bad = _soap(url, receive_url=f"{url}/nothing/here")
        with pytest.raises(ConfigurationError, match="404"):
            bad.receive("")
    with pytest.raises(TransientError):
        _soap(closed_port()).receive("")


# --- IPPanel -------------------------------------------------------------------------------

def test_ippanel_pages_newest_first_until_the_cursor_with_stable_ids():
    fake = ippanel_v1.FakeIppanel()
    hours_ago = datetime.now(timezone.utc) - timedelta(hours=2)
    with serve(fake) as url:
        gateway = _ippanel(url)
        for i in range(120):
            fake.citizen_texts("09121234567", f"قدیمی {i}", at=hours_ago)
        for i in range(130):
            fake.citizen_texts("09121234567", f"پیام {i}")
        fake.citizen_texts("09121234567", "به خط دیگر", line="+98300099")
        first, cursor = gateway.receive("")
        assert len(first) == 250 and _calls(fake, "inbox") == 3  # to the last page
        assert first[0].text == "قدیمی 0" and first[-1].text == "پیام 129"
        assert first[0].sender == "+989121234567" and first[0].line == "+983000505"
        assert len({m.provider_id for m in first}) == 250
        # The same item gives the same id on every read (derived: it has none of its own).
        again, cursor2 = gateway.receive(cursor)
        assert {m.provider_id for m in again} == {m.provider_id for m in first[120:]}
        assert cursor2 == cursor
        # The pages come newest first, so the second, reaching texts older than the overlap,
        # ends the read.
        assert _calls(fake, "inbox") == 3 + 2
        fake.citizen_texts("09121234567", "تازه")
        newest, _ = gateway.receive(cursor)
        assert newest[-1].text == "تازه"


@pytest.mark.parametrize(("code", "cls"), [
    (401, ConfigurationError), (403, ConfigurationError), (404, ConfigurationError),
    (422, PermanentError), (429, TransientError), (500, TransientError)])
def test_ippanel_inbox_errors_are_classified(code, cls):
    fake = ippanel_v1.FakeIppanel()
    fake.fail_next = code
    with serve(fake) as url, pytest.raises(ExternalError) as caught:
        _ippanel(url).receive("")
    assert type(caught.value) is cls and str(code) in caught.value.detail
    assert ippanel_v1.KEY not in str(caught.value)


def test_ippanel_inbox_wrong_key_and_timeout():
    fake = ippanel_v1.FakeIppanel()
    with serve(fake) as url:
        with pytest.raises(ConfigurationError, match="401"):
            _ippanel(url, key="wrong").receive("")
        fake.delay = 0.8
        with pytest.raises(TransientError, match="no answer"):
            _ippanel(url).receive("")


# --- through the core ----------------------------------------------------------------------

CORE = {
    "ghasedak": (ghasedak.FakeGhasedak, 'type = "ghasedak"\napi_key_env = "GH_KEY"\n'
                 'sender = "30005088"\nurl = "{url}"\ntimeout = 0.4',
                 {"GH_KEY": ghasedak.KEY}, 503),
    "melipayamak-soap": (melipayamak_soap.FakeMelipayamakSoap,
                         'type = "melipayamak-soap"\nusername_env = "MU"\npassword_env = "MP"\n'
                         'sender = "50004001"\nurl = "{url}/post/send.asmx"\ntimeout = 0.4',
                         {"MU": melipayamak.USERNAME, "MP": melipayamak.PASSWORD}, "fault"),
    "ippanel": (ippanel_v1.FakeIppanel, 'type = "ippanel"\napi_key_env = "IPP_KEY"\n'
                'sender = "+983000505"\nurl = "{url}/api/v1"\ntimeout = 0.4',
                {"IPP_KEY": ippanel_v1.KEY}, 500),
}


@pytest.mark.parametrize("name", list(CORE))
def test_a_failed_read_is_visible_on_the_cursor_and_the_next_read_catches_up(tmp_path, name):
    fake_cls, table, env, transient = CORE[name]
    fake = fake_cls()
    with serve(fake) as url:
        make_settings(tmp_path)
        demo = tmp_path / "orgs" / "demo.toml"
        demo.write_text(demo.read_text(encoding="utf-8").replace(
            '[sms]\ntype = "file"', "[sms]\n" + table.format(url=url)), encoding="utf-8")
        settings = make_settings(tmp_path, **env)
        upgrade(settings.database_url)
        px = bootstrap(settings)
        try:
            fake.citizen_texts("09121234567", "راهنما")
            fake.fail_next = transient
            assert inbound.poll_org(px, "demo") == []
            with px.sessions() as s:
                state = s.get(InboxCursor, ("demo", name))
                assert state.last_error.startswith("transient") and state.cursor == ""
            fake.delay = 0.8  # the provider does not answer in time: the same, visibly
            assert inbound.poll_org(px, "demo") == []
            with px.sessions() as s:
                assert "no answer" in s.get(InboxCursor, ("demo", name)).last_error
            # The admin's dashboard shows the failing read.
            staff.add_user(px, "adm", "long-enough-1", role="org_admin", orgs=["demo"])
            client = create_app(px, {"TESTING": True}).test_client()
            staff_login(client, "adm")
            page = client.get("/admin/demo").get_data(as_text=True)
            row = page.split('id="sms-inboxes"', 1)[1].split("</table>", 1)[0]
            assert name in row and "transient" in row and "no answer" in row
            fake.delay = 0
            got = inbound.poll_org(px, "demo")
            assert [o.answer for o in got] == ["help"]
            for _ in range(2):  # polled again and again: recorded and answered once
                assert all(o.inbound_id is None for o in inbound.poll_org(px, "demo"))
            with px.sessions() as s:
                state = s.get(InboxCursor, ("demo", name))
                assert state.last_error is None and state.cursor
            assert len(inbound.listing(px, "demo")) == 1
        finally:
            px.close()


def test_every_gateway_that_claims_an_inbox_reads_one_and_only_kavenegar_takes_pushes():
    from connector.plugins.ports import SmsGateway
    claims = {}
    for name in registry.names(registry.SMS_GATEWAYS):
        cls = registry.load(registry.SMS_GATEWAYS, name)
        caps = cls.capabilities
        assert caps.supports_inbox == (cls.receive is not SmsGateway.receive), name
        assert caps.supports_inbound_push == (cls.parse_push is not SmsGateway.parse_push), name
        claims[name] = (caps.supports_inbox, caps.supports_inbound_push)
    assert claims["ippanel-edge"] == (False, False)  # Edge documents no inbox
    assert {n for n, (_, push) in claims.items() if push} == {"kavenegar"}
    assert all(claims[n][0] for n in ("ghasedak", "melipayamak-soap", "farapayamak-soap",
                                      "ippanel"))
