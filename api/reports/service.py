"""Making a report on demand: choose the period, build the sections, render the format asked for.

Shared by the API's routes and the schedule (`api/reports/schedule.py`), so that a report made
at 01:00 on the first of the month and the same report asked for at noon are the same figures.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from api.influx import InfluxQueryClient
from api.reports import render_csv, render_html, render_pdf
from api.reports.context import ReportContext
from api.reports.kinds import KINDS, build_report
from api.reports.model import Language, Period, Report, Scope
from collector.dead_letters import DeadLetters
from collector.registry import Registry
from rules.config import RuleSet

Format = Literal["html", "pdf", "zip", "csv"]
MEDIA_TYPES: Final[dict[str, str]] = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "zip": "application/zip",
    "csv": "text/csv; charset=utf-8",
}


class UnknownTableError(LookupError):
    """The report has no table of that file name."""


@dataclass
class ReportService:
    registry: Registry
    rules: RuleSet
    engine: Engine
    influx: InfluxQueryClient | None
    clock: Callable[[], dt.datetime]
    dead_letters: DeadLetters | None = None

    def __post_init__(self) -> None:
        # One report at a time per process: a district month keeps a core busy for a while, and
        # the API's alert path must keep the other.
        self._busy = threading.Lock()

    def make(self, kind: str, period: Period, building: str | None = None) -> Report:
        """Build a report on this thread with an event loop and an InfluxDB client of its own:
        call it with `asyncio.to_thread` from the API, never on the API's loop (SQL and drawing
        block)."""
        with self._busy:
            return asyncio.run(self._make(kind, period, building))

    async def _make(self, kind: str, period: Period, building: str | None) -> Report:
        client = self.influx.copy() if self.influx is not None else None
        if client is not None:
            await client.open()
        try:
            return await self.build(kind, period, building, client)
        finally:
            if client is not None:
                await client.close()

    async def build(
        self, kind: str, period: Period, building: str | None = None, influx: InfluxQueryClient | None = None
    ) -> Report:
        context = ReportContext(
            period=period,
            scope=Scope(self.registry.area, building),
            registry=self.registry,
            rules=self.rules,
            engine=self.engine,
            influx=influx,
            now=self.clock(),
            dead_letters=self.dead_letters,
        )
        return await build_report(KINDS[kind], context)

    def building_name(self, report: Report, lang: Language) -> str | None:
        building = report.scope.building
        info = self.registry.buildings.get(building) if building else None
        if info is None:
            return None
        return (info.name_en or info.name) if lang == "en" else info.name

    def render(
        self,
        report: Report,
        fmt: Format,
        lang: Language,
        *,
        table: str | None = None,
        static: str = "",
        csv_url: Callable[[str], str] = lambda name: name,
        other_formats: dict[str, str] | None = None,
    ) -> bytes:
        timezone = self.registry.timezone
        name = self.building_name(report, lang)
        if fmt == "pdf":
            return render_pdf.render(report, lang, timezone=timezone, building_name=name)
        if fmt == "zip":
            return render_csv.render_zip(report)
        if fmt == "csv":
            found = render_csv.find(report, table or "")
            if found is None:
                raise UnknownTableError(table)
            return found
        page = render_html.render(
            report, lang, timezone=timezone, static=static, csv_url=csv_url,
            other_formats=other_formats or {}, building_name=name,
        )  # fmt: skip
        return page.encode("utf-8")

    def file_stem(self, report: Report, lang: Language) -> str:
        """`aed-readiness-darong-2026-10-01-month-zh`: what a downloaded file is called (the
        period's first local day)."""
        scope = report.scope.building or report.scope.site
        start = report.period.start.astimezone(ZoneInfo(self.registry.timezone)).strftime("%Y-%m-%d")
        return f"{report.kind}-{scope}-{start}-{report.period.kind}-{lang}"
