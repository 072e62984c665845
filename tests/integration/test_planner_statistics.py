"""The statistics the store gives PostgreSQL's planner (``connector.store.db.optimize``, run
after the migrations and hourly by the worker). Statistics of an empty table told the planner
to read it whole, and each connection kept the plans of its foreign-key checks made from them:
every letter handed in read all the letters before it, three times. Autovacuum, which would
have corrected them, is off on some servers (this machine's among them)."""
from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import insert, text

from connector.bootstrap import bootstrap
from connector.store.db import ANALYZE_FROM_ROWS, make_engine, optimize, upgrade
from connector.store.models import LetterTally, SmsTally
from tests.acceptance import submit_and_approve
from tests.conftest import make_settings

LETTERS = 40


def _letters_read(engine) -> tuple[int, int]:
    """(rows inserted, rows read by sequential scans) of `letters`, from the statistics the
    closed connections reported."""
    with engine.connect() as conn:
        row = conn.execute(text("SELECT n_tup_ins, seq_tup_read FROM pg_stat_user_tables "
                                "WHERE relname = 'letters'")).one()
    return int(row[0]), int(row[1])


def test_letters_handed_in_to_a_fresh_store_are_checked_by_index(tmp_path: Path,
                                                                 pg_url: str) -> None:
    upgrade(pg_url)
    px = bootstrap(make_settings(tmp_path, PISHKHAN_DATABASE_URL=pg_url))
    try:
        submit_and_approve(px, "demo", LETTERS)  # each: files, an event, an SMS, all → letters
    finally:
        px.close()  # the connections end and report what they read
    engine = make_engine(pg_url)
    try:
        deadline = time.monotonic() + 30
        while (counts := _letters_read(engine))[0] < LETTERS and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        engine.dispose()
    inserted, read_whole = counts
    assert inserted == LETTERS
    # With the checks planned as whole reads this is about 3 x 40 x 40 / 2 = 2400.
    assert read_whole < LETTERS, read_whole


def test_grown_tables_and_those_analysed_before_are_analysed(pg_url: str) -> None:
    upgrade(pg_url)
    engine = make_engine(pg_url)
    row = {"org": "demo", "state": "submitted", "delta": 1}
    try:
        with engine.begin() as conn:
            conn.execute(insert(LetterTally), [row] * ANALYZE_FROM_ROWS)
            conn.execute(insert(SmsTally), [{"org": "demo", "state": "queued", "gateway": "",
                                             "delta": 1}] * 3)
            conn.exec_driver_sql("ANALYZE sms_tallies")  # as an older release did, when small
            conn.execute(insert(SmsTally), [{"org": "demo", "state": "sent", "gateway": "",
                                             "delta": 1}] * 4)
        optimize(engine)
        with engine.connect() as conn:
            tuples = dict(conn.execute(text(
                "SELECT relname, reltuples FROM pg_class WHERE relname IN "
                "('letter_tallies', 'sms_tallies', 'letters')")).all())
    finally:
        engine.dispose()
    assert tuples["letter_tallies"] == ANALYZE_FROM_ROWS
    assert tuples["sms_tallies"] == 7  # refreshed, though small
    assert tuples["letters"] == -1  # never analysed: the planner assumes it may be large
