"""Tracking by SMS through the file gateway's inbox: a citizen texts a tracking code to the
organization's line and gets the status back — only on the letter's own mobile — with each
inbound text recorded once and a flooding mobile answered a few times an hour at most."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, update

from connector.bootstrap import bootstrap
from connector.cli import main
from connector.domain.calendar import jalali_text
from connector.domain.normalize import to_persian_digits
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.outbox import inbound
from connector.outbox import sms as sms_outbox
from connector.plugins.ports import InboundSms as Message
from connector.store.channels import InboundSms
from connector.store.db import upgrade
from connector.store.models import Letter, Notification
from tests.conftest import make_settings

MOBILE, OTHER = "09121234567", "09351112233"


@pytest.fixture
def spx(tmp_path, store_url):
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=store_url)
    upgrade(store_url)
    px = bootstrap(settings)
    yield px
    px.close()


def _letter(px, mobile=MOBILE):
    form = letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="مریم", last_name="احمدی", subject="خرابی کوچه",
                              body="متن", service="general")
    return letters.submit(px, "demo", form, [Upload("a.pdf", b"%PDF-1.4\n%%EOF")], mobile)


def _text_in(px, sender, text):
    px.gateway("demo").simulate_inbound(sender, text)
    [outcome] = inbound.poll_org(px, "demo")
    return outcome


def _answers(px, to, kind=None):
    return [m for m in sms_outbox.listing(px, to=to)
            if m["kind"].startswith("inquiry_") and (kind is None or m["kind"] == kind)]


def test_the_letters_own_mobile_gets_status_number_and_promised_date(spx):
    px = spx
    letter = _letter(px)
    with px.sessions() as s, s.begin():
        s.execute(update(Letter).where(Letter.id == letter.id)
                  .values(state="registered", letter_number="1405/733"))
    code_fa = to_persian_digits(letter.tracking_code)
    outcome = _text_in(px, "+98" + MOBILE[1:], f"سلام، پیگیری {code_fa} لطفا")
    assert outcome.answer == "status"
    [answer] = _answers(px, MOBILE)
    assert answer["kind"] == "inquiry_status" and answer["letter"] == letter.tracking_code
    assert letter.tracking_code in answer["text"] and "ثبت شد" in answer["text"]
    assert "1405/733" in answer["text"]
    assert "پایان کار تا " + to_persian_digits(jalali_text(letter.due_date)) in answer["text"]


def test_another_mobile_learns_nothing_and_the_reply_is_the_same_as_for_no_letter(spx):
    px = spx
    letter = _letter(px)
    assert _text_in(px, OTHER, f"پیگیری {letter.tracking_code}").answer == "unknown"
    bogus = "123456789012"
    while not inbound.codes_in(bogus):  # a valid code that belongs to no letter
        bogus = str(int(bogus) + 1)
    assert _text_in(px, OTHER, f"پیگیری {bogus}").answer == "unknown"
    first, second = _answers(px, OTHER)
    assert first["text"] == second["text"] and first["letter"] is None
    assert letter.tracking_code not in first["text"] and "خرابی" not in first["text"]


def test_help_word_or_no_code_gets_the_help_line(spx):
    px = spx
    assert _text_in(px, OTHER, "راهنما").answer == "help"
    assert _text_in(px, OTHER, "سلام وضعیت نامه من چیه 1234").answer == "help"
    assert [m["kind"] for m in _answers(px, OTHER)] == ["inquiry_help"] * 2


def test_each_inbound_text_is_recorded_once_even_when_read_again(spx):
    px = spx
    letter = _letter(px)
    _text_in(px, MOBILE, letter.tracking_code)
    with px.sessions() as s, s.begin():  # as if the cursor were lost: the inbox is read again
        s.execute(update(inbound.InboxCursor).values(cursor=""))
    assert [o.inbound_id for o in inbound.poll_org(px, "demo")] == [None]
    with px.sessions() as s:
        assert s.scalar(select(func.count()).select_from(InboundSms)) == 1
    assert len(_answers(px, MOBILE)) == 1


def test_a_flooding_mobile_is_answered_a_few_times_an_hour(spx):
    px = spx
    answers = [_text_in(px, OTHER, "راهنما").answer for _ in range(8)]
    assert answers == ["help"] * 5 + ["limited"] * 3
    assert len(_answers(px, OTHER)) == 5
    assert _text_in(px, MOBILE, "راهنما").answer == "help"  # others are not held back


def test_parallel_inbound_on_postgres_hold_the_limit_and_record_once(tmp_path, pg_url):
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url,
                             PISHKHAN_SMS_REPLIES_PER_HOUR="3")
    upgrade(pg_url)
    px = bootstrap(settings)
    try:
        start = threading.Barrier(40)

        def text(i, provider_id):
            start.wait()
            return inbound.record(px, "demo", "file", Message(provider_id, OTHER, "راهنما"))

        with ThreadPoolExecutor(40) as pool:
            distinct = list(pool.map(lambda i: text(i, f"p-{i}"), range(40)))
        assert sorted(o.answer for o in distinct).count("help") == 3
        assert [o.answer for o in distinct].count("limited") == 37
        start = threading.Barrier(32)
        with ThreadPoolExecutor(32) as pool:
            same = list(pool.map(lambda i: text(i, "same-id"), range(32)))
        assert sum(o.inbound_id is not None for o in same) == 1
        with px.sessions() as s:
            assert s.scalar(select(func.count()).select_from(InboundSms)) == 41
            assert s.scalar(select(func.count()).select_from(Notification)
                            .where(Notification.to == OTHER)) == 3
    finally:
        px.close()


def test_workers_reading_one_inbox_at_once_read_it_once(tmp_path, pg_url):
    # Several workers tick at the same moment on a fresh database: one reads the inbox, the
    # others pass (before, two of them raced to create the cursor and one failed).
    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url)
    upgrade(pg_url)
    px = bootstrap(settings)
    try:
        px.gateway("demo").simulate_inbound(OTHER, "راهنما")
        start = threading.Barrier(32)

        def tick(_):
            start.wait()
            return inbound.poll_org(px, "demo")

        with ThreadPoolExecutor(32) as pool:
            read = [o for outcomes in pool.map(tick, range(32)) for o in outcomes]
        assert sum(o.inbound_id is not None for o in read) == 1
        with px.sessions() as s:
            assert s.scalar(select(func.count()).select_from(InboundSms)) == 1
            assert s.scalar(select(func.count()).select_from(Notification)
                            .where(Notification.to == OTHER)) == 1
    finally:
        px.close()


def test_pishkhan_sms_receive_answers_at_once(tmp_path):
    settings = make_settings(tmp_path)
    upgrade(settings.database_url)
    env = {k: v for k, v in settings.env.items() if k.startswith("PISHKHAN_")}
    px = bootstrap(settings)
    try:
        letter = _letter(px)
        code_fa = to_persian_digits(letter.tracking_code)
        done = CliRunner().invoke(main, ["sms", "receive", "demo", MOBILE, f"پیگیری {code_fa}"],
                                  env=env, catch_exceptions=False)
        assert done.exit_code == 0, done.output
        assert "(همین پیامک): وضعیت نامه برایش پیامک شد" in done.output  # PISHKHAN_CLI_LANG=fa
        done = CliRunner().invoke(main, ["sms", "receive", "demo", OTHER, f"پیگیری {code_fa}"],
                                  env=env, catch_exceptions=False)
        assert "پاسخ کلی بی جزئیات نامه پیامک شد" in done.output
        done = CliRunner().invoke(main, ["sms", "receive", "demo", OTHER, "راهنما"],
                                  env={**env, "PISHKHAN_CLI_LANG": "en"}, catch_exceptions=False)
        assert "answer help" in done.output
        bad = CliRunner().invoke(main, ["sms", "receive", "nowhere", OTHER, "x"], env=env)
        assert bad.exit_code != 0
    finally:
        px.close()


def test_each_organization_reads_only_its_own_line_and_answers_only_for_its_letters(spx):
    px = spx
    letter = _letter(px)  # a letter to demo
    px.gateway("demo").simulate_inbound(MOBILE, f"پیگیری {letter.tracking_code}")
    # Another organization on the file gateway shares the outbox file but not the line.
    assert inbound.poll_org(px, "demo-portal") == []
    [outcome] = inbound.poll_org(px, "demo")
    assert outcome.answer == "status"
    # The same text to demo-portal's line: the letter is not demo-portal's, so nothing of it.
    px.gateway("demo-portal").simulate_inbound(MOBILE, f"پیگیری {letter.tracking_code}")
    [outcome] = inbound.poll_org(px, "demo-portal")
    assert outcome.answer == "unknown"
    assert [m["kind"] for m in _answers(px, MOBILE)].count("inquiry_status") == 1
