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
    assert sorted(writes) == ["ATTACHMENTS", "AUDIT_RECORDS", "EVENTS", "LETTERS",
                              "LETTER_TALLIES", "NOTIFICATIONS"]
    # Nothing else: no head row, no re-reads of what was just written.
    assert not [s for s in statements if s.startswith(("UPDATE", "DELETE"))]
