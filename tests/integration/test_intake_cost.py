"""Intake does only what it must: the bearer token is looked up once, and the letter, its file,
timeline, SMS, audit record and count go to the store in one short transaction of INSERTs."""
from __future__ import annotations

import io

from sqlalchemy import event

from tests.integration.test_portal_api import PDF, auth, letter_fields, token_for


def test_a_submission_looks_the_token_up_once_and_writes_in_one_flush(client, px):
    token = token_for(client, px)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(" ".join(statement.split()).upper())

    event.listen(px.engine, "before_cursor_execute", seen)
    try:
        data = {**letter_fields(), "attachments": [(io.BytesIO(PDF), "a.pdf")]}
        r = client.post("/api/v1/orgs/demo/letters", data=data, headers=auth(token),
                        content_type="multipart/form-data")
    finally:
        event.remove(px.engine, "before_cursor_execute", seen)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert sum("FROM API_TOKENS" in s for s in statements) == 1
    writes = [s.split(" ")[2] for s in statements if s.startswith("INSERT")]
    # The webhook event is an INSERT ... SELECT over the subscriptions that want it (none
    # here): the subscriptions are not read back first.
    assert sorted(writes) == ["ATTACHMENTS", "AUDIT_RECORDS", "EVENTS", "LETTERS",
                              "LETTER_TALLIES", "NOTIFICATIONS", "WEBHOOK_DELIVERIES"]
    # Nothing else: no head row, no re-reads of what was just written, nothing read but the
    # token.
    assert len(statements) == len(writes) + 1, statements


def test_a_second_submission_with_the_same_token_does_not_look_it_up(client, px):
    token = token_for(client, px)
    data = {**letter_fields(), "attachments": [(io.BytesIO(PDF), "a.pdf")]}
    first = client.post("/api/v1/orgs/demo/letters", data=data, headers=auth(token),
                        content_type="multipart/form-data")
    assert first.status_code == 201, first.get_data(as_text=True)
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(" ".join(statement.split()).upper())

    event.listen(px.engine, "before_cursor_execute", seen)
    try:
        data = {**letter_fields(), "attachments": [(io.BytesIO(PDF + b"2"), "b.pdf")]}
        r = client.post("/api/v1/orgs/demo/letters", data=data, headers=auth(token),
                        content_type="multipart/form-data")
    finally:
        event.remove(px.engine, "before_cursor_execute", seen)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert not [s for s in statements if "API_TOKENS" in s]
    assert all(s.startswith("INSERT") for s in statements), statements
