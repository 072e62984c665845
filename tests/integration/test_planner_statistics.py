"""The statistics the store gives PostgreSQL's planner (``connector.store.db.optimize``, run
after the migrations and every minute by the worker). Statistics of an empty table told the
planner to read it whole, and each connection kept the plans it made from them: every letter
handed in read all the letters before it, three times (its foreign-key checks), and so did
every delivery claim. Autovacuum, which would have corrected them, is off on some servers
(this machine's among them), so the worker applies autovacuum's rule itself."""
from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert, text

from connector.bootstrap import bootstrap
from connector.store.db import make_engine, optimize, upgrade
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


def _changed_since_analysed(engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT n_mod_since_analyze FROM pg_stat_user_tables "
                                     "WHERE relname = :t"), {"t": table}).scalar_one())


def _reltuples(engine) -> dict[str, float]:
    with engine.connect() as conn:
        return dict(conn.execute(text(
            "SELECT relname, reltuples FROM pg_class WHERE relname IN "
            "('letter_tallies', 'sms_tallies', 'letters')")).all())


def test_tables_are_analysed_once_they_have_changed_enough(pg_url: str) -> None:
    """Autovacuum's rule, as the worker applies it every minute: more than 50 rows and a
    tenth of the table changed since the last analysis."""
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:
            conn.execute(insert(LetterTally), [{"org": "demo", "state": "submitted",
                                                "delta": 1}] * 1000)
            conn.execute(insert(SmsTally), [{"org": "demo", "state": "queued", "gateway": "",
                                             "delta": 1}] * 30)
        engine.dispose()  # the connection ends and reports its changes
        deadline = time.monotonic() + 30
        while (_changed_since_analysed(engine, "letter_tallies") < 1000
               or _changed_since_analysed(engine, "sms_tallies") < 30) \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        optimize(engine)
        after = _reltuples(engine)
        assert after["letter_tallies"] == 1000
        assert after["sms_tallies"] == -1  # 30 rows: not yet, the planner assumes it may grow
        assert after["letters"] == -1  # never changed: never analysed, so never taken for empty
        assert _changed_since_analysed(engine, "letter_tallies") == 0
        with engine.begin() as conn:  # a tenth more, and 50: analysed again
            conn.execute(insert(LetterTally), [{"org": "demo", "state": "closed",
                                                "delta": 1}] * 151)
        engine.dispose()
        while _changed_since_analysed(engine, "letter_tallies") < 151 \
                and time.monotonic() < deadline:
            time.sleep(0.2)
        optimize(engine)
        assert _reltuples(engine)["letter_tallies"] == 1151
    finally:
        engine.dispose()


def test_the_worker_applies_the_rule_every_minute_on_postgresql(pg_app, px) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from connector.cli.worker import add_jobs
    every = {}
    for core in (pg_app[1], px):  # PostgreSQL, then the embedded SQLite store
        scheduler = BackgroundScheduler()
        dispatcher = add_jobs(scheduler, core)
        every[core.engine.dialect.name] = scheduler.get_job("optimize").trigger.interval
        dispatcher.close()
    assert every == {"postgresql": timedelta(minutes=1), "sqlite": timedelta(hours=1)}
