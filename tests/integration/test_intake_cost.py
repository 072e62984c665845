"""Intake does only what it must: the bearer token is looked up once, and the letter, its file,
timeline, SMS, audit record and count go to the store in one short transaction of INSERTs."""
from __future__ import annotations

import io


from tests.integration.test_portal_api import PDF, auth, letter_fields, token_for
from tests.wire import sqlite_statements, wire_trace


def test_a_submission_looks_the_token_up_once_and_writes_in_one_flush(client, px):
    token = token_for(client, px)
    data = {**letter_fields(), "attachments": [(io.BytesIO(PDF), "a.pdf")]}
    with sqlite_statements(px.engine) as ran:
        r = client.post("/api/v1/orgs/demo/letters", data=data, headers=auth(token),
                        content_type="multipart/form-data")
    assert r.status_code == 201, r.get_data(as_text=True)
    statements = [" ".join(s.split()).upper() for s in ran
                  if s.split()[0].upper() not in ("BEGIN", "COMMIT")]
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
    data = {**letter_fields(), "attachments": [(io.BytesIO(PDF + b"2"), "b.pdf")]}
    with sqlite_statements(px.engine) as ran:
        r = client.post("/api/v1/orgs/demo/letters", data=data, headers=auth(token),
                        content_type="multipart/form-data")
    assert r.status_code == 201, r.get_data(as_text=True)
    statements = [" ".join(s.split()).upper() for s in ran
                  if s.split()[0].upper() not in ("BEGIN", "COMMIT")]
    assert not [s for s in statements if "API_TOKENS" in s]
    assert all(s.startswith("INSERT") for s in statements), statements


def test_on_postgresql_a_letter_and_all_that_comes_with_it_is_one_statement(tmp_path, store_url):
    """On PostgreSQL the letter, its files, timeline, SMS, audit record, count, webhook event
    and the delivery's wake-up notice go as one chained statement; on SQLite one INSERT per
    table. Either way every row is there, linked to the letter, and a listening worker hears
    of it."""
    import psycopg
    from sqlalchemy import func, select

    from connector.bootstrap import bootstrap
    from connector.letters import usecases as letters
    from connector.letters.files import Upload
    from connector.outbox import webhooks
    from connector.store import tallies, wakeup
    from connector.store.channels import WebhookDelivery
    from connector.store.db import upgrade
    from connector.store.models import Attachment, AuditRecord, Event, Letter, Notification
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, PISHKHAN_DATABASE_URL=store_url, WEBHOOK_SECRET="s" * 32)
    upgrade(store_url)
    px = bootstrap(settings)
    on_pg = px.engine.dialect.name == "postgresql"
    listener = None
    if on_pg:
        listener = psycopg.connect(store_url.replace("postgresql+psycopg", "postgresql"),
                                   autocommit=True)
        listener.execute(f"LISTEN {wakeup.CHANNEL}")
    try:
        webhooks.subscribe(px, "demo", "http://127.0.0.1:9/hook", "WEBHOOK_SECRET")
        uploads = [Upload(name=f"{n}.pdf", content=PDF + bytes([48 + i]))
                   for i, n in enumerate(("a", "b", "c"))]
        form = letters.LetterForm.from_mapping(letter_fields())
        with wire_trace(px.engine) if on_pg else sqlite_statements(px.engine) as wire:
            letter = letters.submit(px, "demo", form, uploads, "09121234567")
        if on_pg:
            # Sent to the server: the one statement and nothing else (no BEGIN, no COMMIT:
            # one statement is a transaction by itself), answered in one round trip.
            messages = [(line.split("\t") + ["", "", ""])[:4] for line in wire]
            sent = [(kind, text) for side, _, kind, text in messages if side == "F"]
            assert [k for k, _ in sent if k in ("Query", "Parse", "Bind")] in (
                ["Parse", "Bind"], ["Bind"]), sent  # Bind alone once the server prepared it
            assert all(t.strip().startswith('"" "WITH') for k, t in sent if k == "Parse"), sent
            assert [k for side, _, k, _ in messages if side == "B"].count("ReadyForQuery") == 1
        else:
            # One INSERT per table (SQLite runs the files' one statement once per row).
            tables = [s.split()[2].lower() for s in wire if s.lstrip().upper().startswith("INSERT")]
            assert sorted(set(tables)) == ["attachments", "audit_records", "events",
                                           "letter_tallies", "letters", "notifications",
                                           "webhook_deliveries"], tables
            assert len(tables) == 9 and tables.count("attachments") == 3, tables
        with px.sessions() as s:
            stored = s.scalars(select(Letter).where(
                Letter.tracking_code == letter.tracking_code)).one()
            assert stored.id == letter.id
            names = s.scalars(select(Attachment.name).where(Attachment.letter_id == letter.id)
                              .order_by(Attachment.position)).all()
            assert names == ["a.pdf", "b.pdf", "c.pdf"]
            assert s.scalar(select(func.count()).select_from(Event)
                            .where(Event.letter_id == letter.id)) == 1
            note = s.scalars(select(Notification).where(
                Notification.letter_id == letter.id)).one()
            assert letter.tracking_code in note.text or note.params
            assert s.scalar(select(func.count()).select_from(AuditRecord).where(
                AuditRecord.letter == letter.tracking_code)) == 1
            queued = s.scalars(select(WebhookDelivery).where(
                WebhookDelivery.subject == letter.tracking_code)).all()
            assert [q.type for q in queued] == ["ir.pishkhan.letter.submitted"]
        assert tallies.letter_counts(px, ["demo"])[("demo", letter.state)] == 1
        if listener is not None:
            notices = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
            assert notices == ["demo"]
    finally:
        if listener is not None:
            listener.close()
        px.close()
