"""Baseline: the schema as louyu created it (`create_all`) before migrations, in its last form.

A database from before migrations has no revision and may lack some tables (a rules engine run
alone never created `api_tokens`, a notifier never created it either): each table is created only
if it is missing, with its indexes, so such a database is adopted as it is and a new one gets all.
An `alerts` table older than the severity rank is brought up to date by the next revision.

Frozen: written out here rather than taken from the models, which move on with later revisions.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

TIME = sa.DateTime(timezone=True)  # TIMESTAMP WITH TIME ZONE on PostgreSQL, DATETIME on SQLite
SEVERITY_RANK_SQL = (
    "CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 "
    "WHEN 'warning' THEN 3 WHEN 'info' THEN 4 ELSE 5 END"
)
UNRESOLVED = sa.text("state != 'resolved'")


def alerts() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("building", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("acknowledged_at", TIME, nullable=True),
        sa.Column("acknowledged_by", sa.String(length=128), nullable=True),
        sa.Column("resolved_at", TIME, nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("resolution", sa.String(length=16), nullable=True),
        sa.Column("escalated_at", TIME, nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("silenced", sa.Boolean(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column(
            "severity_rank", sa.Integer(), sa.Computed(SEVERITY_RANK_SQL, persisted=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_alerts_one_open",
        "alerts",
        ["rule", "building", "kind", "device"],
        unique=True,
        sqlite_where=UNRESOLVED,
        postgresql_where=UNRESOLVED,
    )
    for name, columns in (
        ("ix_alerts_started", ["started_at", "id"]),
        ("ix_alerts_state", ["state", "severity"]),
        ("ix_alerts_device_started", ["device", "started_at", "id"]),
        ("ix_alerts_place_started", ["building", "kind", "device", "started_at", "id"]),
        ("ix_alerts_building_started", ["building", "started_at", "id"]),
        ("ix_alerts_state_started", ["state", "started_at", "id"]),
        ("ix_alerts_state_updated", ["state", "updated_at", "id"]),
        ("ix_alerts_severity_rank", ["severity_rank", "id"]),
    ):
        op.create_index(name, "alerts", columns)


def alert_events() -> None:
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("by", sa.String(length=128), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("alert", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_events_alert_id", "alert_events", ["alert_id"])


def silences() -> None:
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("building", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=True),
        sa.Column("starts_at", TIME, nullable=False),
        sa.Column("ends_at", TIME, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("ended_by", sa.String(length=128), nullable=True),
        sa.Column("closed_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])


def rule_pending() -> None:
    op.create_table(
        "rule_pending",
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("building", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("device", sa.String(length=64), nullable=False),
        sa.Column("since", TIME, nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("rule", "building", "kind", "device"),
    )


def api_tokens() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=True),
        sa.Column("revoked_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_tokens_name", "api_tokens", ["name"])


def notify_cursor() -> None:
    op.create_table(
        "notify_cursor",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def notify_deliveries() -> None:
    op.create_table(
        "notify_deliveries",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=160), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=64), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=True),
        sa.Column("rule", sa.String(length=64), nullable=True),
        sa.Column("building", sa.String(length=64), nullable=True),
        sa.Column("receiver", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", TIME, nullable=False),
        sa.Column("deadline", TIME, nullable=False),
        sa.Column("delivered_at", TIME, nullable=True),
        sa.Column("finished_at", TIME, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
    )
    op.create_index("ix_notify_deliveries_due", "notify_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_notify_deliveries_event_id", "notify_deliveries", ["event_id"])
    op.create_index("ix_notify_deliveries_alert_id", "notify_deliveries", ["alert_id"])
    op.create_index("ix_notify_deliveries_queue", "notify_deliveries", ["receiver", "status", "seq"])


def notify_attempts() -> None:
    op.create_table(
        "notify_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("delivery_id", sa.String(length=160), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("retryable", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["notify_deliveries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_notify_attempts_delivery_id", "notify_attempts", ["delivery_id"])


def notify_tracks() -> None:
    op.create_table(
        "notify_tracks",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("route", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("last_notified_at", TIME, nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_due_at", TIME, nullable=True),
        sa.Column("stopped_at", TIME, nullable=True),
        sa.Column("stopped_reason", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("alert_id", "route"),
    )
    op.create_index("ix_notify_tracks_due", "notify_tracks", ["active", "next_due_at"])


# In an order that creates a referenced table before the table referring to it.
TABLES: dict[str, Callable[[], None]] = {
    "alerts": alerts,
    "alert_events": alert_events,
    "silences": silences,
    "rule_pending": rule_pending,
    "api_tokens": api_tokens,
    "notify_cursor": notify_cursor,
    "notify_deliveries": notify_deliveries,
    "notify_attempts": notify_attempts,
    "notify_tracks": notify_tracks,
}


def upgrade() -> None:
    present = set(sa.inspect(op.get_bind()).get_table_names())
    for name, create in TABLES.items():
        if name not in present:
            create()


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
