"""Group commit on SQLite: the writes of several requests in one transaction, one sync.

SQLite has one write lock, and every commit waits for the disk (a sync of the write-ahead log)
while holding it, so under a burst writers queue for the lock and each pays a sync of its own.
Here the threads of a process that want to write at the same time hand their work to one of
them, the leader, which takes the turn (:func:`connector.store.db.write_transaction`), runs
every waiting piece of work in one transaction and commits once; then the next waiting thread
leads. Each piece is still all or nothing: if any fails, the transaction is rolled back and
each piece runs again alone, in its own transaction, so one bad piece fails only its own
caller. On other databases (no one write lock; commits of different transactions sync
together on their own) the work runs in its own transaction, as before."""
from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from connector.store.db import _turn_file, transaction, write_transaction, writer_turn

T = TypeVar("T")
MAX_GROUP = 32  # bounds one leader's transaction (and the time its lock is held)


@dataclass(eq=False)
class _Work:
    run: Callable[[Session], Any]
    # Returns once what the rows refer to is durable (the letter's files): waited after the
    # statements, before the commit, so the disk's waits and the statements overlap.
    ready: Callable[[], Any] | None = None
    # The caller's context (who is acting, for the audit record; the request's ids): the
    # leader runs each piece inside its own caller's context, not the leader's.
    context: contextvars.Context = field(default_factory=contextvars.copy_context)
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    lead: bool = False
    result: Any = None
    error: BaseException | None = None


class _Group:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting: list[_Work] = []
        self.leading = False

    def submit(self, factory: sessionmaker[Session], work: _Work) -> None:
        with self.lock:
            self.waiting.append(work)
            if not self.leading:
                self.leading = work.lead = True
        while True:
            if work.lead:
                work.lead = False
                self._lead(factory)
            if work.done:
                return
            work.wake.wait()
            work.wake.clear()

    def _lead(self, factory: sessionmaker[Session]) -> None:
        with self.lock:
            batch, self.waiting = self.waiting[:MAX_GROUP], self.waiting[MAX_GROUP:]
        try:
            with writer_turn(factory.kw["bind"]):
                _commit(factory, batch)
        except BaseException as exc:  # the turn itself failed: every piece hears of it
            for work in batch:
                if not work.done:
                    work.error, work.done = exc, True
        finally:
            with self.lock:
                if self.waiting:  # the next one in line leads
                    self.waiting[0].lead = True
                    self.waiting[0].wake.set()
                else:
                    self.leading = False
            for work in batch:
                work.wake.set()


def _run(work: _Work, session: Session) -> Any:
    return work.context.run(work.run, session)


def _settle(batch: list[_Work]) -> None:
    for work in batch:
        if work.ready is not None:
            work.context.run(work.ready)


def _commit(factory: sessionmaker[Session], batch: list[_Work]) -> None:
    try:
        with transaction(factory) as session:
            results = [_run(work, session) for work in batch]
            _settle(batch)
    except Exception as exc:
        # The database itself failing (locked past its timeout, disk full) is nobody's piece:
        # every caller hears of it at once instead of each waiting the timeout again alone.
        if len(batch) == 1 or _database_busy(exc):
            for work in batch:
                work.error, work.done = exc, True
            return
        for work in batch:  # someone's piece failed: each alone, so only it fails
            try:
                with transaction(factory) as session:
                    work.result = _run(work, session)
                    _settle([work])
            except Exception as own:
                work.error = own
            work.done = True
        return
    for work, result in zip(batch, results):
        work.result, work.done = result, True


def _database_busy(exc: Exception) -> bool:
    return isinstance(exc, OperationalError) and "locked" in str(exc.orig).lower()


_GROUPS: dict[str, _Group] = {}
_GROUPS_LOCK = threading.Lock()


def write(factory: sessionmaker[Session], run: Callable[[Session], T],
          ready: Callable[[], Any] | None = None) -> T:
    """``run(session)`` in a committed transaction, grouped with other threads' on SQLite;
    its result, or what it raised. ``ready`` returns before anything commits: it is waited
    after ``run``'s statements (on SQLite, after the whole group's), so the two overlap; if it
    raises, the caller's work is not committed. ``run`` and ``ready`` may be run twice (once
    in a group that failed), so ``run`` must only write through the session and ``ready``
    must give the same answer again."""
    path = _turn_file(factory.kw["bind"])
    if path is None:
        with write_transaction(factory, ready) as session:
            return run(session)
    with _GROUPS_LOCK:
        group = _GROUPS.setdefault(path, _Group())
    work = _Work(run, ready)
    group.submit(factory, work)
    if work.error is not None:
        raise work.error
    return work.result  # type: ignore[no-any-return]
