"""Every table of the louyu database, listed once, so that the schema never depends on which
modules a process happened to import. Alembic compares migrations against `metadata`."""

from __future__ import annotations

from typing import Final

from sqlalchemy import MetaData, Table

from rules.database.alerts import AlertRow, EventRow, PendingRow, SilenceRow
from rules.database.base import Base
from rules.database.notifier import AttemptRow, CursorRow, DeliveryRow, TrackRow
from rules.database.reports import ReportRow
from rules.database.tokens import TokenRow

# The alert store, the API's tokens, the notifier's outbox ledger, the report archive. (The collector's rejections and
# spool are SQLite files of its own, not in this database.)
TABLES: Final[tuple[Table, ...]] = tuple(
    Base.metadata.tables[row.__tablename__]
    for row in (
        AlertRow,
        EventRow,
        SilenceRow,
        PendingRow,
        TokenRow,
        CursorRow,
        DeliveryRow,
        AttemptRow,
        TrackRow,
        ReportRow,
    )
)
metadata: Final[MetaData] = Base.metadata
