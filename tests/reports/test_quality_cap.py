"""The data-quality report at district scale: the page and the PDF list the devices with
problems worst first, at most `SHOWN_ROWS`, and say how many more there are; the CSV keeps every
device. Against the real influxd of conftest.py's known month, with `SHOWN_ROWS` + 50 more AEDs
registered that never reported (each silent all month: a problem)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from api.reports import render_csv, render_html, render_pdf
from api.reports.model import Report, Scope, Text
from api.reports.quality import SHOWN_ROWS, build_quality_sections
from collector.registry import DeviceInfo, Registry
from tests.reports.conftest import PERIOD, REGISTRY, Month, run_builder, table_rows

pytestmark = pytest.mark.integration

SPARES = SHOWN_ROWS + 50


def _report(month: Month) -> Report:
    registry = Registry.from_text(REGISTRY)
    for n in range(SPARES):
        registry.add(DeviceInfo("tower", "aed", f"spare-{n:03d}"))
    sections = run_builder(
        month, lambda c: build_quality_sections(c, PERIOD, Scope("testarea", "tower"), registry, None)
    )
    report = Report("data-quality", Text("数据质量报告", "Data quality report"), PERIOD, Scope("testarea", "tower"),
                    datetime(2026, 11, 1, tzinfo=UTC), sections)  # fmt: skip
    return report


def _html_rows(page: str, caption: str) -> list[list[str]]:
    """The body rows of the page's table captioned `caption`, as cell texts."""
    table = page[page.index(f"<caption>{caption}") :]
    body = table[table.index("<tbody>") : table.index("</tbody>")]
    return [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_the_page_lists_the_worst_devices_and_the_csv_all_of_them(month: Month) -> None:
    report = _report(month)
    readings = report.sections[0]
    devices = table_rows(readings, "devices")
    # Every registered device of the building is in the table (the CSV's content).
    assert len(devices) == 7 + SPARES
    problems = [d for d in devices if d["share"] != 100.0 or d["silent_periods"]]
    # The never-heard spares, aed-2 and garage-b2 (0 %), aed-1 and garage (silences).
    assert len(problems) == SPARES + 4
    # Worst first: every problem before every healthy device, the lowest share first, then the
    # longest silence.
    assert devices[: len(problems)] == problems
    shares = [float(str(d["share"])) for d in problems]
    assert shares == sorted(shares)
    # Of the two that were silent for a while, the garage received less (99.2 %) than aed-1 (99.6 %).
    assert [d["device"] for d in problems[-2:]] == ["garage", "aed-1"]
    table = next(t for t in readings.tables if t.key == "devices")
    assert table.shown == SHOWN_ROWS and table.more is not None
    assert table.more.en == (
        f"{SPARES + 4 - SHOWN_ROWS} more devices with problems are not listed here. 3 devices received every "
        "expected reading and had no silent period. Every device is in the CSV."
    )

    page = render_html.render(report, "en", timezone="Asia/Shanghai", static="", csv_url=lambda n: n,
                              other_formats={})  # fmt: skip
    shown = _html_rows(page, "Devices with problems, worst first")
    assert len(shown) == SHOWN_ROWS
    assert [row[2] for row in shown] == [str(d["device"]) for d in devices[:SHOWN_ROWS]]
    assert table.more.en in page
    # The by-building summary: one row for the building, all its devices.
    expected = sum(int(str(d["expected"])) for d in devices)
    received = sum(min(int(str(d["received"])), int(str(d["expected"]))) for d in devices)
    assert table_rows(readings, "by-building") == [
        {
            "building": "tower",
            "devices": 7 + SPARES,
            "expected": expected,
            "received": received,
            "share": round(100 * received / expected, 1),
            "devices_silent": SPARES + 4,
        }
    ]
    silent = next(t for t in readings.tables if t.key == "silent-periods")
    assert len(silent.rows) == SPARES + 5 and silent.shown == SHOWN_ROWS
    assert (
        silent.more is not None
        and silent.more.en == f"{SPARES + 5 - SHOWN_ROWS} more silent periods are in the CSV."
    )
    assert len(_html_rows(page, "Silent periods")) == SHOWN_ROWS

    # The CSV: every device, in the same order.
    found = render_csv.find(report, "data-quality-readings-devices.csv")
    assert found is not None
    written = list(csv.DictReader(io.StringIO(found.decode("utf-8-sig"))))
    assert [r["device"] for r in written] == [d["device"] for d in devices]

    # The PDF sets the same cut: fewer pages than with every row.
    capped = render_pdf.render(report, "en", timezone="Asia/Shanghai")
    for one in readings.tables:
        one.shown = None
    whole = render_pdf.render(report, "en", timezone="Asia/Shanghai")
    pages: Callable[[bytes], int] = lambda pdf: len(re.findall(rb"/Type /Page\b", pdf))  # noqa: E731
    assert pages(capped) < pages(whole)
