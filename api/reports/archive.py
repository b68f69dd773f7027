"""Kept reports: a row in the `reports` table (rules/database/reports.py) and the files in
`<state dir>/reports/<id>/`. Claiming a report inserts its row first, so that of several API
processes running the same schedule exactly one makes it; taking a due retry moves its time a
lease ahead first, so that exactly one of them sends it again."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.reports.model import Period
from rules.database.reports import ReportRow

FILE_RE: Final = re.compile(r"^[a-z0-9][a-z0-9._-]{0,190}$")
MAKING, KEPT, FAILED = "making", "kept", "failed"


@dataclass(frozen=True, slots=True)
class KeptReport:
    id: int
    kind: str
    period_kind: str
    period_start: dt.datetime
    period_end: dt.datetime
    building: str | None
    lang: str
    created_at: dt.datetime
    status: str
    files: list[str]
    sent: list[dict[str, Any]]
    retry_at: dt.datetime | None = None
    sending: dict[str, Any] | None = None


def _record(row: ReportRow) -> KeptReport:
    return KeptReport(
        row.id, row.kind, row.period_kind, row.period_start, row.period_end, row.scope or None, row.lang,
        row.created_at, row.status, list(row.files or []), list(row.sent or []), row.retry_at,
        dict(row.sending) if row.sending is not None else None,
    )  # fmt: skip


class ReportArchive:
    def __init__(self, engine: Engine, directory: Path | None) -> None:
        # None: the list is read, nothing is kept or downloaded (an API without a state directory).
        self.directory = directory
        self.engine = engine

    def claim(
        self, kind: str, period: Period, building: str | None, lang: str, now: dt.datetime
    ) -> int | None:
        """The new report's id, or None when this report was already claimed (made or being made)."""
        try:
            with Session(self.engine) as session, session.begin():
                row = ReportRow(
                    kind=kind, period_kind=period.kind, period_start=period.start, period_end=period.end,
                    scope=building or "", lang=lang, created_at=now, status=MAKING, files=[], sent=[],
                )  # fmt: skip
                session.add(row)
                session.flush()
                return row.id
        except IntegrityError:
            return None

    def keep(self, report_id: int, files: dict[str, bytes]) -> None:
        if self.directory is None:
            raise RuntimeError("no directory to keep reports in")
        folder = self.directory / str(report_id)
        folder.mkdir(parents=True, exist_ok=True)
        for name, body in files.items():
            if not FILE_RE.fullmatch(name):
                raise ValueError(f"not a report file name: {name!r}")
            (folder / name).write_bytes(body)
        with Session(self.engine) as session, session.begin():
            row = session.get(ReportRow, report_id)
            assert row is not None
            row.files, row.status = sorted(files), KEPT

    def failed(self, report_id: int) -> None:
        with Session(self.engine) as session, session.begin():
            row = session.get(ReportRow, report_id)
            if row is not None:
                row.status = FAILED

    def record_sent(
        self,
        report_id: int,
        sent: list[dict[str, Any]],
        retry_at: dt.datetime | None = None,
        sending: dict[str, Any] | None = None,
    ) -> None:
        """What was sent to whom, and when the next retry is due (None: nothing left to retry)."""
        with Session(self.engine) as session, session.begin():
            row = session.get(ReportRow, report_id)
            if row is not None:
                row.sent, row.retry_at = sent, retry_at
                if sending is not None:
                    row.sending = sending

    def due(self, now: dt.datetime, limit: int = 50) -> list[tuple[int, dt.datetime]]:
        """The reports with a retry due by `now`, earliest first: (id, the retry time seen)."""
        query = (
            select(ReportRow.id, ReportRow.retry_at)
            .where(ReportRow.retry_at.is_not(None), ReportRow.retry_at <= now)
            .order_by(ReportRow.retry_at, ReportRow.id)
            .limit(limit)
        )
        with Session(self.engine) as session:
            return [(i, at) for i, at in session.execute(query) if at is not None]

    def take(self, report_id: int, seen: dt.datetime, until: dt.datetime) -> bool:
        """Hold a due retry until `until` (a lease: a process that dies while sending leaves it
        due again then); False when another process took it first (its time is no longer `seen`)."""
        with Session(self.engine) as session, session.begin():
            result = session.execute(
                update(ReportRow)
                .where(ReportRow.id == report_id, ReportRow.retry_at == seen)
                .values(retry_at=until)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def list(self, limit: int = 100, before: int | None = None) -> list[KeptReport]:
        """Newest first."""
        query = select(ReportRow).order_by(ReportRow.id.desc()).limit(limit)
        if before is not None:
            query = query.where(ReportRow.id < before)
        with Session(self.engine) as session:
            return [_record(r) for r in session.scalars(query)]

    def get(self, report_id: int) -> KeptReport | None:
        with Session(self.engine) as session:
            row = session.get(ReportRow, report_id)
            return _record(row) if row is not None else None

    def path(self, report: KeptReport, name: str) -> Path | None:
        """A kept file's path; None when the report has no such file."""
        if self.directory is None or name not in report.files or not FILE_RE.fullmatch(name):
            return None
        found = self.directory / str(report.id) / name
        return found if found.is_file() else None
