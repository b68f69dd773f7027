"""The parking-and-canteen report at district scale: more lot counters than `DISTRICT_LOTS` and more
canteens than `DISTRICT_CANTEENS`. The page and the PDF draw the scope's pooled heat maps, the
buildings compared, and only the busiest lots and canteens one by one, saying how many are not
drawn; the tables keep a row per lot and canteen, and the CSV every row.

Against conftest.py's real influxd, in a database of its own: one week (Monday 5 to Monday
12 October 2026, Shanghai) of 14 lot counters and 8 canteens, a reading every 15 minutes, each
value constant through its hour, so that every figure is computed by hand from `lot` and `hall`."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pypdf
import pytest

from api.influx import InfluxQueryClient
from api.reports import canteen as canteen_module
from api.reports import parking, render_csv, render_html, render_pdf
from api.reports.canteen import DISTRICT_CANTEENS, DRAWN_CANTEENS, build_canteen_sections
from api.reports.model import Period, Report, Scope, Section, Text
from api.reports.parking import DISTRICT_LOTS, DRAWN_LOTS, build_parking_sections
from collector.registry import Registry
from tests.reports.conftest import TZ, Month, table_rows

pytestmark = pytest.mark.integration

WEEK = Period(datetime(2026, 10, 5, tzinfo=TZ), datetime(2026, 10, 12, tzinfo=TZ), "week")
LOTS = 14
CANTEENS = 8
DB = "district"


def capacity(i: int) -> int:
    """Lots alternate 50 and 150 spaces, so a pooled % differs from a mean of the lots' %."""
    return 50 if i % 2 == 0 else 150


def lot(i: int, moment: datetime) -> int:
    """lot-i is full from 08:00 for i hours each workday, else 20 cars taken."""
    if moment.weekday() < 5 and 8 <= moment.hour < 8 + i:
        return capacity(i)
    return 20


def canteen_capacity(j: int) -> int:
    return 100 if j % 2 == 0 else 300


def hall(j: int, moment: datetime) -> int:
    """c-j holds 10 (j + 1) people 12:00-13:00 each workday, nobody otherwise."""
    return 10 * (j + 1) if moment.weekday() < 5 and moment.hour == 12 else 0


def _registry() -> Registry:
    lots = "\n".join(
        f"      - {{kind: parking_lot, id: lot-{i:02d}, capacity: {capacity(i)}}}"
        for i in range(LOTS)
        if i < LOTS // 2
    )
    south = "\n".join(
        f"      - {{kind: parking_lot, id: lot-{i:02d}, capacity: {capacity(i)}}}"
        for i in range(LOTS // 2, LOTS)
    )
    halls = "\n".join(
        f"      - {{kind: canteen, id: c-{j}, capacity: {canteen_capacity(j)}}}" for j in range(CANTEENS)
    )
    return Registry.from_text(
        f"area: district\ntimezone: Asia/Shanghai\nbuildings:\n  - id: north\n    name: 北楼\n    devices:\n{lots}\n"
        f"  - id: south\n    name: 南楼\n    devices:\n{south}\n{halls}\n"
    )


def _quarters() -> Iterator[datetime]:
    moment = WEEK.start
    while moment < WEEK.end:
        yield moment.astimezone(TZ)
        moment += timedelta(minutes=15)


def _lines() -> list[str]:
    lines = []
    for moment in _quarters():
        t = int(moment.timestamp() * 1000)
        for i in range(LOTS):
            building = "north" if i < LOTS // 2 else "south"
            lines.append(f"parking_lot,building={building},device=lot-{i:02d} occupied={lot(i, moment)}i {t}")
        for j in range(CANTEENS):
            lines.append(
                f"canteen,building=south,device=c-{j} occupancy={hall(j, moment)}i,queue_length=0i,"
                f"takeaway_pending=0i {t}"
            )
    return lines


@pytest.fixture(scope="module")
def district(month: Month) -> str:
    """The server's URL, its database `DB` holding the week."""
    url = month.server.url
    httpx.post(f"{url}/query", data={"q": f"CREATE DATABASE {DB}"}, timeout=10).raise_for_status()
    for _ in range(50):  # a new database takes a moment to accept writes
        response = httpx.post(f"{url}/write", params={"db": DB, "precision": "ms"}, content="\n".join(_lines()),
                              timeout=60)  # fmt: skip
        if response.status_code != 404:
            break
        time.sleep(0.1)
    assert response.status_code == 204, response.text
    return url


def _build(url: str) -> Report:
    registry, scope = _registry(), Scope("district")

    async def build() -> list[Section]:
        client = InfluxQueryClient(url, "v1", DB)
        await client.open()
        try:
            sections = await build_parking_sections(client, WEEK, scope, registry)
            return sections + await build_canteen_sections(client, WEEK, scope, registry)
        finally:
            await client.close()

    return Report("parking-canteen", Text("停车与餐厅使用报告", "Parking and canteen use report"), WEEK, scope,
                  datetime(2026, 10, 12, tzinfo=UTC), asyncio.run(build()))  # fmt: skip


@pytest.fixture(scope="module")
def report(district: str) -> Report:
    return _build(district)


def test_the_district_is_above_the_thresholds() -> None:
    assert LOTS > DISTRICT_LOTS and CANTEENS > DISTRICT_CANTEENS
    assert DRAWN_LOTS < LOTS and DRAWN_CANTEENS < CANTEENS


def test_the_whole_scope_heat_map_pools_every_lot(report: Report) -> None:
    section = report.sections[0]
    charts = {c.key: c for c in section.charts}
    grid = charts["parking-heat-scope"].values
    assert grid is not None
    # By hand, out of 1,400 spaces (7 lots of 50, 7 of 150). Monday 08:00: every lot but lot-00 full,
    # lot-00 holds 20: 1,350 + 20. Monday 14:00: lot-07..13 full (4 x 150 + 3 x 50 = 750), seven at
    # 20. Monday 20:00: lot-13 (150) and thirteen at 20. Sunday: fourteen at 20, 280.
    assert grid[0][8] == pytest.approx(100 * 1370 / 1400)
    assert grid[0][14] == pytest.approx(100 * 890 / 1400)
    assert grid[0][20] == pytest.approx(100 * 410 / 1400)
    assert all(v == pytest.approx(20.0) for v in grid[6])
    # Not the mean of the lots' own %: Monday 14:00 would be 7 x 100 % + 20/50 x 4 + 20/150 x 3 over 14.
    assert grid[0][14] != pytest.approx((700 + 4 * 40 + 3 * 40 / 3) / 14)
    # Every cell, from the description the data were written from (one hour of each weekday).
    for moment in _quarters():
        if moment.minute == 0:
            expected = 100 * sum(lot(i, moment) for i in range(LOTS)) / 1400
            assert grid[moment.weekday()][moment.hour] == pytest.approx(expected)
    assert "highest 97.9% (Mon 08:00)" in charts["parking-heat-scope"].alt.en


def test_only_the_busiest_lots_are_drawn(report: Report) -> None:
    section = report.sections[0]
    keys = [c.key for c in section.charts]
    # The scope, the two buildings compared, then lot-13 (full 13 hours each workday) down to lot-06.
    assert keys == ["parking-heat-scope", "parking-buildings"] + [
        f"parking-heat-{'south' if i >= 7 else 'north'}-lot-{i:02d}" for i in range(13, 13 - DRAWN_LOTS, -1)
    ]
    assert section.charts_more is not None
    assert f"{LOTS - DRAWN_LOTS} more are not drawn individually" in section.charts_more.en
    # South's busiest hour: Monday 08:00, all seven full. North: lot-00 at 20 and the six others full.
    bars = next(c for c in section.charts if c.key == "parking-buildings")
    assert "highest 100% (south, busiest hour)" in bars.alt.en
    # Every lot keeps its row, the busiest first: lot-13 full 5 x 13 hours of the week's 168.
    rows = table_rows(section, "parking-lots")
    assert [r["lot"] for r in rows] == [f"lot-{i:02d}" for i in range(13, -1, -1)]
    assert (rows[0]["hours_full"], rows[0]["share_full"]) == (65.0, round(100 * 65 / 168, 1))
    assert rows[-1]["hours_full"] == 0.0


def test_the_busiest_canteens_have_their_sections_and_every_canteen_its_row(report: Report) -> None:
    overview = report.sections[1]
    assert overview.key == "canteens"
    # Load in the busiest hour: c-j holds 10 (j + 1) of 100 (even j) or 300 (odd j).
    rows = table_rows(overview, "canteens")
    assert [r["canteen"] for r in rows] == ["c-6", "c-4", "c-2", "c-7", "c-5", "c-3", "c-0", "c-1"]
    assert rows[0] == {
        "building": "south",
        "canteen": "c-6",
        "capacity": 100,
        "mean_load": round(100 * 5 * 70 / 168 / 100, 1),
        "busiest_load": 70.0,
        "busiest_at": "2026-10-05T12:00+08:00",
        "peak_occupancy": 70,
        "queue_mean": 0.0,
        "queue_max": 0,
        "takeaway_max": 0,
    }
    assert rows[3]["busiest_load"] == round(100 * 80 / 300, 1)
    # All canteens together at lunch: 10 + 20 + ... + 80 = 360 people of 4 x 100 + 4 x 300 seats.
    [heat] = overview.charts
    assert heat.key == "canteen-heat-scope" and heat.values is not None
    assert heat.values[0][12] == pytest.approx(100 * 360 / 1600)
    assert heat.values[0][11] == 0 and heat.values[5][12] == 0
    assert overview.charts_more is not None
    assert f"{CANTEENS - DRAWN_CANTEENS} more are not drawn individually" in overview.charts_more.en
    assert [s.key for s in report.sections[2:]] == [
        f"canteen-south-{c}" for c in ("c-6", "c-4", "c-2", "c-7")[:DRAWN_CANTEENS]
    ]


def test_page_pdf_and_csv_of_a_district(
    report: Report, district: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = 2 + DRAWN_LOTS + 1 + 3 * DRAWN_CANTEENS
    assert sum(len(s.charts) for s in report.sections) == drawn
    page = render_html.render(report, "en", timezone="Asia/Shanghai", static="", csv_url=lambda n: n,
                              other_formats={})  # fmt: skip
    assert page.count("<img ") == drawn
    assert "6 more are not drawn individually" in page and "4 more are not drawn individually" in page
    pdf = render_pdf.render(report, "en", timezone="Asia/Shanghai")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert sum(len(p.images) for p in reader.pages) == drawn
    text = "\n".join(p.extract_text() for p in reader.pages)
    assert "6 more are not drawn" in text and "4 more are not drawn" in text
    # The lots below the busiest eight are in the table, not drawn.
    assert "north/lot-05: occupancy by weekday and hour" not in text
    assert "north/lot-05" not in page.split("<table>")[0]

    # A district with more counters than the page lists: the page sets the cap, the CSV every row.
    monkeypatch.setattr(parking, "SHOWN_ROWS", 10)
    monkeypatch.setattr(canteen_module, "SHOWN_ROWS", 5)
    capped = _build(district)
    lots = next(t for t in capped.sections[0].tables if t.key == "parking-lots")
    assert (len(lots.rows), len(lots.displayed)) == (LOTS, 10)
    assert lots.more is not None and lots.more.en == f"{LOTS - 10} more counters are in the CSV."
    canteens = next(t for t in capped.sections[1].tables if t.key == "canteens")
    assert (len(canteens.rows), len(canteens.displayed)) == (CANTEENS, 5)
    page = render_html.render(capped, "en", timezone="Asia/Shanghai", static="", csv_url=lambda n: n,
                              other_formats={})  # fmt: skip
    assert lots.more.en in page
    for name, count in (
        ("parking-canteen-parking-parking-lots.csv", LOTS),
        ("parking-canteen-canteens-canteens.csv", CANTEENS),
    ):
        found = render_csv.find(capped, name)
        assert found is not None
        assert len(list(csv.DictReader(io.StringIO(found.decode("utf-8-sig"))))) == count
