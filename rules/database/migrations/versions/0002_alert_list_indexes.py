"""Alert list indexes and severity rank, for an `alerts` table created before them.

The alert store's former hand-written upgrade step (commit d98c1f9), as a revision: add the
generated `severity_rank` and the list indexes, drop `ix_alerts_device` (a prefix of
`ix_alerts_place_started`). On a table the baseline created there is nothing to do and only the
table's description is read: even CREATE INDEX IF NOT EXISTS would lock it against writes.

On SQLite the rank added to an existing table is VIRTUAL (SQLite cannot add a STORED column), and
one the former step added stays without NOT NULL (SQLite cannot change a column in place short of
copying the table). Both rank and sort the same; the rank is never null (ELSE 5).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

SEVERITY_RANK_SQL = (
    "CASE severity WHEN 'critical' THEN 0 WHEN 'major' THEN 1 WHEN 'minor' THEN 2 "
    "WHEN 'warning' THEN 3 WHEN 'info' THEN 4 ELSE 5 END"
)
INDEXES = {
    "ix_alerts_device_started": ["device", "started_at", "id"],
    "ix_alerts_place_started": ["building", "kind", "device", "started_at", "id"],
    "ix_alerts_building_started": ["building", "started_at", "id"],
    "ix_alerts_state_started": ["state", "started_at", "id"],
    "ix_alerts_state_updated": ["state", "updated_at", "id"],
    "ix_alerts_severity_rank": ["severity_rank", "id"],
}
SUPERSEDED = ("ix_alerts_device",)


def upgrade() -> None:
    bind = op.get_bind()
    inspector = sa.inspect(bind)
    columns = {c["name"]: c for c in inspector.get_columns("alerts")}
    present = {i["name"] for i in inspector.get_indexes("alerts")}
    if "severity_rank" not in columns:
        # SQLite cannot add a STORED column to a table; VIRTUAL ranks the same and is indexable.
        kind = "VIRTUAL" if bind.dialect.name == "sqlite" else "STORED"
        op.execute(
            f"ALTER TABLE alerts ADD COLUMN severity_rank INTEGER "
            f"GENERATED ALWAYS AS ({SEVERITY_RANK_SQL}) {kind} NOT NULL"
        )
    elif columns["severity_rank"]["nullable"] and bind.dialect.name == "postgresql":
        # Added by the hand-written step without NOT NULL (the rank is never null: ELSE 5).
        op.alter_column("alerts", "severity_rank", nullable=False)
    for name, index_columns in INDEXES.items():
        if name not in present:
            op.create_index(name, "alerts", index_columns)
    for name in SUPERSEDED:
        if name in present:
            op.drop_index(name, table_name="alerts")


def downgrade() -> None:
    """Nothing: the baseline's `alerts` table already has the rank and these indexes."""
