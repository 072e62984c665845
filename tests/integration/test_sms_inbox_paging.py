"""The polled inboxes (Ghasedak, Melipayamak SOAP, IPPanel) when a read does not fit: a read cut
at the page cap goes on at the next poll, the providers' undocumented page order is not
assumed, a full page means more may follow, line numbers in any form, a first read that does
not reach into history, and through the core: the cut shown on the dashboard, old texts
recorded but not answered."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from connector.bootstrap import bootstrap
from connector.domain.errors import TransientError
from connector.domain.clock import now
from connector.outbox import inbound
from connector.people import staff
from connector.plugins.ports import InboundSms
from connector.store.channels import InboxCursor
from connector.store.db import upgrade
from portal import create_app
from tests.conftest import make_settings, staff_login
from tests.integration.test_sms_inbox_polled import CORE, _calls, _ghasedak, _ippanel, _soap
from tests.smsfakes import ghasedak, ippanel_v1, melipayamak_soap, serve

FAKES = {"ghasedak": (ghasedak.FakeGhasedak, _ghasedak),
         "melipayamak-soap": (melipayamak_soap.FakeMelipayamakSoap, _soap),
         "ippanel": (ippanel_v1.FakeIppanel, _ippanel)}


@pytest.mark.parametrize("name", list(FAKES))
@pytest.mark.parametrize("newest_first", [True, False])
def test_a_read_cut_at_the_page_cap_goes_on_at_the_next_poll(name, newest_first):
    fake_cls, make = FAKES[name]
    fake = fake_cls()
    fake.newest_first = newest_first
    with serve(fake) as url:
        gateway = make(url)
        gateway.INBOX_PAGES = 1  # one page of 100 a read
        # Texts in the overlap are read again by design; without it, a read of only new texts
        # shows whether a cut read goes on.
        gateway.OVERLAP = timedelta(0)
        start = datetime.now(timezone.utc) - timedelta(hours=1)
        fake.citizen_texts("09121234567", "پیش از همه", at=start - timedelta(hours=1))
        _, cursor = gateway.receive("")
        for i in range(150):
            fake.citizen_texts("09121234567", f"پیام {i}", at=start + timedelta(seconds=i))
        first, cut = gateway.receive(cursor)
        assert len(first) <= 101
        fake.citizen_texts("09121234567", "در میانه")  # arrives while the backlog is read
        got, cursor = list(first), cut
        for _ in range(4):  # two reads finish the backlog; the rest find nothing new
            messages, cursor = gateway.receive(cursor)
            got.extend(messages)
        texts = {m.text for m in got}
        assert {f"پیام {i}" for i in range(150)} <= texts and "در میانه" in texts
        # The cut was shown while it lasted, and no read stays cut for ever.
        assert gateway.inbox_note(cut).startswith("partial")
        assert gateway.inbox_note(cursor) is None

def test_ippanel_listed_oldest_first_is_read_past_old_pages():
    fake = ippanel_v1.FakeIppanel()
    fake.newest_first = False
    old = datetime.now(timezone.utc) - timedelta(hours=3)
    with serve(fake) as url:
        gateway = _ippanel(url)
        for i in range(100):
            fake.citizen_texts("09121234567", f"قدیمی {i}", at=old)
        for i in range(5):
            fake.citizen_texts("09121234567", f"تازه {i}")
        # The cursor is an hour old: the first page, all older, says nothing of the second.
        got, cursor = gateway.receive((now() - timedelta(hours=1)).isoformat())
        assert [m.text for m in got] == [f"تازه {i}" for i in range(5)]
        fake.citizen_texts("09121234567", "تازه‌تر")
        got, _ = gateway.receive(cursor)
        assert "تازه‌تر" in [m.text for m in got]


def test_melipayamak_soap_listed_oldest_first_is_read_past_the_cursor():
    fake = melipayamak_soap.FakeMelipayamakSoap()
    fake.newest_first = False
    with serve(fake) as url:
        gateway = _soap(url)
        ids = [fake.citizen_texts("09121234567", f"پیام {i}") for i in range(150)]
        got, cursor = gateway.receive(str(ids[99]))
        assert [m.text for m in got] == [f"پیام {i}" for i in range(100, 150)]
        assert cursor.split("|")[0] == str(ids[-1])
        calls = len(fake.receive_paths)
        fake.citizen_texts("09121234567", "تازه")
        got, _ = gateway.receive(cursor)
        # The next read starts where new texts come (the last page), not at the oldest.
        assert [m.text for m in got] == ["تازه"] and len(fake.receive_paths) == calls + 1


@pytest.mark.parametrize("newest_first", [True, False])
def test_ghasedak_reads_on_after_a_full_page_without_paging_flags(newest_first):
    fake = ghasedak.FakeGhasedak()
    fake.paging_flags, fake.newest_first = False, newest_first
    with serve(fake) as url:
        gateway = _ghasedak(url)
        for i in range(150):
            fake.citizen_texts("09121234567", f"پیام {i}")
        got, _ = gateway.receive("")
        assert len(got) == 150


def test_line_numbers_in_any_form_and_none_are_ours_and_others_are_counted():
    fake = ghasedak.FakeGhasedak()
    with serve(fake) as url:
        gateway = _ghasedak(url)
        fake.citizen_texts("09121234567", "بی‌خط", listed_as=None)
        fake.citizen_texts("09121234567", "با پیشوند", listed_as="+9830005088")
        fake.citizen_texts("09121234567", "خط دیگر", listed_as="30009999")
        got, cursor = gateway.receive("")
        assert sorted(m.text for m in got) == sorted(["بی‌خط", "با پیشوند"])
        assert "1 texts to another line" in gateway.inbox_note(cursor)
    fake = ippanel_v1.FakeIppanel()
    with serve(fake) as url:
        gateway = _ippanel(url)  # sender +983000505
        fake.citizen_texts("09121234567", "بی‌پیشوند", line="3000505")
        fake.citizen_texts("09121234567", "با صفر", line="0098 3000505")
        got, cursor = gateway.receive("")
        assert sorted(m.text for m in got) == sorted(["بی‌پیشوند", "با صفر"])
        assert gateway.inbox_note(cursor) is None


@pytest.mark.parametrize("name", ["melipayamak-soap", "ippanel"])
def test_a_first_read_looks_back_one_day_only(name):
    fake_cls, make = FAKES[name]
    fake = fake_cls()
    with serve(fake) as url:
        gateway = make(url)
        long_ago = datetime.now(timezone.utc) - timedelta(days=3)
        for i in range(150):
            fake.citizen_texts("09121234567", f"قدیمی {i}", at=long_ago)
        fake.citizen_texts("09121234567", "امروز")
        got, cursor = gateway.receive("")
        assert [m.text for m in got] == ["امروز"]
        calls = _calls(fake, "receive.asmx" if name == "melipayamak-soap" else "inbox")
        assert calls == 1  # newest first: the page reaching the look-back ends the read
        fake.citizen_texts("09121234567", "تازه")
        # (IPPanel reads the last 30 minutes again by design; they are recorded once.)
        assert [m.text for m in gateway.receive(cursor)[0]][-1:] == ["تازه"]


def test_melipayamak_soap_refuses_an_answer_with_a_doctype():
    fake = melipayamak_soap.FakeMelipayamakSoap()
    with serve(fake) as url:
        fake.citizen_texts("09121234567", "سلام")
        fake.doctype = True
        with pytest.raises(TransientError, match="unreadable"):
            _soap(url).receive("")


# --- through the core ----------------------------------------------------------------------

def _core(tmp_path, name: str, url: str, **env: str):
    _, table, secrets, _ = CORE[name]
    make_settings(tmp_path)
    demo = tmp_path / "orgs" / "demo.toml"
    demo.write_text(demo.read_text(encoding="utf-8").replace(
        '[sms]\ntype = "file"', "[sms]\n" + table.format(url=url)), encoding="utf-8")
    settings = make_settings(tmp_path, **secrets, **env)
    upgrade(settings.database_url)
    return bootstrap(settings)


def test_the_core_shows_a_cut_read_and_answers_every_text_once(tmp_path):
    fake = melipayamak_soap.FakeMelipayamakSoap()
    with serve(fake) as url:
        px = _core(tmp_path, "melipayamak-soap", url, PISHKHAN_SMS_REPLIES_PER_HOUR="1000")
        try:
            px.gateway("demo", "melipayamak-soap").INBOX_PAGES = 1
            for i in range(150):
                fake.citizen_texts(f"0912{i:07d}", "راهنما")
            first = inbound.poll_org(px, "demo")
            assert len(first) == 100
            with px.sessions() as s:
                assert s.get(InboxCursor, ("demo", "melipayamak-soap")
                             ).last_error.startswith("partial")
            staff.add_user(px, "adm", "long-enough-1", role="org_admin", orgs=["demo"])
            client = create_app(px, {"TESTING": True}).test_client()
            staff_login(client, "adm")
            page = client.get("/admin/demo").get_data(as_text=True)
            assert "partial" in page.split('id="sms-inboxes"', 1)[1].split("</table>", 1)[0]
            rest = inbound.poll_org(px, "demo")
            assert len(rest) == 50 and {o.answer for o in first + rest} == {"help"}
            assert inbound.poll_org(px, "demo") == []
            with px.sessions() as s:
                assert s.get(InboxCursor, ("demo", "melipayamak-soap")).last_error is None
            assert len(inbound.listing(px, "demo", limit=500)) == 150
        finally:
            px.close()


@pytest.mark.parametrize(("hours", "env", "answer"), [
    (30, {}, "stale"), (23, {}, "help"), (30, {"PISHKHAN_SMS_INBOUND_MAX_AGE_HOURS": "48"}, "help")])
def test_the_core_records_old_texts_as_stale_without_answering(tmp_path, hours, env, answer):
    # A renamed gateway, or a provider whose first read lists history, hands over old texts.
    fake = ippanel_v1.FakeIppanel()
    with serve(fake) as url:
        px = _core(tmp_path, "ippanel", url, **env)
        try:
            at = now() - timedelta(hours=hours)
            outcome = inbound.record(px, "demo", "ippanel", InboundSms(
                "old-1", "09121234567", "راهنما", at, "+983000505"))
            assert outcome.answer == answer
            with px.sessions() as s:
                from connector.store.channels import InboundSms as Row
                row = s.get(Row, outcome.inbound_id)
                assert (row.notification_id is None) == (answer == "stale")
        finally:
            px.close()
