"""The notifier's tables, in the alert store's database, so that reading the outbox
(`alert_events`) and recording what it produced can share one transaction.

- `notify_cursor`: the last alert event id turned into deliveries (one row per consumer name).
- `notify_deliveries`: one row per message to send (event x receiver, reminder, escalation,
  snapshot). Its id is the `webhook-id` and the handset's `delivery_id`, the same on every retry.
- `notify_attempts`: every try, with its outcome: who was told what, when, and whether it worked.
- `notify_tracks`: where each alert stands on each timed route (reminders and escalation).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rules.database.base import Base, UtcDateTime

# Delivery states. `pending` rows are sent (or retried) when `next_attempt_at` has come.
PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"
DELIVERY_STATES = (PENDING, DELIVERED, FAILED, CANCELLED)


class CursorRow(Base):
    __tablename__ = "notify_cursor"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class DeliveryRow(Base):
    __tablename__ = "notify_deliveries"

    # Insertion order: each receiver gets its deliveries in this order, one at a time.
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(160), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # What it is about: the alert event (None for snapshots), the alert, and why it is sent.
    event_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    alert_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    event: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str] = mapped_column(String(16))  # event | reminder | escalation | snapshot
    level: Mapped[int] = mapped_column(Integer, default=0)
    route: Mapped[str | None] = mapped_column(String(64), nullable=True)
    severity: Mapped[str | None] = mapped_column(String(16), nullable=True)
    rule: Mapped[str | None] = mapped_column(String(64), nullable=True)
    building: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # To whom and how.
    receiver: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text, default="")
    # The exact bytes sent on every try (JSON for MQTT, webhooks and CloudEvents; text for apprise).
    payload: Mapped[str] = mapped_column(Text)
    # Outcome.
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    deadline: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index("ix_notify_deliveries_due", "status", "next_attempt_at"),
        # The head of each receiver's queue: one index seek per receiver.
        Index("ix_notify_deliveries_queue", "receiver", "status", "seq"),
    )


class AttemptRow(Base):
    __tablename__ = "notify_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(
        ForeignKey("notify_deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    retryable: Mapped[bool] = mapped_column(Boolean, default=False)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class TrackRow(Base):
    __tablename__ = "notify_tracks"

    alert_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer)  # the event that started it (for the message)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    level: Mapped[int] = mapped_column(Integer, default=0)
    last_notified_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    reminders: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    next_due_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    stopped_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (Index("ix_notify_tracks_due", "active", "next_due_at"),)
