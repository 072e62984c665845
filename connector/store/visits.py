"""The visits' tables (connector/visits uses them). They share the store's metadata (imported
at the end of :mod:`connector.store.models`), so the migrations test sees them; change them only
together with a migration."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connector.domain.clock import now
from connector.store.models import Base, partial_index


class Visitor(Base):
    """A person who comes in: Iranian by national code, foreign by passport and nationality.
    One row per person per organization, so a returning visitor is found, not typed again."""

    __tablename__ = "visitors"

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))  # iranian | foreign
    national_code: Mapped[str] = mapped_column(String(10), default="")
    passport: Mapped[str] = mapped_column(String(20), default="")
    nationality: Mapped[str] = mapped_column(String(60), default="")
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    father_name: Mapped[str] = mapped_column(String(100), default="")
    mobile: Mapped[str] = mapped_column(String(11), default="")
    photo_sha256: Mapped[str | None] = mapped_column(String(64))
    id_scan_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now, onupdate=now)

    __table_args__ = (
        UniqueConstraint("org", "kind", "national_code", "passport", "nationality",
                         name="uq_visitors_identity"),
        Index("ix_visitors_org_name", "org", "last_name"),
    )

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Visit(Base):
    """One visit. States: planned -> inside -> left, or expired / refused; ``served`` is a
    visit finished at the desk without entering (categories 1, 2 and 4 of the directive)."""

    __tablename__ = "visits"

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(String(40))
    visitor_id: Mapped[int] = mapped_column(ForeignKey("visitors.id", ondelete="CASCADE"))
    host_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"))
    host_name: Mapped[str] = mapped_column(String(120), default="")
    unit_code: Mapped[str] = mapped_column(String(60), default="")
    purpose: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12))
    window_start: Mapped[datetime] = mapped_column(DateTime)
    window_end: Mapped[datetime] = mapped_column(DateTime)
    # Only a keyed hash of the pass code is kept; the printed pass or the SMS carries the code.
    pass_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(120), default="")
    admitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    entered_at: Mapped[datetime | None] = mapped_column(DateTime)
    left_at: Mapped[datetime | None] = mapped_column(DateTime)
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now, onupdate=now)

    visitor: Mapped[Visitor] = relationship(lazy="joined")

    __table_args__ = (Index("ix_visits_org_state", "org", "state"),
                      Index("ix_visits_org_window", "org", "window_start"),
                      Index("ix_visits_visitor", "visitor_id"),
                      # A host's latest visits, on their home page (0019).
                      partial_index("ix_visits_host", "host_user_id", "window_start",
                                    where="host_user_id IS NOT NULL"))


class HostProfile(Base):
    """What a host needs beyond a staff account: the mobile their visitors' SMS go to, and
    their unit."""

    __tablename__ = "visit_hosts"

    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"),
                                         primary_key=True)
    mobile: Mapped[str] = mapped_column(String(11), default="")
    unit_code: Mapped[str] = mapped_column(String(60), default="")


class Gate(Base):
    """A turnstile or reader. Only the token's SHA-256 is kept (the token is random and long,
    so a plain hash is enough)."""

    __tablename__ = "gates"

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(60))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(5), default="both")  # in | out | both
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (UniqueConstraint("org", "name", name="uq_gates_org_name"),)


class GateScan(Base):
    """Every scan, allowed or not."""

    __tablename__ = "gate_scans"

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(String(40))
    gate_id: Mapped[int] = mapped_column(ForeignKey("gates.id", ondelete="CASCADE"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(3))
    decision: Mapped[str] = mapped_column(String(5))
    reason: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=now)

    __table_args__ = (Index("ix_gate_scans_org_at", "org", "at"),
                      Index("ix_gate_scans_visit", "visit_id"),
                      Index("ix_gate_scans_gate", "gate_id"))


class BlacklistEntry(Base):
    """Someone who must not enter, until ``until`` (None: until removed)."""

    __tablename__ = "visit_blacklist"

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(String(40))
    national_code: Mapped[str] = mapped_column(String(10), default="")
    passport: Mapped[str] = mapped_column(String(20), default="")
    nationality: Mapped[str] = mapped_column(String(60), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text)
    added_by: Mapped[str] = mapped_column(String(120))
    until: Mapped[datetime | None] = mapped_column(DateTime)
    removed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)

    __table_args__ = (Index("ix_blacklist_org_code", "org", "national_code"),
                      Index("ix_blacklist_org_passport", "org", "passport"))


class VisitAlert(Base):
    """Something the security desk must see: a denied scan, a blacklisted person at the desk."""

    __tablename__ = "visit_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(30))
    message: Mapped[str] = mapped_column(Text)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(DateTime, default=now)
    seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    seen_by: Mapped[str | None] = mapped_column(String(120))

    __table_args__ = (Index("ix_visit_alerts_org_at", "org", "at"),
                      partial_index("ix_visit_alerts_visit", "visit_id",
                                    where="visit_id IS NOT NULL"))
