"""The AED report's pictures: readiness per AED (bars), when each AED was not ready and why (a
timeline), and the response times of cabinet openings (bars). Drawn with matplotlib's Agg
backend (no display); labels inside the pictures are device names, times and units, the same in
both languages, and the titles and text alternatives are given in both."""

# ruff: noqa: RUF001  (Chinese texts use Chinese punctuation; the dash is a typographic one)

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from api.reports.model import Chart, Period, Table, Text

if TYPE_CHECKING:
    from api.reports.aed import AedFigures

# The colours of the causes (colour-blind safe, Okabe-Ito), in legend order.
CAUSE_COLOURS: Final = {
    "aed-fault": "#D55E00",
    "aed-offline": "#999999",
    "aed-cabinet-open": "#CC79A7",
    "aed-in-use": "#E69F00",
    "aed-battery-low": "#0072B2",
    "pads-expired": "#009E73",
}
# A chart shows at most this many rows (the worst first); the table holds them all.
MAX_ROWS: Final = 40
WIDTH_IN: Final = 7.5  # fits an A4 page's text width at 100 %


def png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    return buffer.getvalue()


def _days(moment: dt.datetime) -> float:
    """matplotlib's date number: days since its epoch, 1970-01-01 UTC."""
    return float(moment.timestamp()) / 86400


def _height(rows: int) -> float:
    return min(9.0, 1.2 + 0.22 * max(rows, 1))


def readiness_bars(per_aed: Table) -> Chart:
    rows = sorted(per_aed.rows, key=lambda r: float(r[3] or 0))[:MAX_ROWS]
    names = [f"{r[0]}/{r[1]}" for r in rows]
    values = [float(r[3] or 0) for r in rows]
    figure = Figure(figsize=(WIDTH_IN, _height(len(rows))))
    ax = figure.subplots()
    ax.barh(names[::-1], values[::-1], color="#0072B2")
    low = min(values, default=100.0)
    ax.set_xlim(max(0.0, min(90.0, low - 1)), 100.0)
    ax.set_xlabel("%")
    ax.grid(axis="x", alpha=0.3)
    for n, v in enumerate(values[::-1]):
        ax.text(v, n, f" {v:.2f}", va="center", fontsize=7)
    worst = ", ".join(f"{n} {v:.2f}%" for n, v in zip(names[:5], values[:5], strict=False))
    return Chart(
        "readiness-bars",
        Text("各台 AED 就绪率（最差在上）", "Readiness per AED (worst first)"),
        png(figure),
        Text(
            f"条形图：{len(rows)} 台 AED 的就绪率。最低：{worst}",
            f"Bar chart of {len(rows)} AEDs' readiness. Lowest: {worst}",
        ),
    )


def not_ready_timeline(aeds: Sequence[AedFigures], period: Period, zone: ZoneInfo) -> Chart:
    shown = sorted((a for a in aeds if a.not_ready), key=lambda a: -a.not_ready_s())[:MAX_ROWS]
    figure = Figure(figsize=(WIDTH_IN, _height(len(shown))))
    ax = figure.subplots()
    labels = [f"{a.building}/{a.device}" for a in shown]
    used: set[str] = set()
    for row, aed in enumerate(shown[::-1]):
        for cause, (a, b) in aed.not_ready:
            used.add(cause)
            ax.broken_barh(
                [(_days(a), max(_days(b) - _days(a), 1e-4))],
                (row - 0.35, 0.7),
                color=CAUSE_COLOURS.get(cause, "#000000"),
            )
    ax.set_yticks(range(len(shown)), labels[::-1])
    ax.set_xlim(_days(period.start), _days(period.end))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d", tz=zone))  # type: ignore[no-untyped-call]
    ax.grid(axis="x", alpha=0.3)
    if not shown:
        ax.text(0.5, 0.5, "100 %", transform=ax.transAxes, ha="center", va="center", fontsize=14)
        ax.set_yticks([])
    handles = [Patch(color=CAUSE_COLOURS[c], label=c) for c in CAUSE_COLOURS if c in used]
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, fontsize=7)
    desc_en = (
        "; ".join(f"{a.building}/{a.device} {a.not_ready_s() / 60:.0f} min" for a in shown[:5]) or "none"
    )
    desc_zh = "；".join(f"{a.building}/{a.device} {a.not_ready_s() / 60:.0f} 分钟" for a in shown[:5]) or "无"
    return Chart(
        "not-ready-timeline",
        Text("未就绪时段（按原因着色）", "When AEDs were not ready, by cause"),
        png(figure),
        Text(
            f"时间线：{len(shown)} 台 AED 曾未就绪。最长：{desc_zh}",
            f"Timeline: {len(shown)} AEDs were not ready at some time. Longest: {desc_en}",
        ),
    )


def response_times(openings: Table) -> Chart:
    keys = [c.key for c in openings.columns]
    at, ack, site = keys.index("opened"), keys.index("ack_s"), keys.index("on_site_s")
    rows = openings.rows[-MAX_ROWS:]
    labels = [f"{r[1]} {str(r[at])[5:16]}" for r in rows]
    figure = Figure(figsize=(WIDTH_IN, _height(len(rows))))
    ax = figure.subplots()
    positions = range(len(rows))
    ax.barh(
        [p + 0.2 for p in positions], [float(r[ack] or 0) for r in rows], 0.4, color="#0072B2", label="ack"
    )
    ax.barh(
        [p - 0.2 for p in positions],
        [float(r[site] or 0) for r in rows],
        0.4,
        color="#E69F00",
        label="on site",
    )
    ax.set_yticks(list(positions), labels)
    ax.invert_yaxis()
    ax.set_xlabel("s")
    ax.legend(fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    acks = [float(r[ack] or 0) for r in rows if r[ack] is not None]
    worst = max(acks, default=0.0)
    return Chart(
        "response-times",
        Text("开箱后确认与到场用时", "Time to acknowledge and to reach the cabinet"),
        png(figure),
        Text(
            f"条形图：{len(rows)} 次开箱的确认用时与到场用时，最长确认 {worst:.0f} 秒",
            f"Bar chart of {len(rows)} openings: time to acknowledge and to be on site; slowest acknowledgement {worst:.0f} s",
        ),
    )
