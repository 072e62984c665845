"""The statistics the store gives PostgreSQL's planner (``connector.store.planner_stats``,
run after the migrations and every minute by the worker). Statistics of an empty table told the
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
from connector.store import planner_stats
from connector.store.db import make_engine, upgrade
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
        # Each connection reports as it ends: wait until every count is in and holds still.
        deadline, counts = time.monotonic() + 30, (-1, -1)
        while time.monotonic() < deadline:
            before, counts = counts, _letters_read(engine)
            if counts[0] >= LETTERS and counts == before:
                break
            time.sleep(0.5)
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


def _tally_rows(engine, table, count: int, **row: str) -> None:
    """``count`` rows into a tally table, from a connection that then ends (and reports)."""
    model = LetterTally if table == "letter_tallies" else SmsTally
    before = _changed_since_analysed(engine, table)
    with engine.begin() as conn:
        conn.execute(insert(model), [{"org": "demo", "delta": 1, **row}] * count)
    engine.dispose()
    deadline = time.monotonic() + 30
    while _changed_since_analysed(engine, table) < before + count and \
            time.monotonic() < deadline:
        time.sleep(0.1)


def test_tables_are_analysed_once_they_have_changed_enough(pg_url: str) -> None:
    """Autovacuum's rule, as the worker applies it every minute: more than 50 rows and a
    tenth of the table changed since the last analysis."""
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        with engine.begin() as conn:  # only this test's analyses, wherever autovacuum is on
            for table in ("letter_tallies", "sms_tallies", "letters"):
                conn.exec_driver_sql(f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
        _tally_rows(engine, "letter_tallies", 1000, state="submitted")
        _tally_rows(engine, "sms_tallies", 30, state="queued", gateway="")
        assert planner_stats.refresh(engine) == ["public.letter_tallies"]
        after = _reltuples(engine)
        assert after["letter_tallies"] == 1000
        assert after["sms_tallies"] == -1  # 30 rows: not yet, the planner assumes it may grow
        assert after["letters"] == -1  # never changed: never analysed, so never taken for empty
        assert _changed_since_analysed(engine, "letter_tallies") == 0

        _tally_rows(engine, "letter_tallies", 100, state="closed")  # 100 <= 50 + 1000 / 10
        assert planner_stats.refresh(engine) == []
        _tally_rows(engine, "letter_tallies", 51, state="closed")  # 151 > 150
        assert planner_stats.refresh(engine) == ["public.letter_tallies"]
        assert _reltuples(engine)["letter_tallies"] == 1151
    finally:
        engine.dispose()


def test_a_table_busy_elsewhere_is_skipped_not_waited_for(pg_url: str) -> None:
    """Several workers (or autovacuum, or a migration) may hold a table: the minute's run
    goes on without it, and analyses it next time."""
    upgrade(pg_url)
    engine = make_engine(pg_url)
    other = make_engine(pg_url)
    try:
        with other.begin() as conn:  # a wait, were there one, ends in an error, not a hang
            conn.exec_driver_sql(f"ALTER DATABASE {pg_url.rsplit('/', 1)[1]} "
                                 "SET lock_timeout = '3s'")
        _tally_rows(engine, "letter_tallies", 1000, state="submitted")
        with other.begin() as holder:
            holder.exec_driver_sql("LOCK TABLE letter_tallies IN SHARE UPDATE EXCLUSIVE MODE")
            started = time.monotonic()
            planner_stats.refresh(engine)
            assert time.monotonic() - started < 2
            assert _reltuples(engine)["letter_tallies"] == -1
        planner_stats.refresh(engine)
        assert _reltuples(engine)["letter_tallies"] == 1000
    finally:
        engine.dispose()
        other.dispose()


def test_a_table_that_cannot_be_analysed_leaves_the_others_done(pg_url: str, caplog) -> None:
    upgrade(pg_url)
    engine = make_engine(pg_url)
    try:
        _tally_rows(engine, "letter_tallies", 1000, state="submitted")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            done = planner_stats.analyse(conn, ["public.dropped_meanwhile",
                                                "public.letter_tallies"])
        assert done == ["public.letter_tallies"]
        assert _reltuples(engine)["letter_tallies"] == 1000
        assert "could not analyse public.dropped_meanwhile" in caplog.text
    finally:
        engine.dispose()


def test_the_worker_applies_the_rule_every_minute_on_postgresql(pg_app, px) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from connector.cli.worker import add_jobs
    every = {}
    for core in (pg_app[1], px):  # PostgreSQL, then the embedded SQLite store
        scheduler = BackgroundScheduler()
        dispatcher = add_jobs(scheduler, core)
        every[core.engine.dialect.name] = scheduler.get_job("statistics").trigger.interval
        dispatcher.close()
    assert every == {"postgresql": timedelta(minutes=1), "sqlite": timedelta(hours=1)}
