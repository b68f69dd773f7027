# ruff: noqa: RUF001  (Chinese texts use full-width punctuation on purpose)
"""The pictures of the reports: heat map, grouped bars, a line against its typical day, a timeline.

Each helper draws one `Chart` (PNG, optionally SVG) of a fixed pixel size, whatever the data, so a
page and an A4 sheet can reserve its room. A chart is one picture for both languages: the texts
drawn in it (axis names, legends, weekdays) are given as `Text` and drawn as "zh / en" when a CJK
font is installed (Debian's fonts-noto-cjk, in the Makefile's SYSDEPS), in English alone when none
is, so a missing font costs the Chinese labels, never the chart. The title is not drawn: the page
and the PDF print `Chart.title` in the reader's language above it. The alt text states the key
figure (the highest cell, the peak, the longest interval) computed here from the same values.

matplotlib is used through `Figure` and the Agg canvas, never pyplot's global figures. Its
rcParams are global, so the fonts are set in an `rc_context` held under a lock: charts are drawn
one at a time, which costs nothing on a CPU-bound job that holds the GIL anyway.
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Final
from zoneinfo import ZoneInfo

import matplotlib as mpl
from matplotlib import dates as mdates
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from api.reports.model import Chart, Text

__all__ = [
    "DPI",
    "HEIGHT_PX",
    "WEEKDAYS",
    "WIDTH_PX",
    "BarSeries",
    "Interval",
    "TimelineRow",
    "bar_chart",
    "cjk_font",
    "heat_map",
    "line_chart",
    "timeline",
]

# 800 x 400 px at 100 dpi: the width of an A4 text column at ~140 dpi, sharp enough on a page.
WIDTH_PX: Final = 800
HEIGHT_PX: Final = 400
DPI: Final = 100
# Fonts tried in order for the Chinese texts; the first installed one is used.
CJK_FONTS: Final = ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Droid Sans Fallback")
LATIN_FONT: Final = "DejaVu Sans"
WEEKDAYS: Final = (
    Text("周一", "Mon"),
    Text("周二", "Tue"),
    Text("周三", "Wed"),
    Text("周四", "Thu"),
    Text("周五", "Fri"),
    Text("周六", "Sat"),
    Text("周日", "Sun"),
)
# Colour-blind safe (Okabe-Ito), in the order series and interval kinds take them.
PALETTE: Final = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
TYPICAL_COLOUR: Final = "#7f7f7f"

_LOCK = threading.Lock()


@cache
def cjk_font() -> str | None:
    """The name of the installed CJK font the charts use, or None when there is none."""
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _label(text: Text) -> str:
    """What a chart draws for a text: both languages when it can draw Chinese, English otherwise."""
    if cjk_font() is None or text.zh == text.en:
        return text.en
    return f"{text.zh} / {text.en}"


def _rc() -> dict[Any, Any]:
    cjk = cjk_font()
    return {
        # Latin glyphs from DejaVu, the rest from the CJK font (matplotlib falls back per glyph).
        "font.family": [LATIN_FONT, cjk] if cjk else [LATIN_FONT],
        "font.size": 9,
        "svg.hashsalt": "louyu",  # stable ids: the same chart gives the same SVG
        "axes.unicode_minus": False,
    }


def _figure() -> Figure:
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _render(key: str, title: Text, alt: Text, figure: Figure, svg: bool) -> Chart:
    png = io.BytesIO()
    # No bbox_inches="tight": it would change the size with the labels. No metadata: the same
    # figures give the same bytes.
    figure.savefig(png, format="png", dpi=DPI, metadata={"Software": None})
    svg_text = None
    if svg:
        out = io.StringIO()
        figure.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
        svg_text = out.getvalue()
    return Chart(key=key, title=title, png=png.getvalue(), alt=alt, svg=svg_text)


def _num(moment: datetime) -> float:
    """matplotlib's date number of an aware datetime."""
    return float(mdates.date2num(moment))  # type: ignore[no-untyped-call]


def _time_axis(axes: Axes, zone: ZoneInfo) -> None:
    """Dates on the x axis in the site's time zone, as few and as short as they can be."""
    locator = mdates.AutoDateLocator(tz=zone, maxticks=10)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=zone))  # type: ignore[no-untyped-call]


def _number(value: float, unit: str) -> str:
    text = f"{value:.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.1f}"
    return f"{text}{unit}" if unit in ("%", "") else f"{text} {unit}"


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


# --- heat map -----------------------------------------------------------------------------------


def heat_map(
    key: str,
    title: Text,
    subject: Text,
    values: Sequence[Sequence[float | None]],
    *,
    unit: str = "",
    vmin: float | None = 0.0,
    vmax: float | None = None,
    svg: bool = False,
) -> Chart:
    """Weekday by hour: `values[weekday][hour]`, Monday first, 7 x 24, None where nothing was
    measured (drawn grey). `subject` names what the cells hold ("occupancy of the garage"); the
    alt text states the highest and lowest cell with their weekday and hour."""
    if len(values) != 7 or any(len(row) != 24 for row in values):
        raise ValueError("a heat map takes 7 rows (Monday first) of 24 hours")
    grid = [[_nan(v) for v in row] for row in values]
    cells = [(v, d, h) for d, row in enumerate(grid) for h, v in enumerate(row) if not math.isnan(v)]
    with _LOCK, mpl.rc_context(_rc()):
        figure = _figure()
        axes = figure.add_subplot()
        cmap = mpl.colormaps["viridis"].with_extremes(bad="#d9d9d9")
        image = axes.imshow(grid, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        axes.set_yticks(range(7), [_label(day) for day in WEEKDAYS])
        axes.set_xticks(range(24), [f"{h:02d}" for h in range(24)])
        axes.set_xlabel(_label(Text("时（本地时间）", "hour (local time)")))
        colourbar = figure.colorbar(image, ax=axes, pad=0.01)
        colourbar.set_label(_label(subject) + (f" ({unit})" if unit else ""))
        if not cells:
            axes.text(11.5, 3, _label(Text("无数据", "no data")), ha="center", va="center")
        chart = _render(key, title, _heat_alt(subject, cells, unit), figure, svg)
    chart.values = [list(row) for row in values]
    return chart


def _heat_alt(subject: Text, cells: list[tuple[float, int, int]], unit: str) -> Text:
    if not cells:
        return Text(f"{subject.zh}热力图：无数据。", f"Heat map of {subject.en}: no data.")
    high = max(cells, key=lambda c: c[0])
    low = min(cells, key=lambda c: c[0])
    return Text(
        f"{subject.zh}按星期和小时的热力图：最高 {_number(high[0], unit)}（{WEEKDAYS[high[1]].zh} "
        f"{high[2]:02d}:00），最低 {_number(low[0], unit)}（{WEEKDAYS[low[1]].zh} {low[2]:02d}:00）。",
        f"Heat map of {subject.en} by weekday and hour: highest {_number(high[0], unit)} "
        f"({WEEKDAYS[high[1]].en} {high[2]:02d}:00), lowest {_number(low[0], unit)} "
        f"({WEEKDAYS[low[1]].en} {low[2]:02d}:00).",
    )


# --- grouped bars -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BarSeries:
    """One bar per category, drawn side by side with the other series'."""

    label: Text
    values: Sequence[float | None]


def bar_chart(
    key: str,
    title: Text,
    subject: Text,
    categories: Sequence[str | Text],
    series: Sequence[BarSeries],
    *,
    unit: str = "",
    ymax: float | None = None,
    svg: bool = False,
) -> Chart:
    """Grouped bars: for each category, one bar per series. The alt text states the highest bar
    (series and category) and, for one series, the lowest."""
    if not series or any(len(s.values) != len(categories) for s in series):
        raise ValueError("each series needs one value per category")
    names = [c if isinstance(c, str) else _label(c) for c in categories]
    with _LOCK, mpl.rc_context(_rc()):
        figure = _figure()
        axes = figure.add_subplot()
        width = 0.8 / len(series)
        for index, one in enumerate(series):
            offsets = [i - 0.4 + width * (index + 0.5) for i in range(len(categories))]
            axes.bar(
                offsets,
                [0.0 if v is None else float(v) for v in one.values],
                width=width,
                label=_label(one.label),
                color=PALETTE[index % len(PALETTE)],
            )
        axes.set_xticks(range(len(categories)), names, rotation=30 if len(categories) > 8 else 0)
        axes.set_ylabel(_label(subject) + (f" ({unit})" if unit else ""))
        if ymax is not None:
            axes.set_ylim(0, ymax)
        axes.grid(axis="y", alpha=0.3)
        if len(series) > 1:
            axes.legend(loc="best")
        return _render(key, title, _bar_alt(subject, categories, series, unit), figure, svg)


def _bar_alt(subject: Text, categories: Sequence[str | Text], series: Sequence[BarSeries], unit: str) -> Text:
    bars = [
        (float(v), s, i)
        for s in series
        for i, v in enumerate(s.values)
        if v is not None and not math.isnan(v)
    ]
    if not bars:
        return Text(f"{subject.zh}柱状图：无数据。", f"Bar chart of {subject.en}: no data.")

    def name(index: int, lang: str) -> str:
        category = categories[index]
        return category if isinstance(category, str) else (category.zh if lang == "zh" else category.en)

    high = max(bars, key=lambda b: b[0])
    zh = f"{subject.zh}柱状图：最高 {_number(high[0], unit)}（{name(high[2], 'zh')}"
    en = f"Bar chart of {subject.en}: highest {_number(high[0], unit)} ({name(high[2], 'en')}"
    if len(series) > 1:
        zh += f"，{high[1].label.zh}"
        en += f", {high[1].label.en}"
    zh += "）"
    en += ")"
    if len(series) == 1 and len(bars) > 1:
        low = min(bars, key=lambda b: b[0])
        zh += f"，最低 {_number(low[0], unit)}（{name(low[2], 'zh')}）"
        en += f", lowest {_number(low[0], unit)} ({name(low[2], 'en')})"
    return Text(zh + "。", en + ".")


# --- line over time -----------------------------------------------------------------------------


def line_chart(
    key: str,
    title: Text,
    subject: Text,
    times: Sequence[datetime],
    values: Sequence[float | None],
    *,
    typical: Sequence[float | None] | None = None,
    tz: ZoneInfo | None = None,
    unit: str = "",
    ymax: float | None = None,
    svg: bool = False,
) -> Chart:
    """A measure over time (aware datetimes), drawn in `tz` (UTC by default), with the typical
    value at the same times as a dashed grey line when given. Gaps (None) break the line. The
    alt text states the peak and its time and, with a typical line, the typical value then."""
    if len(values) != len(times) or (typical is not None and len(typical) != len(times)):
        raise ValueError("values and typical need one value per time")
    zone = tz or ZoneInfo("UTC")
    with _LOCK, mpl.rc_context(_rc()):
        figure = _figure()
        axes = figure.add_subplot()
        x = [_num(t) for t in times]
        axes.plot(x, [_nan(v) for v in values], color=PALETTE[0], linewidth=1.6, label=_label(subject))
        if typical is not None:
            axes.plot(
                x,
                [_nan(v) for v in typical],
                color=TYPICAL_COLOUR,
                linestyle="--",
                linewidth=1.2,
                label=_label(Text("典型日", "typical day")),
            )
            axes.legend(loc="best")
        _time_axis(axes, zone)
        axes.set_ylabel(_label(subject) + (f" ({unit})" if unit else ""))
        axes.set_ylim(bottom=0, top=ymax)
        axes.grid(alpha=0.3)
        return _render(key, title, _line_alt(subject, times, values, typical, zone, unit), figure, svg)


def _line_alt(
    subject: Text,
    times: Sequence[datetime],
    values: Sequence[float | None],
    typical: Sequence[float | None] | None,
    zone: ZoneInfo,
    unit: str,
) -> Text:
    points = [(float(v), i) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
    if not points:
        return Text(f"{subject.zh}折线图：无数据。", f"Line chart of {subject.en}: no data.")
    peak, index = max(points, key=lambda p: (p[0], -p[1]))
    when = times[index].astimezone(zone).strftime("%Y-%m-%d %H:%M")
    zh = f"{subject.zh}折线图：峰值 {_number(peak, unit)}（{when}）"
    en = f"Line chart of {subject.en}: peak {_number(peak, unit)} at {when}"
    usual = typical[index] if typical is not None else None
    if usual is not None and not math.isnan(usual):
        zh += f"，典型日同一时刻为 {_number(float(usual), unit)}"
        en += f", against {_number(float(usual), unit)} on a typical day"
    return Text(zh + "。", en + ".")


# --- timeline -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interval:
    """[start, end) of one kind ("outage", "fault", "open" ...); the kinds get colours in order."""

    start: datetime
    end: datetime
    kind: Text


@dataclass(frozen=True, slots=True)
class TimelineRow:
    label: str | Text
    intervals: Sequence[Interval]


def timeline(
    key: str,
    title: Text,
    subject: Text,
    rows: Sequence[TimelineRow],
    start: datetime,
    end: datetime,
    *,
    tz: ZoneInfo | None = None,
    svg: bool = False,
) -> Chart:
    """Intervals per row between `start` and `end` (a Gantt chart: outages per device, the steps
    of an incident), clipped to that range. The alt text states how many intervals, their total
    duration and the longest, with its row. Rows beyond what the fixed height shows legibly
    (about 20) are still drawn, thinner; the table next to the chart lists them all."""
    if end <= start:
        raise ValueError("the timeline must end after it starts")
    zone = tz or ZoneInfo("UTC")
    kinds: list[Text] = []
    for row in rows:
        for interval in row.intervals:
            if interval.kind not in kinds:
                kinds.append(interval.kind)
    clipped = [
        (
            r,
            [
                (max(i.start, start), min(i.end, end), i.kind)
                for i in row.intervals
                if i.end > start and i.start < end
            ],
        )
        for r, row in enumerate(rows)
    ]
    with _LOCK, mpl.rc_context(_rc()):
        figure = _figure()
        axes = figure.add_subplot()
        for r, intervals in clipped:
            for kind in kinds:
                spans = [(_num(a), _num(b) - _num(a)) for a, b, k in intervals if k == kind]
                if spans:
                    axes.broken_barh(spans, (r - 0.4, 0.8), color=PALETTE[kinds.index(kind) % len(PALETTE)])
        axes.set_ylim(max(len(rows), 1) - 0.5, -0.5)
        axes.set_yticks(
            range(len(rows)), [row.label if isinstance(row.label, str) else _label(row.label) for row in rows]
        )
        axes.set_xlim(_num(start), _num(end))
        _time_axis(axes, zone)
        axes.grid(axis="x", alpha=0.3)
        if kinds:
            handles = [Patch(color=PALETTE[i % len(PALETTE)], label=_label(k)) for i, k in enumerate(kinds)]
            axes.legend(handles=handles, loc="upper right")
        else:
            axes.text(
                0.5, 0.5, _label(Text("无记录", "nothing recorded")), ha="center", transform=axes.transAxes
            )
        return _render(key, title, _timeline_alt(subject, rows, clipped), figure, svg)


def _duration(delta: timedelta, lang: str) -> str:
    minutes = round(delta.total_seconds() / 60)
    hours, minutes = divmod(minutes, 60)
    if lang == "zh":
        return f"{hours} 小时 {minutes} 分钟" if hours else f"{minutes} 分钟"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _timeline_alt(
    subject: Text,
    rows: Sequence[TimelineRow],
    clipped: list[tuple[int, list[tuple[datetime, datetime, Text]]]],
) -> Text:
    spans = [(b - a, r) for r, intervals in clipped for a, b, _ in intervals]
    if not spans:
        return Text(f"{subject.zh}时间线：期间无记录。", f"Timeline of {subject.en}: nothing in the period.")
    total = sum((d for d, _ in spans), timedelta())
    longest, row = max(spans, key=lambda s: s[0])
    label = rows[row].label
    zh_row = label if isinstance(label, str) else label.zh
    en_row = label if isinstance(label, str) else label.en
    return Text(
        f"{subject.zh}时间线：{len(spans)} 段，共 {_duration(total, 'zh')}，"
        f"最长 {_duration(longest, 'zh')}（{zh_row}）。",
        f"Timeline of {subject.en}: {len(spans)} intervals, {_duration(total, 'en')} in all, "
        f"the longest {_duration(longest, 'en')} ({en_row}).",
    )
