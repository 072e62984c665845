"""The API keeps its OpenAPI document: schemathesis generates requests from it for every
operation and runs all its checks on the answers (bounded: a few examples per operation)."""
from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import positive_data_acceptance

from connector.people import citizens
from tests.integration.test_portal_api import assert_error, auth, submit, token_for
from tests.phone import otp_code

MOBILE = "09121234567"
# A schema cannot say that a national code's check digit is right, nor which one-time code is
# live: requests valid by the schema are rightly refused there (400 with the field named).
SEMANTIC = {"submitLetter", "verifyOtp"}


def _token(px, mobile: str) -> str:
    citizens.request_otp(px, mobile)
    return citizens.verify_otp(px, mobile, otp_code(px, mobile))


def test_every_operation_conforms_to_the_document(app, px):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    token = _token(px, MOBILE)
    failures: list[str] = []
    mobiles = itertools.count(1)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    for op in operations:
        excluded = [positive_data_acceptance] \
            if op.definition.raw.get("operationId") in SEMANTIC else []

        @settings(max_examples=12, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck),
                  phases=[Phase.explicit, Phase.generate])
        @given(case=op.as_strategy())
        def check(case) -> None:
            # Signing out would end the shared token: that operation gets a token of its own.
            bearer = _token(px, f"0935{next(mobiles):07d}") if op.path.endswith("/logout") \
                else token
            try:
                case.call_and_validate(headers={"Authorization": f"Bearer {bearer}"},
                                       excluded_checks=excluded)
            except BaseException as exc:  # collect every operation's failures, then report
                failures.append(f"{op.label}: {exc}"[:1500])
        check()
    assert failures == [], "\n\n".join(failures[:5])


def test_a_two_megabyte_text_field_is_named_not_called_a_file(client, px):
    token = token_for(client, px)
    r = submit(client, token, body="ا" * (1024 * 1024))  # 2 MB of UTF-8, no files
    error = assert_error(r, 400, "validation")
    assert set(error["fields"]) == {"body"}


@pytest.mark.parametrize("path", ["/api/v1/letters/12345", "/api/v1/letters/abc"])
def test_paths_outside_the_pattern_are_plain_404s(client, px, path):
    assert_error(client.get(path, headers=auth(token_for(client, px))), 404, "not_found")
