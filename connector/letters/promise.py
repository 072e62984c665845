"""The promised completion date (تاریخ پایان کار): fixed when a letter is handed in, from its
service's ``duration_days`` counted in working days on the organization's calendar, and the
letters that have run past it."""
from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from connector.domain.calendar import jalali_text
from connector.domain.clock import local, now
from connector.domain.letter import FINAL
from connector.store.models import OWED, Letter

if TYPE_CHECKING:
    from connector.bootstrap import Pishkhan
    from connector.config.organizations import Organization, Service

# Letters whose promise is settled: answered, finished or taken back. Everything else still
# owes the citizen an answer, a letter stuck in delivery included.
_SETTLED = tuple(s.value for s in FINAL) + ("answered",)


def due_date(px: Pishkhan, org: Organization, service: Service | None,
             at: datetime | None = None) -> date | None:
    """The promise for a letter handed in at ``at`` (naive UTC; the day is Tehran's)."""
    if service is None or not service.duration_days:
        return None
    start = local(at or now()).date()
    return px.calendar(org.slug).add(start, service.duration_days)


def today() -> date:
    return local(now()).date()


def late_by(px: Pishkhan, letter: Letter, finished: date | None = None) -> float:
    """Working days past the promise: until ``finished``, or until today if still open."""
    if letter.due_date is None:
        return 0.0
    return px.calendar(letter.org).late_by(letter.due_date, finished or today())


def overdue(px: Pishkhan, s: Session, orgs: list[str] | None = None,
            limit: int = 200) -> list[tuple[Letter, float]]:
    """Open letters past their promised date, the latest first, with working days late."""
    # A letter waiting for the citizen's documents is paused, not late. OWED says the same as
    # _SETTLED plus that pause, in the words of the partial index ix_letters_owed_due: the
    # query reads the open letters only, however much closed history the table holds.
    stmt = select(Letter).where(Letter.due_date < today(), sql(OWED))
    if orgs is not None:
        stmt = stmt.where(Letter.org.in_(orgs))
    rows = s.scalars(stmt.order_by(Letter.due_date, Letter.id).limit(limit)).all()
    return [(letter, late_by(px, letter)) for letter in rows]


def text(letter: Letter) -> str:
    """The promise as SMS and letters write dates (``1405/09/20``), or empty."""
    return jalali_text(letter.due_date) if letter.due_date else ""
