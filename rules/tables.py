"""ORM tables of the alert store. Only `rules/store.py` touches them; others read records."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from rules.db import Base, UtcDateTime

OPEN_STATES = ("firing", "acknowledged")
# The partial index that makes "at most one unresolved alert per rule and device" a database fact,
# so two engines racing on one store still cannot open two. Same SQL on SQLite and PostgreSQL.
_UNRESOLVED = text("state != 'resolved'")


class AlertRow(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    building: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    device: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(16), nullable=True)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    silenced: Mapped[bool] = mapped_column(Boolean, default=False)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (
        Index(
            "uq_alerts_one_open",
            "rule",
            "building",
            "kind",
            "device",
            unique=True,
            sqlite_where=_UNRESOLVED,
            postgresql_where=_UNRESOLVED,
        ),
        Index("ix_alerts_started", "started_at", "id"),
        Index("ix_alerts_state", "state", "severity"),
        Index("ix_alerts_device", "building", "kind", "device"),
    )


class EventRow(Base):
    __tablename__ = "alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The alert as it was right after this event, so a reader resuming from an old event id
    # sees the alert of that moment, not of now.
    alert: Mapped[dict[str, Any]] = mapped_column(JSON)


class SilenceRow(Base):
    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    building: Mapped[str | None] = mapped_column(String(64), nullable=True)
    kind: Mapped[str | None] = mapped_column(String(32), nullable=True)
    device: Mapped[str | None] = mapped_column(String(64), nullable=True)
    rule: Mapped[str | None] = mapped_column(String(64), nullable=True)
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # Set once the end has been processed (alerts it muted unmuted, events written): exactly once,
    # guarded by `WHERE closed_at IS NULL`, whichever engine or API process gets there first.
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class PendingRow(Base):
    """A `for` condition that is true but has not yet held long enough: survives a restart."""

    __tablename__ = "rule_pending"

    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    building: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)
    since: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
