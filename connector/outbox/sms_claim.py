"""Taking queued SMS for sending: the claim (under the rate limits and quiet hours) and the
record, written just before each request leaves, that it may have been sent.

A claimed message is ``sending`` with a lease (``next_attempt_at``); a worker that dies with it
leaves it to :mod:`connector.outbox.sms_status`, which resends it at once if its departure was
never written (it provably did not leave) and looks it up by reference otherwise."""
from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, bindparam, case, func, null, or_, select, update

from connector.domain.clock import now
from connector.domain.errors import NotFound
from connector.outbox.policy import URGENT_KINDS
from connector.outbox.redaction import redact
from connector.store import plain
from connector.store.db import for_claim, writer_turn
from connector.store.models import Notification

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan

# A claimed message not settled by then (the worker died mid-send) is looked up, not resent.
RECONCILE_AFTER = timedelta(seconds=60)


class Budget:
    """What the rate limits leave for this minute: the platform's and each organization's.
    The last minute's sends are counted only when some limit is set."""

    def __init__(self, px: Pishkhan, conn: Connection, at: datetime) -> None:
        self.conn, self.since = conn, at - timedelta(minutes=1)
        self.global_limit = px.settings.sms_rate_per_minute
        self.used: dict[str | None, int] | None = None
        self.total = 0

    def _count(self) -> dict[str | None, int]:
        if self.used is None:
            rows = self.conn.execute(select(Notification.org, func.count()).where(
                Notification.sent_at >= self.since).group_by(Notification.org)).all()
            self.used = defaultdict(int, {org: n for org, n in rows})
            self.total = sum(self.used.values())
        return self.used

    def take(self, org: str | None, org_limit: int | None) -> bool:
        if self.global_limit is None and org_limit is None:
            return True
        used = self._count()
        if self.global_limit is not None and self.total >= self.global_limit:
            return False
        if org_limit is not None and used[org] >= org_limit:
            return False
        used[org] += 1
        self.total += 1
        return True


@dataclass(frozen=True)
class Job:
    """A claimed message: what the send needs, read in the claim's transaction."""

    id: int
    org: str | None
    kind: str
    to: str
    text: str
    ref: str
    params: dict[str, str] | None
    attempts: int


_COLUMNS = (Notification.id, Notification.org, Notification.kind, Notification.to,
            Notification.text, Notification.client_reference, Notification.params,
            Notification.attempts)


def claim(px: Pishkhan, limit: int, only: int | None = None) -> list[Job]:
    """Up to ``limit`` due messages, OTPs first, moved to ``sending``. The rows are read and
    claimed on a plain connection, without an ORM session (whose UPDATE also looks for the
    rows among its loaded objects, work a claim has no use for), in one UPDATE
    that insists they are still ``created``: on PostgreSQL they are locked (SKIP LOCKED)
    anyway; on SQLite, which reads before it takes the write lock, a row another process took
    meanwhile is simply not ours."""
    at = now()
    # The dispatcher's claims, departures and results share SQLite's one write lock: they take
    # turns on writer_turn, which wakes the next at once (SQLite's busy handler sleeps 1, 2,
    # 5 ms... between tries, longer than these commits take).
    with writer_turn(px.engine), px.engine.begin() as conn:
        stmt = select(*_COLUMNS).where(Notification.state == "created")
        if only is not None:
            stmt = stmt.where(Notification.id == only)
        else:
            stmt = stmt.where(or_(Notification.next_attempt_at.is_(None),
                                  Notification.next_attempt_at <= at))
        # OTPs first: a citizen is waiting at the login page.
        stmt = stmt.order_by(case((Notification.kind.in_(URGENT_KINDS), 0), else_=1),
                             Notification.id).limit(limit * 4)
        budget = Budget(px, conn, at)
        chosen: dict[int, Job] = {}
        waiting: dict[datetime, list[int]] = defaultdict(list)
        for row in conn.execute(for_claim(stmt, conn)).all():
            try:
                policy = px.sms_policy(row.org)
            except NotFound:
                _orphaned(conn, row, at)
                continue
            if row.kind not in URGENT_KINDS and policy.quiet_hours and only is None:
                release = policy.quiet_hours.release_at(at)
                if release is not None:
                    waiting[release].append(row.id)  # a progress text waits for the morning
                    continue
            if only is None and not budget.take(row.org, policy.rate_per_minute):
                continue
            chosen[row.id] = Job(row.id, row.org, row.kind, row.to, row.text,
                                 row.client_reference, row.params, row.attempts + 1)
            if len(chosen) >= limit:
                break
        for release, ids in waiting.items():
            conn.execute(update(Notification).where(Notification.id.in_(ids))
                         .values(next_attempt_at=release))
        if not chosen:
            return []
        taken = set(conn.scalars(
            update(Notification).where(Notification.id.in_(list(chosen)),
                                       Notification.state == "created")
            .values(state="sending", sent_at=at, attempts=Notification.attempts + 1,
                    next_attempt_at=at + RECONCILE_AFTER)
            .returning(Notification.id)))
        return [job for note_id, job in chosen.items() if note_id in taken]


def _departures(n: int) -> Any:
    """The UPDATE that marks ``n`` claims as leaving, each only if it is still that claim."""
    claims = [and_(Notification.id == bindparam(f"id{i}"),
                   Notification.attempts == bindparam(f"attempts{i}")) for i in range(n)]
    return update(Notification).where(
        or_(*claims), Notification.state == "sending", Notification.request_sent_at.is_(None)) \
        .values(request_sent_at=bindparam("at"), updated_at=bindparam("at")) \
        .returning(Notification.id)


def _depart(conn: Any, claims: dict[int, int]) -> list[int]:
    """Write the departures of ``claims`` (id -> attempts); the ids it was written for. On
    every send's path: compiled once per number of claims, run on the driver."""
    values: dict[str, Any] = {"at": now()}
    for i, (note_id, attempts) in enumerate(claims.items()):
        values[f"id{i}"], values[f"attempts{i}"] = note_id, attempts
    n = len(claims)
    return plain.returned(conn, f"sms.departures.{n}", lambda: _departures(n), values)


def _orphaned(conn: Connection, row: Any, at: datetime) -> None:
    """A message of an organization that no longer exists: it cannot be sent."""
    values = {"state": "technical-failure", "completed_at": at,
              "last_error": f"configuration: organization {row.org!r} no longer exists"}
    if row.kind == "otp" and row.params:
        values.update(text=redact(row.text, row.params), params=null())
    conn.execute(update(Notification).where(Notification.id == row.id).values(**values))


class Departures:
    """Writes "this request is leaving" (``request_sent_at``) for the sends of one dispatch.
    A send waits until its own row is committed, as before; but a send that finds the writer
    busy has its row written with the others that gathered meanwhile, in one UPDATE and one
    commit (group commit), instead of each queueing for a commit of its own. One writer, on
    PostgreSQL too: four at once wrote smaller batches, and each batch's round trip and commit
    cost more than the wait for the one before (bench/sms.py at 32: 84-87 % of the bound with
    four, 90-91 % with one, interleaved)."""

    def __init__(self, px: Pishkhan) -> None:
        self.px = px
        self._cond = threading.Condition()
        self._waiting: list[tuple[int, int]] = []  # (id, attempts) of the claims gathered
        self._batch = 1  # the batch now gathering ids
        self._done: set[int] = set()  # batches committed (or failed)
        self._won: dict[int, set[int]] = {}  # per batch, the ids whose departure was written
        self._writing = False
        self._failed: dict[int, BaseException] = {}

    def _connect(self) -> Any:
        # One statement, committed on its own (autocommit): no BEGIN and COMMIT round trips
        # on the path of every send, where each wait is also a wait for the interpreter lock.
        return self.px.engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    def leave(self, note_id: int, attempts: int) -> bool:
        """Once ``note_id``'s departure is committed, whether it was this claim's to send;
        raises if writing it failed. A claim whose lease ran out while it waited may have been
        queued again (and claimed by another worker, which bumps ``attempts``) or already
        left: its departure is not written, and it must not be sent."""
        with self._cond:
            self._waiting.append((note_id, attempts))
            mine = self._batch
            while mine not in self._done:
                if mine != self._batch or self._writing:
                    self._cond.wait()  # being written, or the writer is busy: gather
                    continue
                # The writer is free: this thread writes what has gathered, its own id included.
                claims, self._waiting = dict(self._waiting), []
                self._batch += 1
                self._writing = True
                self._cond.release()
                try:
                    with writer_turn(self.px.engine), self._connect() as conn:
                        self._won[mine] = set(_depart(conn, claims))
                except BaseException as exc:  # every send of the batch must know
                    self._failed[mine] = exc
                finally:
                    self._cond.acquire()
                    self._writing = False
                    self._done.add(mine)
                    self._cond.notify_all()
            if mine in self._failed:
                raise self._failed[mine]
            return note_id in self._won[mine]
