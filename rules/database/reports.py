"""The report archive's table (`reports`): one row per report the schedule made, its files kept
in the state directory (`api/reports/archive.py` holds the logic). The unique key is what lets
several API processes share one schedule: the first to insert the row makes the report."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from rules.database.base import Base, UtcDateTime


class ReportRow(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    period_kind: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    period_end: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # The building, or "" for the whole area (a key column: NULLs would never collide).
    scope: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    # making -> kept (files written) or failed
    status: Mapped[str] = mapped_column(String(16))
    files: Mapped[list[str]] = mapped_column(JSON, default=list)
    # One entry per receiver: {"receiver": ..., "ok": bool, "error": str | None} and, since 0004,
    # "attempts", "last_attempt_at", "next_attempt_at", "gave_up" (api/reports/retries.py).
    sent: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # When the earliest failed receiver is due again (None: nothing to retry). While one API
    # process retries, it holds the row by setting this a lease ahead (api/reports/archive.py).
    retry_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True, default=None)
    # What a retry needs to send again as the first sending did: {"title", "link_base", "retry"
    # (the delays in seconds)}; None for reports kept before 0004.
    sending: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True, default=None)

    __table_args__ = (
        UniqueConstraint("kind", "period_kind", "period_start", "scope", "lang", name="uq_reports_one"),
        Index("ix_reports_retry_at", "retry_at"),
    )
