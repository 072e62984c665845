"""The one-time code's limits hold when 32 requests arrive at once on PostgreSQL."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from connector.domain.normalize import to_latin_digits
from connector.people import citizens
from connector.store.models import Notification, OtpChallenge
from tests.races import PARALLEL, at_once, client_from

MOBILE = "09121234567"


def test_parallel_wrong_codes_are_each_counted_and_no_more_than_five_checked(pg_app):
    app, px = pg_app
    citizens.request_otp(px, MOBILE)

    def guess(i: int):
        return client_from(app, i).post("/api/v1/otp/verify",
                                        json={"mobile": MOBILE, "code": "99999x"})
    answers = at_once(PARALLEL, guess)
    assert {a.status_code for a in answers} <= {400, 429}
    with px.sessions() as s:
        attempts = s.scalar(select(OtpChallenge.attempts).where(OtpChallenge.mobile == MOBILE))
    assert attempts == px.settings.otp_max_tries
    # "n tries left" is said once for each n: each compared code was counted before the next.
    lefts = [re.search(r"(\d) بار", to_latin_digits(a.json["error"]["fields"]["code"]))
             for a in answers if a.status_code == 400]
    said = sorted(int(m.group(1)) for m in lefts if m)
    assert said == [1, 2, 3, 4]


def test_parallel_code_requests_send_one_sms(pg_app):
    app, px = pg_app

    def ask(i: int):
        return client_from(app, i).post("/api/v1/otp", json={"mobile": MOBILE})
    answers = at_once(PARALLEL, ask)
    assert sorted(a.status_code for a in answers) == [202] + [429] * (PARALLEL - 1)
    with px.sessions() as s:
        sms = s.scalar(select(func.count()).select_from(Notification)
                       .where(Notification.to == MOBILE))
        challenges = s.scalar(select(func.count()).select_from(OtpChallenge))
    assert (sms, challenges) == (1, 1)


def test_the_right_code_sent_twice_at_once_gives_one_token(pg_app):
    app, px = pg_app
    citizens.request_otp(px, MOBILE)
    with px.sessions() as s:
        note = s.scalars(select(Notification)).one()
        code = note.params["code"] if note.params else re.search(
            r"\d{5}", to_latin_digits(note.text)).group(0)

    def verify(i: int):
        return client_from(app, i).post("/api/v1/otp/verify",
                                        json={"mobile": MOBILE, "code": code})
    answers = at_once(PARALLEL, verify)
    assert sorted(a.status_code for a in answers) == [200] + [400] * (PARALLEL - 1)
