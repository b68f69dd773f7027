"""The AED report's pictures, drawn with the shared helpers of `api/reports/charts.py`: readiness
per AED (bars, worst first), when each AED was not ready and why (a timeline), and the response
times of the cabinet openings (bars)."""

# ruff: noqa: RUF001  (Chinese texts use Chinese punctuation)

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

from api.reports import charts
from api.reports.model import Chart, Period, Table, Text

if TYPE_CHECKING:
    from api.reports.aed import AedFigures

# A chart shows at most this many AEDs (the worst first); the table holds them all.
MAX_ROWS: Final = 20


def _column(table: Table, key: str) -> int:
    return [c.key for c in table.columns].index(key)


def _seconds(cell: object) -> float | None:
    return float(cell) if isinstance(cell, int | float) else None


def readiness_bars(per_aed: Table) -> Chart:
    device, ready = _column(per_aed, "device"), _column(per_aed, "ready_pct")
    rows = sorted(per_aed.rows, key=lambda r: float(r[ready] or 0))[:MAX_ROWS]
    return charts.bar_chart(
        "readiness-bars",
        Text(f"就绪率最低的 {len(rows)} 台 AED", f"The {len(rows)} least ready AEDs"),
        Text("就绪率", "readiness"),
        [str(r[device]) for r in rows],
        [charts.BarSeries(Text("就绪率", "ready"), [float(r[ready] or 0) for r in rows])],
        unit="%",
        ymax=100.0,
    )


def not_ready_timeline(
    aeds: Sequence[AedFigures], period: Period, zone: ZoneInfo, causes: dict[str, Text]
) -> Chart:
    shown = sorted((a for a in aeds if a.not_ready), key=lambda a: -a.not_ready_s())[:MAX_ROWS]
    rows = [
        charts.TimelineRow(a.device, [charts.Interval(s, e, causes[cause]) for cause, (s, e) in a.not_ready])
        for a in shown
    ]
    return charts.timeline(
        "not-ready-timeline",
        Text("未就绪时段（按原因着色）", "When AEDs were not ready, by cause"),
        Text("AED 未就绪", "AEDs not ready"),
        rows,
        period.start,
        period.end,
        tz=zone,
    )


def response_times(openings: Table) -> Chart:
    device, at = _column(openings, "device"), _column(openings, "opened")
    ack, site = _column(openings, "ack_s"), _column(openings, "on_site_s")
    rows = openings.rows[-MAX_ROWS:]
    return charts.bar_chart(
        "response-times",
        Text("开箱后确认与到场用时", "Time to acknowledge and to reach the cabinet"),
        Text("开箱后用时", "time after opening"),
        [f"{r[device]} {str(r[at])[5:16]}" for r in rows],
        [
            charts.BarSeries(Text("确认", "acknowledged"), [_seconds(r[ack]) for r in rows]),
            charts.BarSeries(Text("到场", "on site"), [_seconds(r[site]) for r in rows]),
        ],
        unit="s",
    )
