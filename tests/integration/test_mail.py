"""E-mail to citizens: the choice of SMS, e-mail or both on the letter; the outbox's
guarantees (sent once, retried with backoff, failures kept); the file outbox; and SMTP against
a real server on loopback (aiosmtpd) with STARTTLS and AUTH."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select, update

from connector.bootstrap import bootstrap
from connector.domain import clock
from connector.domain.errors import ValidationError
from connector.letters import usecases as letters
from connector.letters.files import Upload
from connector.outbox import mail as mail_outbox
from connector.outbox import sms as sms_outbox
from connector.store.channels import Email
from connector.store.db import transaction, upgrade
from tests.conftest import make_settings
from tests.mailserver import PASSWORD, USER, smtp_server

MOBILE, ADDRESS = "09121234567", "maryam@example.com"


def _form(**extra):
    return letters.LetterForm(applicant_type="natural", national_code="0076229645",
                              first_name="مریم", last_name="احمدی", subject="خرابی کوچه",
                              body="متن", service="general", **extra)


def _submit(px, **extra):
    return letters.submit(px, "demo", _form(**extra), [Upload("a.pdf", b"%PDF-1.4\n%%EOF")],
                          MOBILE)


def _px(tmp_path, mail_table: str = "", **env):
    make_settings(tmp_path)
    if mail_table:
        demo = tmp_path / "orgs" / "demo.toml"
        demo.write_text(demo.read_text(encoding="utf-8") + "\n[mail]\n" + mail_table + "\n",
                        encoding="utf-8")
    settings = make_settings(tmp_path, **env)
    upgrade(settings.database_url)
    return bootstrap(settings)


def test_both_channels_the_file_outbox_and_a_persian_rtl_message(tmp_path):
    px = _px(tmp_path)
    try:
        letter = _submit(px, email="Maryam@Example.com ", notify_by="both")
        assert letter.email == ADDRESS
        assert [m["kind"] for m in sms_outbox.listing(px, to=MOBILE)] == ["receipt"]
        assert mail_outbox.dispatch_due(px) == 1
        [row] = mail_outbox.listing(px, to=ADDRESS)
        assert row["status"] == "sent" and row["letter"] == letter.tracking_code
        [eml] = (tmp_path / "var" / "mail-outbox").glob("*.eml")
        mail = message_from_bytes(eml.read_bytes(), policy=policy.default)
        assert mail["To"] == ADDRESS and letter.tracking_code in mail["Subject"]
        assert "شهرداری نمونه" in mail["Subject"] and mail["Message-ID"] == row["message_id"]
        plain, rich = mail.get_body(("plain",)), mail.get_body(("html",))
        assert [p.get_content_type() for p in mail.iter_parts()] == ["text/plain", "text/html"]
        assert letter.tracking_code in plain.get_content() and "پایان کار تا" in \
            plain.get_content()
        html = rich.get_content()
        assert 'dir="rtl"' in html and 'lang="fa"' in html and "<script" not in html
        assert f'href="{px.settings.public_url}/t/{letter.tracking_code}"' in html
        assert mail_outbox.dispatch_due(px) == 0  # sent once
    finally:
        px.close()


def test_email_only_and_the_choice_is_checked(tmp_path):
    px = _px(tmp_path)
    try:
        _submit(px, email=ADDRESS, notify_by="email")
        assert sms_outbox.listing(px, to=MOBILE) == []
        assert len(mail_outbox.listing(px, to=ADDRESS)) == 1
        with pytest.raises(ValidationError) as bad:
            _submit(px, notify_by="email")
        import messages
        assert "ایمیل" in messages.render(bad.value.errors["email"])
        with pytest.raises(ValidationError) as bad:
            _submit(px, email="not-an-address", notify_by="both")
        assert "email" in bad.value.errors
        with pytest.raises(ValidationError) as bad:
            _submit(px, email=ADDRESS, notify_by="fax")
        assert "notify_by" in bad.value.errors
        # An address without choosing e-mail: SMS only, as chosen.
        _submit(px, email="other@example.com", notify_by="sms")
        assert mail_outbox.listing(px, to="other@example.com") == []
    finally:
        px.close()


def _smtp_table(port, cert, **extra):
    keys = {"type": '"smtp"', "host": '"127.0.0.1"', "port": port, "from": '"desk@example.ir"',
            "username_env": '"SMTP_USER"', "password_env": '"SMTP_PASS"',
            "ca_file": f'"{cert}"', "timeout": 2, **extra}
    return "\n".join(f"{k} = {v}" for k, v in keys.items())


def test_smtp_with_starttls_and_auth_delivers_both_parts(tmp_path):
    with smtp_server(tmp_path) as (port, server, cert):
        px = _px(tmp_path, _smtp_table(port, cert), SMTP_USER=USER, SMTP_PASS=PASSWORD)
        try:
            letter = _submit(px, email=ADDRESS, notify_by="email")
            assert mail_outbox.dispatch_due(px) == 1
            [row] = mail_outbox.listing(px, to=ADDRESS)
            assert row["status"] == "sent", row["last_error"]
            assert server.logins == [USER]
            [envelope] = server.envelopes
            assert envelope.rcpt_tos == [ADDRESS] and envelope.mail_from == "desk@example.ir"
            [mail] = server.messages
            assert letter.tracking_code in mail["Subject"]
            assert 'dir="rtl"' in mail.get_body(("html",)).get_content()
        finally:
            px.close()


def test_smtp_refused_sign_in_fails_at_once_and_is_kept(tmp_path):
    with smtp_server(tmp_path) as (port, server, cert):
        px = _px(tmp_path, _smtp_table(port, cert), SMTP_USER=USER, SMTP_PASS="wrong")
        try:
            _submit(px, email=ADDRESS, notify_by="email")
            mail_outbox.dispatch_due(px)
            [row] = mail_outbox.listing(px, to=ADDRESS)
            assert row["status"] == "failed" and row["attempts"] == 1
            assert row["last_error"].startswith("configuration: smtp: sign-in refused")
            assert server.messages == []
        finally:
            px.close()


def test_smtp_down_is_retried_with_backoff_then_given_up(tmp_path):
    from tests.mailserver import free_port
    px = _px(tmp_path, _smtp_table(free_port(), tmp_path / "none.pem"),
             SMTP_USER=USER, SMTP_PASS=PASSWORD)
    try:
        _submit(px, email=ADDRESS, notify_by="email")
        watch = clock.ManualClock(clock.now())
        with clock.use(watch):
            gaps = []
            for _ in range(mail_outbox.MAX_ATTEMPTS):
                assert mail_outbox.dispatch_due(px) == 1
                assert mail_outbox.dispatch_due(px) == 0  # not again before its time
                with px.sessions() as s:
                    e = s.scalars(select(Email)).one()
                if e.state == "failed":
                    break
                assert e.state == "created" and e.last_error.startswith("transient: smtp")
                gaps.append(e.next_attempt_at - watch.value)
                watch.value = e.next_attempt_at
        assert e.state == "failed" and e.attempts == mail_outbox.MAX_ATTEMPTS
        assert gaps == sorted(gaps) and gaps[0] == timedelta(seconds=30)
    finally:
        px.close()


def test_smtp_that_takes_the_message_and_answers_too_late_is_resent_under_its_id(tmp_path):
    with smtp_server(tmp_path) as (port, server, cert):
        px = _px(tmp_path, _smtp_table(port, cert, timeout=1), SMTP_USER=USER,
                 SMTP_PASS=PASSWORD)
        try:
            _submit(px, email=ADDRESS, notify_by="email")
            server.hold_answer = 3
            mail_outbox.dispatch_due(px)
            [row] = mail_outbox.listing(px, to=ADDRESS)
            assert row["status"] == "created" and row["last_error"].startswith("ambiguous")
            server.hold_answer = 0
            with px.sessions() as s, s.begin():
                s.execute(update(Email).values(next_attempt_at=clock.now()))
            mail_outbox.dispatch_due(px)
            assert mail_outbox.listing(px, to=ADDRESS)[0]["status"] == "sent"
            ids = [m["Message-ID"] for m in server.messages]
            assert len(ids) == 2 and ids[0] == ids[1] == row["message_id"]
        finally:
            px.close()


def test_parallel_workers_send_each_message_once_on_postgres(tmp_path, pg_url):
    px = _px(tmp_path, PISHKHAN_DATABASE_URL=pg_url)
    try:
        with transaction(px.sessions) as s:
            for i in range(40):
                mail_outbox.queue(s, px, "test", f"c{i}@example.com", {}, org="demo")
        start = threading.Barrier(8)

        def worker(_):
            start.wait()
            return sum(mail_outbox.dispatch_due(px, limit=3) for _ in range(20))

        with ThreadPoolExecutor(8) as pool:
            assert sum(pool.map(worker, range(8))) == 40
        with px.sessions() as s:
            rows = s.scalars(select(Email)).all()
        assert {e.state for e in rows} == {"sent"} and {e.attempts for e in rows} == {1}
        assert len(list((tmp_path / "var" / "mail-outbox").glob("*.eml"))) == 40
    finally:
        px.close()


def test_letter_form_takes_the_choice_and_keeps_what_was_typed(client, px):
    from tests.integration.test_portal_pages import csrf, letter_data, page, web_login
    web_login(client, px)
    data = letter_data(csrf(client, "/o/demo/letter"), notify_by="email", email="")
    r = client.post("/o/demo/letter", data=data, content_type="multipart/form-data")
    html = page(r)
    assert r.status_code == 400 and "برای گرفتن خبر با ایمیل" in html
    assert 'value="email" checked' in html and "خرابی کوچه ۱۲" in html
    data = letter_data(csrf(client, "/o/demo/letter"), notify_by="both", email=ADDRESS)
    r = client.post("/o/demo/letter", data=data, content_type="multipart/form-data")
    assert r.status_code == 302, page(r)
    assert mail_outbox.listing(px, to=ADDRESS)[0]["kind"] == "receipt"


def test_failed_mail_is_on_the_dashboard(tmp_path):
    from connector.operations import dashboard
    px = _px(tmp_path)
    try:
        _submit(px, email=ADDRESS, notify_by="email")
        with px.sessions() as s, s.begin():
            s.execute(update(Email).values(state="failed", last_error="permanent: smtp: 550"))
        [failed] = dashboard.dashboard(px, "demo").mail_failures
        assert failed.to == ADDRESS and failed.last_error.endswith("550")
    finally:
        px.close()


def test_retention_takes_a_letters_emails_and_texts_with_it(tmp_path):
    from connector.operations import retention
    from connector.outbox import inbound
    from connector.plugins.ports import InboundSms as Message
    from connector.store.channels import InboundSms
    from connector.store.models import Letter
    px = _px(tmp_path)
    try:
        letter = _submit(px, email=ADDRESS, notify_by="email")
        letters.withdraw(px, letter.tracking_code, MOBILE)
        inbound.record(px, "demo", "file", Message("in-1", MOBILE, letter.tracking_code))
        with clock.use(clock.ManualClock(clock.now() + timedelta(days=4000))):
            retention.run(px)
        with px.sessions() as s:
            assert s.scalars(select(Letter)).all() == []
            assert s.scalars(select(Email)).all() == []
            assert s.scalars(select(InboundSms)).all() == []
    finally:
        px.close()


def test_one_run_sends_the_whole_queue_batch_after_batch(tmp_path):
    """No batch per tick: a run claims batch after batch while there are more; a run past its
    time takes no new batch, and the next run goes on."""
    px = _px(tmp_path)
    try:
        with transaction(px.sessions) as s:
            for i in range(7):
                mail_outbox.queue(s, px, "test", f"c{i}@example.com", {}, org="demo")
        assert mail_outbox.dispatch_due(px, limit=3, seconds=0) == 3
        assert mail_outbox.dispatch_due(px, limit=3) == 4
        assert mail_outbox.dispatch_due(px, limit=3) == 0
        assert len(list((tmp_path / "var" / "mail-outbox").glob("*.eml"))) == 7
    finally:
        px.close()
