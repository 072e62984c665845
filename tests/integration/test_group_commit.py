"""Group commit on SQLite: letters handed in at the same moment share a transaction, and a piece
of work that fails fails only its own caller."""
from __future__ import annotations

import threading

from sqlalchemy import (Column, Integer, MetaData, String, Table, create_engine, func, insert,
                        select)
from sqlalchemy.pool import NullPool

from connector.store import group_commit
from connector.store.db import make_engine, make_session_factory
from tests.races import at_once

META = MetaData()
ROWS = Table("rows", META, Column("id", Integer, primary_key=True),
             Column("name", String(20), unique=True))


def test_parallel_writers_all_commit_and_a_failing_one_fails_alone(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    META.create_all(engine)
    factory = make_session_factory(engine)
    results: dict[int, object] = {}
    start = threading.Barrier(32)

    def writer(i: int) -> None:
        # Writer 7 repeats writer 3's unique name: whichever commits second must fail, alone.
        name = "n3" if i == 7 else f"n{i}"

        def run(s):
            return s.connection().execute(insert(ROWS).values(name=name)).inserted_primary_key[0]

        start.wait()
        try:
            results[i] = group_commit.write(factory, run)
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion below
            results[i] = exc

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    failed = [i for i, r in results.items() if isinstance(r, Exception)]
    assert len(results) == 32 and len(failed) == 1 and failed[0] in (3, 7)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ROWS)) == 31
        ids = {r for r in results.values() if not isinstance(r, Exception)}
        assert ids == set(conn.scalars(select(ROWS.c.id)))
    engine.dispose()


def test_writers_at_the_same_moment_share_commits(tmp_path):
    from sqlalchemy import event

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    META.create_all(engine)
    factory = make_session_factory(engine)
    commits = []
    event.listen(engine, "commit", lambda _conn: commits.append(1))
    start = threading.Barrier(32)

    def writer(i: int) -> None:
        start.wait()
        group_commit.write(factory, lambda s: s.connection().execute(
            insert(ROWS).values(name=f"n{i}")))

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(ROWS)) == 32
    assert len(commits) < 32  # some shared a transaction (and its sync)
    engine.dispose()


def test_each_piece_runs_as_its_own_caller_for_the_audit_record(tmp_path):
    from connector.store.audit import acting_as, current_actor

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    META.create_all(engine)
    factory = make_session_factory(engine)
    seen: dict[int, str] = {}
    start = threading.Barrier(16)

    def writer(i: int) -> None:
        def run(s):
            s.connection().execute(insert(ROWS).values(name=f"n{i}"))
            return current_actor()

        with acting_as(f"citizen:{i}"):
            start.wait()
            seen[i] = group_commit.write(factory, run)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    # Whoever led the group, each letter is recorded as handed in by its own citizen.
    assert seen == {i: f"citizen:{i}" for i in range(16)}
    engine.dispose()


def test_a_locked_database_fails_the_group_at_once_instead_of_each_piece_again(tmp_path):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    META.create_all(engine)
    factory = make_session_factory(engine)
    runs: list[int] = []
    results: dict[int, object] = {}
    start = threading.Barrier(8)

    def writer(i: int) -> None:
        def run(s):
            runs.append(i)
            if i == 0:  # as SQLite says when another process held the lock past the timeout
                raise OperationalError("INSERT", {}, sqlite3.OperationalError(
                    "database is locked"))
            s.connection().execute(insert(ROWS).values(name=f"n{i}"))

        start.wait()
        try:
            results[i] = group_commit.write(factory, run)
        except OperationalError as exc:
            results[i] = exc

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(results) == 8
    # Whoever shared writer 0's group heard the database's failure at once: no piece ran a
    # second time (before, each ran again alone and waited the lock's timeout once more).
    assert len(runs) == len(set(runs))
    assert isinstance(results[0], OperationalError)
    failed = {i for i, r in results.items() if isinstance(r, OperationalError)}
    with engine.connect() as conn:
        assert {f"n{i}" for i in range(8)} - {f"n{i}" for i in failed} == set(
            conn.scalars(select(ROWS.c.name)))
    engine.dispose()


def test_ready_is_waited_after_the_statements_and_a_failing_one_commits_nothing(store_url):
    """``ready`` (a letter's files becoming durable) overlaps the statements: it runs after
    them, inside the transaction, before the commit. If it raises, that caller's rows are not
    committed and the caller hears it; the other callers of the group commit theirs."""
    engine = make_engine(store_url)
    META.create_all(engine)
    factory = make_session_factory(engine)
    # Its own connections, outside the store's pool (which the writers hold).
    looker = create_engine(engine.url, poolclass=NullPool)
    seen: dict[int, int] = {}
    ran: set[int] = set()
    ran_first: dict[int, bool] = {}

    def writer(i: int) -> object:
        name = f"r{i}"

        def run(s):
            s.connection().execute(insert(ROWS).values(name=name))
            ran.add(i)

        def ready():
            ran_first[i] = i in ran
            # The statement ran already, in the transaction that will commit it.
            with looker.connect() as other:
                seen[i] = other.scalar(select(func.count()).select_from(ROWS)
                                       .where(ROWS.c.name == name))
            if i % 8 == 5:
                raise OSError("disk full")

        try:
            return group_commit.write(factory, run, ready=ready)
        except OSError as exc:
            return exc

    results = at_once(32, writer)
    failed = sorted(i for i, r in enumerate(results) if isinstance(r, OSError))
    assert failed == [5, 13, 21, 29]
    assert set(seen.values()) == {0}  # ready ran before the commit, never after
    assert set(ran_first.values()) == {True}  # and after the statements
    with engine.connect() as conn:
        names = set(conn.scalars(select(ROWS.c.name)))
    assert names == {f"r{i}" for i in range(32)} - {f"r{i}" for i in failed}
    engine.dispose()
    looker.dispose()
