"""`pishkhan mail list` as an admin runs it, against a store whose e-mails really went through
an SMTP server on loopback (aiosmtpd, STARTTLS and AUTH) or failed there, and the file outbox:
states, kinds, letters, attempts and errors; filters; no secrets, no bodies unless asked."""
from __future__ import annotations

import json

from click.testing import CliRunner

from connector.bootstrap import bootstrap
from connector.cli import main
from connector.outbox import mail as mail_outbox
from tests.conftest import make_settings
from tests.integration.test_mail import _form
from tests.mailserver import PASSWORD, USER, smtp_server

MOBILE = "09121234567"
WRONG = "Wr0ng-but-still-a-secret"


def _smtp(port: int, cert, prefix: str) -> str:
    return "\n".join([
        "[mail]", 'type = "smtp"', 'host = "127.0.0.1"', f"port = {port}",
        'from = "desk@example.ir"', f'username_env = "{prefix}_SMTP_USER"',
        f'password_env = "{prefix}_SMTP_PASS"', f'ca_file = "{cert}"', "timeout = 5"])


def test_mail_list_shows_sent_failed_and_queued_mail_without_secrets_or_bodies(tmp_path):
    from connector.letters import usecases as letters
    with smtp_server(tmp_path) as (port, server, cert):
        make_settings(tmp_path)
        for org, prefix in (("demo", "DEMO"), ("demo-portal", "PORTAL")):
            path = tmp_path / "orgs" / f"{org}.toml"
            path.write_text(path.read_text(encoding="utf-8") + "\n" +
                            _smtp(port, cert, prefix) + "\n", encoding="utf-8")
        secrets = {"DEMO_SMTP_USER": USER, "DEMO_SMTP_PASS": PASSWORD,
                   "PORTAL_SMTP_USER": USER, "PORTAL_SMTP_PASS": WRONG}
        settings = make_settings(tmp_path, **secrets)
        from connector.store.db import upgrade
        upgrade(settings.database_url)
        px = bootstrap(settings)
        try:
            sent = letters.submit(px, "demo", _form(email="maryam@example.com",
                                                    notify_by="email"), [], MOBILE)
            failed = letters.submit(px, "demo-portal", _form(email="reza@example.com",
                                                             notify_by="both"), [], MOBILE)
            assert mail_outbox.dispatch_due(px) == 2
            queued = letters.submit(px, "demo", _form(email="Maryam@Example.com",
                                                      notify_by="email"), [], MOBILE)
        finally:
            px.close()
        assert len(server.messages) == 1 and server.logins == [USER]

    env = {**{k: v for k, v in settings.env.items() if k.startswith("PISHKHAN_")}, **secrets}

    def run(*args):
        result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert PASSWORD not in result.output and WRONG not in result.output
        return result.output

    rows = json.loads(run("mail", "list", "--json"))
    assert [(r["letter"], r["status"], r["kind"]) for r in rows] == [
        (queued.tracking_code, "created", "receipt"), (failed.tracking_code, "failed",
                                                       "receipt"),
        (sent.tracking_code, "sent", "receipt")]
    assert [r["attempts"] for r in rows] == [0, 1, 1]
    assert rows[1]["last_error"].startswith("configuration: smtp: sign-in refused")
    assert rows[2]["sent_at"] and rows[2]["last_error"] is None
    assert all("text" not in r and "html" not in r for r in rows)

    text = run("mail", "list")
    lines = text.splitlines()
    assert len(lines) == 4  # three e-mails and the failed one's error
    assert "failed" in lines[1] and failed.tracking_code in lines[1] and "1x" in lines[1]
    assert lines[2].strip().startswith("└ configuration: smtp: sign-in refused")
    assert "پایان کار" not in text  # the words are not printed unless asked
    assert "پایان کار" in run("mail", "list", "--to", "reza@example.com", "--body")

    only = json.loads(run("mail", "list", "--to", " MARYAM@example.com", "--json"))
    assert [r["letter"] for r in only] == [queued.tracking_code, sent.tracking_code]
    assert [r["id"] for r in json.loads(run("mail", "list", "--state", "failed", "--json"))] \
        == [rows[1]["id"]]
    bad = CliRunner().invoke(main, ["mail", "list", "--state", "lost"], env=env)
    assert bad.exit_code == 2 and "sent" in bad.output


def test_a_server_answer_that_repeats_a_secret_is_shown_without_it(tmp_path):
    """An error text is stored as the server gave it; the listing hides the values of the
    variables the [mail] tables name."""
    from sqlalchemy import update

    from connector.store.channels import Email
    from connector.store.db import transaction, upgrade
    make_settings(tmp_path)
    path = tmp_path / "orgs" / "demo.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + _smtp(2525, tmp_path / "c.pem",
                                                                        "DEMO") + "\n",
                    encoding="utf-8")
    settings = make_settings(tmp_path, DEMO_SMTP_USER=USER, DEMO_SMTP_PASS=PASSWORD)
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        from connector.letters import usecases as letters
        letters.submit(px, "demo", _form(email="a@example.com", notify_by="email"), [], MOBILE)
        with transaction(px.sessions) as s:
            s.execute(update(Email).values(
                state="failed", last_error=f"permanent: smtp: 535 bad login {PASSWORD}"))
        [row] = mail_outbox.listing(px)
        assert PASSWORD not in row["last_error"] and "bad login ***" in row["last_error"]
    finally:
        px.close()
