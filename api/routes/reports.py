"""`/api/v1/reports/{kind}`: a report made on demand, as an HTML page, a PDF, a zip of its CSV
tables or one CSV table; `/api/v1/reports` and `/api/v1/reports/{report_id}/{file}`: the reports
the schedule made and kept.

Operator and up, as the delivery history: reports name who acknowledged what and which
receivers were told (docs/reports.md).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Final
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Resolver, State
from api.influx import InfluxError
from api.models import Problem
from api.reports.kinds import KINDS
from api.reports.model import Language, PeriodKind
from api.reports.periods import PeriodError, choose
from api.reports.service import MEDIA_TYPES, Format, ReportService, UnknownTableError

router = APIRouter(tags=["reports"])

OperatorOrUp = Resolver
NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"
TABLE_PATTERN: Final = r"^[a-z0-9][a-z0-9-]{0,190}\.csv$"
FILE_PATTERN: Final = r"^[a-z0-9][a-z0-9._-]{0,190}$"
# Where the page's stylesheet and icon are served (api/web mounts the static files).
STATIC: Final = "/static/web"
EARLIEST: Final = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST: Final = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
REPORT_CONTENT: Final = {
    "text/html": {"schema": {"type": "string"}},
    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
    "application/zip": {"schema": {"type": "string", "format": "binary"}},
    "text/csv": {"schema": {"type": "string"}},
}
FORMAT_LABELS: Final = {"pdf": "PDF", "zip": "CSV (zip)"}


def _service(app: State) -> ReportService:
    if app.reports is None:
        raise HTTPException(503, "reports are not configured")
    return app.reports


def _format(fmt: Format | None, request: Request) -> Format:
    """`format` wins; else the Accept header (a PDF or a zip when asked for first), else HTML."""
    if fmt is not None:
        return fmt
    accept = request.headers.get("accept", "")
    for media, found in (("application/pdf", "pdf"), ("application/zip", "zip")):
        if media in accept and "text/html" not in accept.split(media)[0]:
            return found  # type: ignore[return-value]
    return "html"


@router.get(
    "/api/v1/reports/{kind}",
    response_class=Response,
    responses={
        200: {"content": REPORT_CONTENT, "description": "the report in the format asked for"},
        400: {
            "model": Problem,
            "description": "a period that cannot be built (custom without start and end, end before start, longer than 92 days), or format=csv without table",
        },
        404: {"model": Problem, "description": "no such report kind, building or table"},
        502: {"model": Problem, "description": "InfluxDB answered with an error"},
        503: {"model": Problem, "description": "InfluxDB not reachable"},
    },
)
async def report(
    kind: Annotated[str, Path(json_schema_extra={"enum": list(KINDS)}, examples=["aed-readiness"])],
    request: Request,
    _: OperatorOrUp,
    app: State,
    period: Annotated[
        PeriodKind, Query(description="day, week (Monday to Monday), month or custom; local time")
    ] = "month",
    start: Annotated[
        dt.datetime | None,
        Query(
            description="custom: the start; day, week, month: a moment inside the one wanted (default: the last complete one)"
        ),
    ] = None,
    end: Annotated[
        dt.datetime | None, Query(description="custom only: the end (at most 92 days after start)")
    ] = None,
    building: Annotated[
        str | None, Query(pattern=NAME_PATTERN, description="one building; default: the whole area")
    ] = None,
    lang: Annotated[Language, Query(description="language of the texts")] = "zh",
    format: Annotated[
        Format | None,
        Query(
            description="html, pdf, zip (every table as CSV) or csv (one table); default by Accept, else html"
        ),
    ] = None,
    table: Annotated[
        str | None,
        Query(
            pattern=TABLE_PATTERN,
            description="format=csv: the table's file name, as the page and the zip name it",
        ),
    ] = None,
) -> Response:
    service = _service(app)
    if kind not in KINDS:
        raise HTTPException(404, f"no report kind {kind[:64]!r}; known: {', '.join(KINDS)}")
    if building is not None and building not in service.registry.buildings:
        raise HTTPException(404, f"no building {building!r} in the registry")
    for moment in (start, end):
        if moment is not None and (moment.tzinfo is None or not EARLIEST <= moment <= LATEST):
            raise HTTPException(400, "start and end need a UTC offset and must lie between 2000 and 2200")
    fmt = _format(format, request)
    if fmt == "csv" and table is None:
        raise HTTPException(
            400, "format=csv needs table (a file name from the page or the zip); format=zip gives them all"
        )
    try:
        chosen = choose(period, service.registry.timezone, app.clock(), start, end)
    except PeriodError as error:
        raise HTTPException(400, str(error)) from error
    try:
        made = await asyncio.to_thread(service.make, kind, chosen, building)
    except InfluxError as error:
        raise HTTPException(503 if error.unreachable else 502, f"InfluxDB: {str(error)[:200]}") from error
    query = {k: v for k, v in request.query_params.items() if k not in ("format", "table")}

    def link(**extra: str) -> str:
        return f"{request.url.path}?{urlencode({**query, **extra})}"

    other = {label: link(format=name) for name, label in FORMAT_LABELS.items()}
    other["English" if lang == "zh" else "中文"] = link(lang="en" if lang == "zh" else "zh", format="html")
    try:
        body = await asyncio.to_thread(
            service.render, made, fmt, lang, table=table, static=STATIC,
            csv_url=lambda name: link(format="csv", table=name), other_formats=other,
        )  # fmt: skip
    except UnknownTableError as error:
        raise HTTPException(404, f"this report has no table {table!r}") from error
    headers = {}
    if fmt != "html":
        name = table if fmt == "csv" else f"{service.file_stem(made, lang)}.{fmt}"
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


class SentPublic(BaseModel):
    """One receiver's sending: delivered, to be tried again, or given up (docs/reports.md)."""

    receiver: str
    ok: bool = Field(description="the receiver got the report")
    error: str | None = Field(description="the last attempt's failure, in words; null once delivered")
    attempts: int = Field(1, description="attempts made so far, the first sending included")
    last_attempt_at: dt.datetime | None = Field(None, description="when the last attempt was made")
    next_attempt_at: dt.datetime | None = Field(
        None, description="when the next attempt is due; null when delivered or given up"
    )
    gave_up: bool = Field(
        False,
        description="no further attempt: the retries ran out or the receiver refused the message (a 4xx)",
    )


class KeptReportPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int
    kind: str
    period_kind: str
    period_start: dt.datetime
    period_end: dt.datetime
    building: str | None
    lang: str
    created_at: dt.datetime
    status: str = Field(description="making, kept or failed")
    files: list[str] = Field(description="download each at /api/v1/reports/{id}/{file}")
    sent: list[SentPublic]
    retry_at: dt.datetime | None = Field(
        None, description="when the earliest receiver still failing is tried again; null when none is"
    )


class KeptReportPage(BaseModel):
    items: list[KeptReportPublic]
    next_cursor: str | None


@router.get("/api/v1/reports", response_model=KeptReportPage)
def list_reports(
    _: OperatorOrUp,
    app: State,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,18}$", description="`next_cursor` of the page before")
    ] = None,
) -> KeptReportPage:
    """The reports the schedule made and kept, newest first."""
    if app.archive is None:
        return KeptReportPage(items=[], next_cursor=None)
    found = app.archive.list(limit + 1, int(cursor) if cursor else None)
    items = [KeptReportPublic.model_validate(r, from_attributes=True) for r in found[:limit]]
    return KeptReportPage(items=items, next_cursor=str(items[-1].id) if len(found) > limit else None)


@router.get(
    "/api/v1/reports/{report_id}/{file}",
    response_class=Response,
    responses={
        200: {
            "content": {k: v for k, v in REPORT_CONTENT.items() if k != "text/csv"},
            "description": "the kept file",
        },
        404: {"model": Problem, "description": "no such report, or no such file of it"},
    },
)
def kept_file(
    report_id: Annotated[int, Path(ge=1, le=2**62)],
    file: Annotated[
        str, Path(pattern=FILE_PATTERN, examples=["aed-readiness-darong-2026-10-01-month-zh.pdf"])
    ],
    _: OperatorOrUp,
    app: State,
) -> Response:
    kept = app.archive.get(report_id) if app.archive is not None else None
    found = app.archive.path(kept, file) if app.archive is not None and kept is not None else None
    if found is None:
        raise HTTPException(404, f"report {report_id} has no file {file!r}")
    media = MEDIA_TYPES.get(found.suffix.lstrip("."), "application/octet-stream")
    return FileResponse(found, media_type=media, filename=file)
