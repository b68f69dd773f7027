# ruff: noqa: RUF001  (Chinese texts use full-width punctuation on purpose)
"""The report charts: real PNGs of a fixed size whose pixels show the data, alt texts that state the
key figure, and no missing glyph in the Chinese labels. The pictures go to test-artifacts/reports/."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from PIL import Image

from api.reports import charts
from api.reports.charts import BarSeries, Interval, TimelineRow
from api.reports.model import Chart, Text

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
SHANGHAI = ZoneInfo("Asia/Shanghai")
VIRIDIS_TOP = (253, 231, 37)  # the colour of vmax
VIRIDIS_BOTTOM = (68, 1, 84)  # the colour of vmin
MISSING_GREY = (217, 217, 217)


def _hex(colour: str) -> tuple[int, int, int]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def _image(chart: Chart, name: str) -> Image.Image:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}.png").write_bytes(chart.png)
    image = Image.open(io.BytesIO(chart.png))
    image.load()
    assert image.format == "PNG"
    assert image.size == (charts.WIDTH_PX, charts.HEIGHT_PX)
    return image.convert("RGB")


def _count(image: Image.Image, colour: tuple[int, int, int], tolerance: int = 6) -> int:
    """Pixels of about that colour."""
    pixels = np.asarray(image, dtype=np.int16)
    close = np.abs(pixels - np.array(colour, dtype=np.int16)) <= tolerance
    return int(close.all(axis=2).sum())


def _inked(image: Image.Image) -> float:
    """The share of not-white pixels in the middle of the picture, where the plot is."""
    width, height = image.size
    middle = image.crop((width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    pixels = np.asarray(middle)
    return float((pixels != 255).any(axis=2).mean())


def _no_missing_glyph(draw: Callable[[], Chart]) -> Chart:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chart = draw()
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    assert not missing, missing
    return chart


def _week(value: Callable[[int, int], float | None]) -> list[list[float | None]]:
    return [[value(day, hour) for hour in range(24)] for day in range(7)]


def test_heat_map_colours_the_cells_and_states_the_extremes() -> None:
    # Tuesday 09:00 is full (100 %), Sunday 03:00 empty (0 %), Saturday unmeasured, the rest 50 %.
    def value(day: int, hour: int) -> float | None:
        if day == 5:
            return None
        if (day, hour) == (1, 9):
            return 100.0
        if (day, hour) == (6, 3):
            return 0.0
        return 50.0

    chart = _no_missing_glyph(
        lambda: charts.heat_map(
            "garage-heat",
            Text("车库占用", "Garage occupancy"),
            Text("车库占用率", "garage occupancy"),
            _week(value),
            unit="%",
            vmax=100,
        )
    )
    image = _image(chart, "heat-map")
    assert chart.key == "garage-heat" and chart.svg is None
    # One cell each of the extremes (a cell is ~28 x 45 px, the colour bar has them too), and a
    # whole grey row for Saturday.
    assert _count(image, VIRIDIS_TOP) > 2 * 500
    assert _count(image, VIRIDIS_BOTTOM) > 2 * 500
    assert _count(image, MISSING_GREY) > 24 * 500
    assert _inked(image) > 0.9
    assert chart.alt.en == (
        "Heat map of garage occupancy by weekday and hour: highest 100% (Tue 09:00), lowest 0% (Sun 03:00)."
    )
    assert chart.alt.zh == "车库占用率按星期和小时的热力图：最高 100%（周二 09:00），最低 0%（周日 03:00）。"


def test_heat_map_refuses_a_wrong_shape_and_draws_an_empty_week() -> None:
    with pytest.raises(ValueError, match="7 rows"):
        charts.heat_map("x", Text("x", "x"), Text("x", "x"), [[1.0] * 24] * 6)
    chart = charts.heat_map("empty", Text("空", "Empty"), Text("占用", "occupancy"), _week(lambda d, h: None))
    image = _image(chart, "heat-map-empty")
    assert _count(image, MISSING_GREY) > 7 * 24 * 500
    assert chart.alt.en.endswith("no data.")


def test_grouped_bars_draw_each_series_in_its_colour() -> None:
    chart = _no_missing_glyph(
        lambda: charts.bar_chart(
            "received",
            Text("收到的读数", "Readings received"),
            Text("收到的读数占比", "share of readings received"),
            ["aed", "parking_lot", "canteen"],
            [
                BarSeries(Text("A 座", "Building A"), [99.5, 100.0, 80.0]),
                BarSeries(Text("B 座", "Building B"), [97.0, 40.0, None]),
            ],
            unit="%",
            ymax=100,
        )
    )
    image = _image(chart, "bar-chart")
    first, second = _hex(charts.PALETTE[0]), _hex(charts.PALETTE[1])
    # The shortest drawn bar (40 % of ~300 px high, ~70 px wide) is well over 2,000 pixels.
    assert _count(image, first) > 3 * 2000
    assert _count(image, second) > 2 * 2000
    assert chart.alt.en == "Bar chart of share of readings received: highest 100% (parking_lot, Building A)."
    assert chart.alt.zh == "收到的读数占比柱状图：最高 100%（parking_lot，A 座）。"


def test_one_series_of_bars_states_highest_and_lowest() -> None:
    chart = charts.bar_chart(
        "one",
        Text("一", "One"),
        Text("拒收消息", "rejected messages"),
        [Text("格式错误", "bad payload"), Text("时间超窗", "ts out of window")],
        [BarSeries(Text("拒收", "rejected"), [12, 3])],
    )
    _image(chart, "bar-chart-one-series")
    assert (
        chart.alt.en
        == "Bar chart of rejected messages: highest 12 (bad payload), lowest 3 (ts out of window)."
    )


def test_line_against_the_typical_day() -> None:
    start = datetime(2026, 10, 5, 16, tzinfo=UTC)  # Tuesday 00:00 in Shanghai
    times = [start + timedelta(hours=h) for h in range(24)]
    load = [float(10 * h) if h <= 12 else 0.0 for h in range(24)]  # peak 120 at 12:00 local
    load[20] = None  # a gap
    typical = [80.0] * 24
    chart = _no_missing_glyph(
        lambda: charts.line_chart(
            "canteen-day",
            Text("食堂负荷", "Canteen load"),
            Text("就餐人数", "people in the canteen"),
            times,
            load,
            typical=typical,
            tz=SHANGHAI,
            svg=True,
        )
    )
    image = _image(chart, "line-chart")
    assert _count(image, _hex(charts.PALETTE[0]), tolerance=30) > 300
    assert _count(image, _hex(charts.TYPICAL_COLOUR), tolerance=10) > 150
    assert chart.alt.en == (
        "Line chart of people in the canteen: peak 120 at 2026-10-06 12:00, against 80 on a typical day."
    )
    assert "峰值 120（2026-10-06 12:00），典型日同一时刻为 80" in chart.alt.zh
    assert chart.svg is not None and chart.svg.lstrip().startswith("<?xml")


def test_timeline_draws_intervals_clipped_to_the_period() -> None:
    start = datetime(2026, 10, 1, tzinfo=UTC)
    end = start + timedelta(days=31)
    outage, fault = Text("离线", "offline"), Text("故障", "fault")
    rows = [
        TimelineRow(
            "aed-b-1f-lobby",
            [Interval(start + timedelta(days=2), start + timedelta(days=2, hours=3), outage)],
        ),
        TimelineRow(
            "aed-b-12f-lift",
            [
                # Begins before the period: only its 6 hours inside count.
                Interval(start - timedelta(hours=6), start + timedelta(hours=6), fault),
                Interval(start + timedelta(days=20), start + timedelta(days=22), outage),
            ],
        ),
        TimelineRow(Text("空行", "no events"), []),
    ]
    chart = _no_missing_glyph(
        lambda: charts.timeline(
            "outages",
            Text("故障与离线", "Faults and outages"),
            Text("AED 故障与离线", "AED faults and outages"),
            rows,
            start,
            end,
            tz=SHANGHAI,
        )
    )
    image = _image(chart, "timeline")
    # Two days of 31 on ~700 px is ~45 px wide, by ~80 px high.
    assert _count(image, _hex(charts.PALETTE[0])) > 2500
    assert _count(image, _hex(charts.PALETTE[1])) > 200
    assert chart.alt.en == (
        "Timeline of AED faults and outages: 3 intervals, 57 h 0 min in all, the longest 48 h 0 min (aed-b-12f-lift)."
    )
    assert (
        chart.alt.zh
        == "AED 故障与离线时间线：3 段，共 57 小时 0 分钟，最长 48 小时 0 分钟（aed-b-12f-lift）。"
    )
    empty = charts.timeline("none", Text("无", "None"), Text("离线", "outages"), [], start, end)
    _image(empty, "timeline-empty")
    assert empty.alt.en == "Timeline of outages: nothing in the period."


def test_the_same_figures_give_the_same_bytes() -> None:
    def draw() -> Chart:
        return charts.heat_map(
            "a", Text("甲", "A"), Text("占用", "load"), _week(lambda d, h: float(d * h)), svg=True
        )

    one, two = draw(), draw()
    assert one.png == two.png and one.svg == two.svg


def test_without_a_cjk_font_the_labels_are_english_and_nothing_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert charts.cjk_font() is not None, "fonts-noto-cjk (Makefile SYSDEPS) is not installed"
    monkeypatch.setattr(charts, "cjk_font", lambda: None)
    assert charts._label(Text("周一", "Mon")) == "Mon"
    chart = _no_missing_glyph(
        lambda: charts.heat_map("latin", Text("甲", "A"), Text("占用", "load"), _week(lambda d, h: float(h)))
    )
    image = _image(chart, "heat-map-no-cjk-font")
    assert _inked(image) > 0.9
    # The alt text is the page's, not the picture's: it keeps both languages.
    assert chart.alt.zh.startswith("占用按星期和小时的热力图")


def test_the_missing_glyph_check_sees_a_missing_glyph(monkeypatch: pytest.MonkeyPatch) -> None:
    # Chinese labels drawn with the Latin font alone: the check above must notice.
    monkeypatch.setattr(charts, "_rc", lambda: {"font.family": ["DejaVu Sans"]})
    with pytest.raises(AssertionError, match="missing from"):
        _no_missing_glyph(
            lambda: charts.heat_map("tofu", Text("甲", "A"), Text("占用", "load"), _week(lambda d, h: 1.0))
        )
