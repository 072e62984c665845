"""Providers' inbox APIs, each against its fake on loopback, through the core: a citizen's text
to the organization's line is read, recorded once and answered."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from connector.bootstrap import bootstrap
from connector.domain.normalize import to_persian_digits
from connector.outbox import inbound
from connector.store.channels import InboxCursor
from connector.store.db import upgrade
from tests.conftest import make_settings
from tests.integration.test_sms_tracking import MOBILE, _letter
from tests.smsfakes import (
    ghasedak,
    ippanel_v1,
    kavenegar,
    magfa,
    melipayamak,
    melipayamak_soap,
    serve,
    smsir,
)


@dataclass
class Provider:
    name: str
    fake: Any
    sms_table: str
    env: dict[str, str]
    sender: str  # our citizen's number as this provider writes it
    bad_credentials: Any  # the provider's refusal of our key; None: it documents none
    # Reads again, by design, the texts of the last read within an overlap (a time window:
    # Ghasedak, IPPanel), recognised by provider id. The others read exactly after their
    # cursor (or the provider hands a text over once) and must return nothing.
    rereads: bool = False


PROVIDERS = [
    Provider("kavenegar", kavenegar.FakeKavenegar,
             'type = "kavenegar"\napi_key_env = "KN_KEY"\nsender = "10004346"\nurl = "{url}/v1"',
             {"KN_KEY": kavenegar.KEY}, "989121234567", 403),
    Provider("melipayamak", melipayamak.FakeMelipayamak,
             'type = "melipayamak"\nusername_env = "MELI_USER"\npassword_env = "MELI_PASS"\n'
             'sender = "50004001"\nurl = "{url}/api/SendSMS"',
             {"MELI_USER": melipayamak.USERNAME, "MELI_PASS": melipayamak.PASSWORD},
             "09121234567", 0),
    Provider("smsir", smsir.FakeSmsIr,
             'type = "smsir"\napi_key_env = "SMSIR_KEY"\nsender = "30007732000000"\n'
             'url = "{url}/v1"', {"SMSIR_KEY": smsir.KEY}, "09121234567", 10),
    Provider("magfa", magfa.FakeMagfa,
             'type = "magfa"\nusername_env = "MAGFA_USER"\npassword_env = "MAGFA_PASS"\n'
             f'domain = "{magfa.DOMAIN}"\nsender = "30001234"\n'
             'url = "{url}/api/http/sms/v2"',
             {"MAGFA_USER": magfa.USERNAME, "MAGFA_PASS": magfa.PASSWORD}, "09121234567", 18),
    Provider("ghasedak", ghasedak.FakeGhasedak,
             'type = "ghasedak"\napi_key_env = "GH_KEY"\nsender = "30005088"\nurl = "{url}"',
             {"GH_KEY": ghasedak.KEY}, "09121234567", 401, rereads=True),
    Provider("melipayamak-soap", melipayamak_soap.FakeMelipayamakSoap,
             'type = "melipayamak-soap"\nusername_env = "MELI_USER"\n'
             'password_env = "MELI_PASS"\nsender = "50004001"\nurl = "{url}/post/send.asmx"',
             {"MELI_USER": melipayamak.USERNAME, "MELI_PASS": melipayamak.PASSWORD},
             "09121234567", None),
    Provider("ippanel", ippanel_v1.FakeIppanel,
             'type = "ippanel"\napi_key_env = "IPP_KEY"\nsender = "+983000505"\n'
             'url = "{url}/api/v1"', {"IPP_KEY": ippanel_v1.KEY}, "09121234567", 401,
             rereads=True),
]


@pytest.mark.parametrize("provider", PROVIDERS, ids=lambda p: p.name)
def test_provider_inbox_is_read_recorded_once_and_answered(tmp_path, provider):
    fake = provider.fake()
    with serve(fake) as url:
        make_settings(tmp_path)  # copies the organization files
        demo = tmp_path / "orgs" / "demo.toml"
        demo.write_text(demo.read_text(encoding="utf-8").replace(
            '[sms]\ntype = "file"', "[sms]\n" + provider.sms_table.format(url=url)),
            encoding="utf-8")
        settings = make_settings(tmp_path, **provider.env)
        upgrade(settings.database_url)
        px = bootstrap(settings)
        try:
            assert px.gateway("demo").capabilities.supports_inbox
            letter = _letter(px)
            fake.citizen_texts(provider.sender,
                               f"پیگیری {to_persian_digits(letter.tracking_code)}")
            fake.citizen_texts("09351112233", "راهنما")
            fake.citizen_texts("09351112233", "راهنما", line="99999999")  # another's line
            sent = [dict(m) for m in fake.inbox]
            outcomes = inbound.poll_org(px, "demo")
            assert [o.answer for o in outcomes] == ["status", "help"]
            # Nothing new: a provider read with an overlap lists the same texts again, and
            # each is recognised by its provider id (recorded before, not answered again); a
            # provider read after an exact cursor lists nothing.
            second = inbound.poll_org(px, "demo")
            if provider.rereads:
                assert second and all(o.inbound_id is None for o in second)
            else:
                assert second == []
            # Read again from the start (a lost cursor, or texts marked unread): recorded once.
            for m in fake.inbox:
                if "read" in m:  # Kavenegar's unread flag
                    m["read"] = False
            if not fake.inbox:  # Magfa drops what it hands over: as if handed over again
                fake.inbox.extend(sent)
            with px.sessions() as s, s.begin():
                s.get(InboxCursor, ("demo", provider.name)).cursor = ""
            again = inbound.poll_org(px, "demo")
            assert again and all(o.inbound_id is None for o in again)
            if provider.bad_credentials is None:
                return
            # A refused sign-in is recorded on the cursor, not raised.
            fake.fail_next = provider.bad_credentials
            assert inbound.poll_org(px, "demo") == []
            with px.sessions() as s:
                state = s.get(InboxCursor, ("demo", provider.name))
                assert "configuration" in state.last_error
        finally:
            px.close()



def test_smsir_reads_every_page_and_stops_at_the_cursor():
    from connector.plugins import registry
    fake = smsir.FakeSmsIr()
    with serve(fake) as url:
        gateway = registry.create(registry.SMS_GATEWAYS, "smsir", {
            "api_key_env": "K", "sender": "30007732000000", "url": f"{url}/v1"},
            {"K": smsir.KEY})
        for i in range(150):
            fake.citizen_texts("09121234567", f"پیام {i}")
        first, cursor = gateway.receive("")
        assert len(first) == 150 and cursor == first[-1].provider_id
        assert first[0].sender == "9121234567" and first[0].text == "پیام 0"
        fake.citizen_texts("09121234567", "تازه")
        again, cursor2 = gateway.receive(cursor)
        assert [m.text for m in again] == ["تازه"] and int(cursor2) > int(cursor)


def test_kavenegar_push_to_a_secret_address(tmp_path):
    from portal import create_app
    from tests.integration.test_sms_tracking import _answers
    make_settings(tmp_path)
    demo = tmp_path / "orgs" / "demo.toml"
    demo.write_text(demo.read_text(encoding="utf-8").replace(
        '[sms]\ntype = "file"', '[sms]\ntype = "kavenegar"\napi_key_env = "KN_KEY"\n'
        'sender = "10004346"\nurl = "http://127.0.0.1:9/v1"\n'
        'inbound_token_env = "KN_PUSH_TOKEN"'), encoding="utf-8")
    settings = make_settings(tmp_path, KN_KEY=kavenegar.KEY, KN_PUSH_TOKEN="t0k3n-long-random")
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        client = create_app(px, {"TESTING": True}).test_client()
        letter = _letter(px)
        fields = {"messageid": "9001", "from": "09121234567", "to": "10004346",
                  "message": f"پیگیری {to_persian_digits(letter.tracking_code)}"}
        r = client.get("/api/v1/sms/inbound/demo/t0k3n-long-random", query_string=fields)
        assert r.status_code == 200 and r.json == {"received": 1}
        assert [m["kind"] for m in _answers(px, MOBILE)] == ["inquiry_status"]
        r = client.post("/api/v1/sms/inbound/demo/t0k3n-long-random", data=fields)
        assert r.status_code == 200 and r.json == {"received": 0}  # the same text again
        assert client.get("/api/v1/sms/inbound/demo/wrong", query_string=fields
                          ).status_code == 404
        assert client.get("/api/v1/sms/inbound/demo/t0k3n-long-random",
                          query_string={"from": "0912"}).status_code == 400
        assert len(_answers(px, MOBILE)) == 1
    finally:
        px.close()
