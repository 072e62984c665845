"""A one-time code rests nowhere in clear: not in a listing, and not in the outbox once a
provider has it. The challenge keeps only a keyed hash."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from connector.bootstrap import bootstrap
from connector.cli import main
from connector.domain.errors import ValidationError
from connector.outbox import sms as sms_outbox
from connector.outbox import sms_status
from connector.people import citizens
from connector.store.db import upgrade
from tests.conftest import make_settings
from tests.phone import otp_code

MOBILE = "09121234567"


def _store_dump(px) -> str:
    with px.engine.connect() as conn:
        rows = [conn.execute(text(f"SELECT * FROM {table}")).all()
                for table in ("notifications", "otp_challenges", "api_tokens")]
    return json.dumps([[list(map(str, r)) for r in table] for table in rows],
                      ensure_ascii=False)


def test_no_listing_shows_the_code_even_before_it_is_sent(px):
    citizens.request_otp(px, MOBILE)
    code = otp_code(px, MOBILE)
    [listed] = sms_outbox.listing(px, to=MOBILE)
    assert code not in listed["text"] and sms_outbox.REDACTED in listed["text"]


def test_sms_list_command_never_prints_the_code(tmp_path):
    settings = make_settings(tmp_path)
    upgrade(settings.database_url)
    px = bootstrap(settings)
    try:
        citizens.request_otp(px, MOBILE)
        code = otp_code(px, MOBILE)
        env = {k: v for k, v in settings.env.items() if k.startswith("PISHKHAN_")}
        for args in (["sms", "list"], ["sms", "list", "--json"], ["sms", "list", "--to", MOBILE]):
            out = CliRunner().invoke(main, args, env=env, catch_exceptions=False).output
            assert MOBILE[-4:] in out or "kind" in out
            assert code not in out
    finally:
        px.close()


def test_the_code_is_forgotten_once_the_provider_has_it(px):
    citizens.request_otp(px, MOBILE)
    code = otp_code(px, MOBILE)
    assert sms_outbox.dispatch_due(px) == 1
    assert otp_code(px, MOBILE) == code  # the phone got it
    assert code not in _store_dump(px)
    # ... and it still signs the citizen in: the challenge's keyed hash is enough.
    assert citizens.verify_otp(px, MOBILE, code)


def test_a_one_time_code_is_never_sent_again_by_hand(px):
    citizens.request_otp(px, MOBILE)
    sms_outbox.dispatch_due(px)
    [listed] = sms_outbox.listing(px, to=MOBILE)
    with px.engine.begin() as conn:  # as if the operator had refused it
        conn.execute(text("UPDATE notifications SET state = 'permanent-failure'"))
    with pytest.raises(ValidationError):
        sms_status.retry(px, listed["id"])
