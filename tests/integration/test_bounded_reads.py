"""Reads that must not grow with history use an index, on SQLite and PostgreSQL: the plan the
database makes for the statement the code really sends is checked (bench/scale.py measures
the cost at a million letters)."""
from __future__ import annotations

import re

from sqlalchemy import delete, event, select, update

from connector.domain.letter import State
from connector.letters import promise
from connector.store import tallies
from connector.store.channels import Email, InboundSms
from connector.store.models import OWED, Attachment, Notification
from connector.store.visits import GateScan, VisitAlert
from connector.visits import usecases as visits


def plan_of(px, run) -> str:
    """The plan of the last statement ``run(session)`` sends, as the database explains it.
    On PostgreSQL sequential scans are priced out: the tables of a test are tiny, and the
    question is whether the index can serve the query at all."""
    sent = []

    def grab(_conn, _cursor, statement, parameters, _context, _many):
        sent.append((statement, parameters))

    with px.sessions() as s:
        sqlite = s.get_bind().dialect.name == "sqlite"
        if not sqlite:
            s.connection().exec_driver_sql("SET enable_seqscan = off")
        event.listen(px.engine, "before_cursor_execute", grab)
        try:
            run(s)
        finally:
            event.remove(px.engine, "before_cursor_execute", grab)
        statement, parameters = sent[-1]
        cursor = s.connection().connection.cursor()
        cursor.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement,
                       parameters)
        return "\n".join(str(row) for row in cursor.fetchall())


def test_the_overdue_list_reads_only_open_letters_by_index(fake_px):
    px, _ = fake_px
    plan = plan_of(px, lambda s: promise.overdue(px, s, ["demo"], 100))
    assert "ix_letters_owed_due" in plan, plan


def test_the_oldest_letter_per_state_is_one_index_seek_each(fake_px):
    px, _ = fake_px
    keys = [("demo", "closed"), ("demo", "registered"), ("demo-portal", "dead")]
    plan = plan_of(px, lambda s: tallies.oldest(px, keys))
    assert plan.count("ix_letters_org_state_age") == 3, plan


def test_sms_counts_are_read_from_the_index_alone(fake_px):
    # A fold leaves the tally table's pages behind it, nearly empty, after a burst.
    px, _ = fake_px
    plan = plan_of(px, lambda s: tallies.sms_counts(px))
    assert "ix_sms_tallies_key" in plan, plan
    assert "Only Scan" in plan or "COVERING INDEX" in plan, plan


def test_a_letters_files_are_read_by_index(fake_px):
    # As every letter page, API read and delivery claim loads a letter's files.
    px, _ = fake_px
    plan = plan_of(px, lambda s: s.scalars(select(Attachment).where(
        Attachment.letter_id.in_([1, 2])).order_by(Attachment.position)).all())
    assert "ix_attachments_letter" in plan, plan


def test_a_letters_sms_emails_and_replies_are_found_by_index(fake_px):
    # Retention redacts and deletes them letter by letter.
    px, _ = fake_px
    plan = plan_of(px, lambda s: s.execute(update(Notification).where(
        Notification.letter_id == 1).values(text="")))
    assert "ix_notifications_letter" in plan, plan
    plan = plan_of(px, lambda s: s.execute(delete(Email).where(Email.letter_id == 1)))
    assert "ix_emails_letter" in plan, plan
    plan = plan_of(px, lambda s: s.execute(delete(InboundSms).where(InboundSms.letter_id == 1)))
    assert "ix_inbound_sms_letter" in plan, plan


def test_owed_letters_are_those_whose_promise_is_not_settled_nor_paused():
    # The partial index spells the states out in SQL; the domain must agree with it.
    assert set(re.findall(r"'([a-z_]+)'", OWED)) == \
        set(promise._SETTLED) | {State.AWAITING_DOCUMENTS.value}


def test_a_hosts_visits_their_alerts_a_gates_scans_and_replies_links_are_found_by_index(
        fake_px):
    px, _ = fake_px
    # A host's home page: their latest visits.
    plan = plan_of(px, lambda s: visits.listing(px, "demo", host_user_id=1, limit=50))
    assert "ix_visits_host" in plan, plan
    # A visitor's file: the alerts of their visits.
    plan = plan_of(px, lambda s: s.scalars(select(VisitAlert).where(
        VisitAlert.visit_id.in_([1, 2])).order_by(VisitAlert.at.desc()).limit(50)).all())
    assert "ix_visit_alerts_visit" in plan, plan
    # What deleting a notification (retention) and a gate make the database do.
    plan = plan_of(px, lambda s: s.execute(update(InboundSms).where(
        InboundSms.notification_id == 1).values(notification_id=None)))
    assert "ix_inbound_sms_notification" in plan, plan
    plan = plan_of(px, lambda s: s.execute(delete(GateScan).where(GateScan.gate_id == 1)))
    assert "ix_gate_scans_gate" in plan, plan
