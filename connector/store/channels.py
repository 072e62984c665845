"""The tables of the channels beyond the SMS outbox: webhook subscriptions and their outbox,
inbound SMS with their inbox cursors and reply windows, and the e-mail outbox. They share the
store's metadata (imported at the end of :mod:`connector.store.models`); change them only
together with a migration."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from connector.domain.clock import now
from connector.store.models import Base, Letter, partial_index


class WebhookSubscription(Base):
    """An integrator's endpoint for one organization's events. The signing secret is never
    here: ``secret_env`` names the environment variable that holds it."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(String(40), index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret_env: Mapped[str] = mapped_column(String(100))
    # Event types (``ir.pishkhan.letter.registered``, …) or ["*"] for all of them.
    types: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)


class WebhookDelivery(Base):
    """The webhook outbox: one CloudEvent for one subscription, queued in the transaction of
    the change it tells about and sent by the worker under a claim."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    org: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(80))
    subject: Mapped[str | None] = mapped_column(String(40))
    # The whole CloudEvent as sent: the same bytes (and id) on every attempt.
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (UniqueConstraint("subscription_id", "event_id",
                                       name="uq_webhook_delivery_event"),
                      Index("ix_webhook_deliveries_work", "state", "next_attempt_at"),
                      Index("ix_webhook_deliveries_org", "org", "state"))


class InboundSms(Base):
    """A text a citizen sent to an organization's line, recorded once per provider id."""

    __tablename__ = "inbound_sms"

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(String(40))
    gateway: Mapped[str] = mapped_column(String(40))
    provider_id: Mapped[str] = mapped_column(String(100))
    sender: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime)
    # help | status | unknown | limited (answered no more this hour)
    answer: Mapped[str] = mapped_column(String(20), default="")
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="SET NULL"))
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("notifications.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)

    __table_args__ = (UniqueConstraint("org", "gateway", "provider_id", name="uq_inbound_sms"),
                      Index("ix_inbound_sms_sender", "sender"),
                      # Retention deletes a letter's replies letter by letter (0018).
                      partial_index("ix_inbound_sms_letter", "letter_id",
                                    where="letter_id IS NOT NULL"),
                      # Deleting a notification sets its replies' link to NULL (0019).
                      partial_index("ix_inbound_sms_notification", "notification_id",
                                    where="notification_id IS NOT NULL"))


class InboxCursor(Base):
    """Where the last read of an SMS gateway's inbox stopped, and how that read went."""

    __tablename__ = "sms_inbox_cursors"

    org: Mapped[str] = mapped_column(String(40), primary_key=True)
    gateway: Mapped[str] = mapped_column(String(40), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(200), default="")
    last_poll_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class SmsReplyWindow(Base):
    """How many answers a mobile got in one hour: a counter raised by one conditional UPDATE,
    so parallel inbound texts can never pass the limit."""

    __tablename__ = "sms_reply_windows"

    mobile: Mapped[str] = mapped_column(String(11), primary_key=True)
    window: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Email(Base):
    """The e-mail outbox, with the SMS outbox's guarantees: queued in the transaction of the
    change it tells about, claimed before sending, retried with backoff, failures kept."""

    __tablename__ = "emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str | None] = mapped_column(String(40))
    letter_id: Mapped[int | None] = mapped_column(ForeignKey("letters.id", ondelete="SET NULL"))
    to: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    state: Mapped[str] = mapped_column(String(20), default="created")  # sending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)

    letter: Mapped[Letter | None] = relationship()

    __table_args__ = (Index("ix_emails_work", "state", "next_attempt_at"),
                      # A letter's e-mails: retention deletes them letter by letter (0018).
                      partial_index("ix_emails_letter", "letter_id",
                                    where="letter_id IS NOT NULL"))
