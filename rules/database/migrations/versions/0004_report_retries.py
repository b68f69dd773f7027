"""Report sending retries: `reports.retry_at` (when a failed receiver is due again, indexed for
the periodic look) and `reports.sending` (what a retry sends: the title, the link base, the
delays).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sending", sa.JSON(), nullable=True))
        batch.create_index("ix_reports_retry_at", ["retry_at"])


def downgrade() -> None:
    with op.batch_alter_table("reports") as batch:
        batch.drop_index("ix_reports_retry_at")
        batch.drop_column("sending")
        batch.drop_column("retry_at")
