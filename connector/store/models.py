"""The staging store's tables (SQLAlchemy 2). Change them only together with a migration."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy import text as sa_text  # the notifications table has a column named text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from connector.domain.clock import now


# Letters whose promise is not settled (not answered, finished, taken back or paused for the
# citizen's documents), as SQL: the partial index and the query that uses it must spell it the
# same, with literals, for SQLite and PostgreSQL to match the query to the index.
OWED = ("state NOT IN ('answered', 'awaiting_documents', 'closed', 'rejected', 'withdrawn')")


class Base(DeclarativeBase):
    pass


def partial_index(name: str, *columns: str, where: str, **options: Any) -> Index:
    """An index of the rows for which ``where`` holds, on SQLite and PostgreSQL alike."""
    condition = sa_text(where)
    return Index(name, *columns, sqlite_where=condition, postgresql_where=condition, **options)


class Letter(Base):
    __tablename__ = "letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    tracking_code: Mapped[str] = mapped_column(String(16), unique=True)
    org: Mapped[str] = mapped_column(String(40))
    service_code: Mapped[str] = mapped_column(String(60), default="")
    unit_code: Mapped[str] = mapped_column(String(60), default="")
    channel: Mapped[str] = mapped_column(String(10), default="portal")
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    applicant_type: Mapped[str] = mapped_column(String(10))
    national_code: Mapped[str] = mapped_column(String(11), default="")
    national_id: Mapped[str] = mapped_column(String(11), default="")
    company_name: Mapped[str] = mapped_column(String(200), default="")
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    mobile: Mapped[str] = mapped_column(String(11))
    state: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str | None] = mapped_column(String(100))
    letter_number: Mapped[str | None] = mapped_column(String(100))
    letter_date: Mapped[datetime | None] = mapped_column(DateTime)
    current_unit: Mapped[str | None] = mapped_column(String(200))
    current_handler: Mapped[str | None] = mapped_column(String(200))
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    reply_available: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    # Set after an ambiguous failure or a crash mid-delivery: look the letter up before resending.
    needs_reconcile: Mapped[bool] = mapped_column(Boolean, default=False)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Finished steps of a multi-step delivery, by step key, so a retry resumes (ports.py).
    delivery_progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Last status look-up, for systems without a routing feed (polled oldest first).
    checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now, onupdate=now)
    # The promised completion date (تاریخ پایان کار), fixed at submission in working days.
    due_date: Mapped[date | None] = mapped_column(Date)
    # Where the citizen wants the news: "sms", "email" or "both" (e-mail needs an address).
    email: Mapped[str | None] = mapped_column(String(254))
    notify_by: Mapped[str] = mapped_column(String(10), default="sms", server_default="sms")
    # A follow-up (added documents) or an objection points at the letter it belongs to.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="SET NULL"))
    link_kind: Mapped[str | None] = mapped_column(String(20))  # documents | objection
    # While the citizen is asked for a document: the state to go back to, and since when the
    # promise is paused (Tehran day).
    resume_state: Mapped[str | None] = mapped_column(String(20))
    paused_since: Mapped[date | None] = mapped_column(Date)
    # Files the citizen added to a letter already in the system, still to be sent to it (by
    # position), and when to try next (set only while there is something to send).
    pending_files: Mapped[list[int] | None] = mapped_column(JSON)
    files_retry_at: Mapped[datetime | None] = mapped_column(DateTime)
    files_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The sender's key for this submission (a page's, an API client's Idempotency-Key), hashed
    # with the organization: sent again, the same submission finds this letter (usecases.submit).
    submit_key: Mapped[str | None] = mapped_column(String(64))

    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="letter", order_by="Attachment.position", cascade="all, delete-orphan")
    events: Mapped[list[Event]] = relationship(
        back_populates="letter", order_by="Event.id", cascade="all, delete-orphan")
    survey: Mapped[Survey | None] = relationship(cascade="all, delete-orphan")

    __table_args__ = (
        Index("ix_letters_work", "state", "next_attempt_at"),
        # Per organization and state, oldest change first: the dashboard's lists and ages.
        Index("ix_letters_org_state_age", "org", "state", "updated_at"),
        # Columns empty when a letter is handed in: only the rows with a value are indexed
        # (every reader asks for a value), so intake adds no entry to them (migration 0015).
        partial_index("ix_letters_org_external", "org", "external_id",
                      where="external_id IS NOT NULL"),
        Index("ix_letters_mobile", "mobile"),
        partial_index("ix_letters_parent", "parent_id", where="parent_id IS NOT NULL"),
        partial_index("ix_letters_files_work", "files_retry_at",
                      where="files_retry_at IS NOT NULL"),
        # Letters that still owe the citizen an answer, by promised date: the dashboard's
        # overdue list reads these and never the closed history (see connector/letters/promise).
        partial_index("ix_letters_owed_due", "org", "due_date", "id", where=OWED),
        # One letter per submission, however often (and however fast) it is sent.
        partial_index("uq_letters_submit_key", "mobile", "submit_key", unique=True,
                      where="submit_key IS NOT NULL"),
        # One objection per letter, however many arrive at once.
        partial_index("uq_letters_objection", "parent_id", unique=True,
                      where="link_kind = 'objection'"),
    )

    @property
    def applicant_name(self) -> str:
        if self.applicant_type == "legal":
            return self.company_name
        return f"{self.first_name} {self.last_name}".strip()


class LetterTally(Base):
    """Letters per organization and state as a sum of +1/-1 rows (see
    :mod:`connector.store.tallies`): written with each change, folded by the worker."""

    __tablename__ = "letter_tallies"

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))
    delta: Mapped[int] = mapped_column(Integer)


class SmsTally(Base):
    """SMS per organization, state and provider as +1/-1 rows, written by database triggers on
    ``notifications`` (migration 0006) so every UPDATE counts, guarded or not; folded by the
    worker like :class:`LetterTally`. A SQLite batch migration that rebuilds ``notifications``
    drops its triggers: create them again (``SQLITE_TRIGGERS`` in migration 0006)."""

    __tablename__ = "sms_tallies"
    # The counts are read from this index alone: a fold deletes what it sums and writes the
    # sums at the end of the table, so after a burst (a million SMS) PostgreSQL's table keeps
    # its pages, nearly empty, and a sum over the table would read them all.
    __table_args__ = (Index("ix_sms_tallies_key", "org", "state", "gateway", "delta"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(20))
    gateway: Mapped[str] = mapped_column(String(40))
    delta: Mapped[int] = mapped_column(Integer)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # The virus scanner that passed the file ("none": not scanned; NULL: before scanning).
    scanned_by: Mapped[str | None] = mapped_column(String(40))

    letter: Mapped[Letter] = relationship(back_populates="attachments")

    # A letter's files, in order: every letter page, API read and delivery claim reads them
    # (migration 0018).
    __table_args__ = (Index("ix_attachments_letter", "letter_id", "position"),)


class Event(Base):
    """Append-only timeline entry; ``source_id`` makes a change seen twice count once."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(DateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)

    letter: Mapped[Letter] = relationship(back_populates="events")

    __table_args__ = (UniqueConstraint("letter_id", "source_id", name="uq_events_source"),
                      # Recent deliveries for the latency metric, without reading all history.
                      Index("ix_events_kind_at", "kind", "at"))


class Notification(Base):
    """The SMS outbox: written in the same transaction as the change it tells about."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str | None] = mapped_column(String(40))
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="SET NULL"))
    to: Mapped[str] = mapped_column(String(11))
    kind: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="created")
    gateway: Mapped[str | None] = mapped_column(String(40))
    provider_message_id: Mapped[str | None] = mapped_column(String(100))
    client_reference: Mapped[str] = mapped_column(String(40), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=now, onupdate=now)
    # The provider's own status code or text, as it last reported it.
    provider_status: Mapped[str | None] = mapped_column(String(40))
    # Variables for a provider's template line (the OTP code), when one is configured.
    params: Mapped[dict[str, str] | None] = mapped_column(JSON)
    checks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # When the request to the provider left us (set just before the call): a message claimed
    # but never requested provably did not go out and may be sent again.
    request_sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    letter: Mapped[Letter | None] = relationship()

    __table_args__ = (Index("ix_notifications_work", "state", "next_attempt_at"),
                      # The dashboard's failed SMS of one organization.
                      Index("ix_notifications_org_state", "org", "state"),
                      Index("ix_notifications_to", "to"),
                      # A letter's SMS: retention redacts them letter by letter (0018).
                      partial_index("ix_notifications_letter", "letter_id",
                                    where="letter_id IS NOT NULL"),
                      # Rate limits; a queued SMS has no entry yet (migration 0015).
                      partial_index("ix_notifications_sent_at", "sent_at",
                                    where="sent_at IS NOT NULL"))


class OtpChallenge(Base):
    __tablename__ = "otp_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    mobile: Mapped[str] = mapped_column(String(11), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class ApiToken(Base):
    """A citizen's session after OTP; only the token's hash is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    mobile: Mapped[str] = mapped_column(String(11))
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default="controller")
    orgs: Mapped[list[str]] = mapped_column(JSON, default=list)  # [] = every organization
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Every staff session carries the generation it was signed in under; raising it (password
    # reset, disable, logout) ends every session of the account at its next request.
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class NamedLock(Base):
    """Rows only for databases without advisory locks (SQLite): see store.db.hold_lock."""

    __tablename__ = "named_locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)


class OrgState(Base):
    """Per-organization worker state: the routing-feed cursor and the health of the last poll."""

    __tablename__ = "org_state"

    org: Mapped[str] = mapped_column(String(40), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(200), default="")
    last_poll_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_poll_ok_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_poll_error: Mapped[str | None] = mapped_column(Text)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("letters.id", ondelete="CASCADE"),
                                           unique=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class AuditRecord(Base):
    """One link of the audit chain (see :mod:`connector.store.audit`); never deleted. Written
    unsealed (``seq``, ``prev_hash`` and ``hash`` empty); the sealer fills those three once."""

    __tablename__ = "audit_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    org: Mapped[str] = mapped_column(String(40), default="")
    letter: Mapped[str] = mapped_column(String(16), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_org_at", "org", "at"),
                      Index("ix_audit_letter", "letter"),
                      Index("ix_audit_action", "action"),
                      # The sealer's work list: small however long the chain grows.
                      Index("ix_audit_unsealed", "id", postgresql_where=text("seq IS NULL"),
                            sqlite_where=text("seq IS NULL")))


class AuditHead(Base):
    """The end of the audit chain, so records deleted from the end are noticed."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default="")


class LetterStatistic(Base):
    """What the reports need of a letter the retention run destroyed, and nothing personal
    (no applicant, tracking code, text or files), so a period's totals do not change when the
    letters in it are destroyed. Written in the same transaction as the destruction."""

    __tablename__ = "letter_statistics"

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(String(40))
    unit_code: Mapped[str] = mapped_column(String(60), default="")
    service_code: Mapped[str] = mapped_column(String(60), default="")
    channel: Mapped[str] = mapped_column(String(10), default="portal")
    state: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    approved: Mapped[bool] = mapped_column(Boolean, default=False)
    rejected: Mapped[bool] = mapped_column(Boolean, default=False)
    registered_at: Mapped[datetime | None] = mapped_column(DateTime)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime)
    score: Mapped[int | None] = mapped_column(Integer)
    attachments: Mapped[int] = mapped_column(Integer, default=0)
    destroyed_at: Mapped[datetime] = mapped_column(DateTime, default=now)

    __table_args__ = (Index("ix_letter_statistics_org_created", "org", "created_at"),)


# The channels' and the visits' tables share this metadata (one schema, one migration chain).
from connector.store import channels as _channels  # noqa: E402,F401
from connector.store import visits as _visits  # noqa: E402,F401
