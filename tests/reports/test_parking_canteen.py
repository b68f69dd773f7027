"""The parking and canteen sections against a real influxd holding a known October (conftest.py):
every figure checked against a value computed by hand, and again by plain Python over the
minutes the data were made from."""

from __future__ import annotations

import pytest

from api.reports.canteen import build_canteen_sections
from api.reports.model import Scope
from api.reports.parking import build_parking_sections
from tests.reports.conftest import (
    END,
    PERIOD,
    START,
    Month,
    canteen,
    garage,
    in_service,
    minutes,
    run_builder,
    save_charts,
    table_rows,
    workday,
)

pytestmark = pytest.mark.integration


def test_parking_figures_of_a_known_month(month: Month) -> None:
    [section] = run_builder(
        month, lambda c: build_parking_sections(c, PERIOD, Scope("testarea", "tower"), month.registry)
    )
    save_charts(section)
    lots = {row["lot"]: row for row in table_rows(section, "parking-lots")}
    assert list(lots) == ["garage", "garage-b1", "garage-b2"]  # the site, then its levels

    readings = [v for m in minutes(START, END) if (v := garage(m)) is not None]
    full_minutes = sum(1 for v in readings if v >= 100)
    g = lots["garage"]
    # By hand: 22 workdays in October 2026, full 09:00-11:00 each: 2,640 minutes, 44 hours, of 744.
    assert full_minutes == 22 * 120
    assert g["hours_full"] == 44.0
    assert g["share_full"] == round(100 * 44 / 744, 1) == 5.9
    assert g["capacity"] == 100
    # Every hour present has all its 60 minutes, so the mean of the hourly means is the mean of
    # the minutes. By hand: of 738 hours with readings (six silent), 44 full (one 0.05 above),
    # the rest at 40 (one 0.67 below): 32,159.38 / 738.
    assert g["mean_occupancy"] == round(sum(readings) / len(readings), 1) == 43.6
    # The overshoot to 103 leaves no free space (never below 0), and the empty minute 100.
    assert (g["fewest_free"], g["fewest_free_at"]) == (0, "2026-10-13T09:30+08:00")
    assert (g["most_free"], g["most_free_at"]) == (100, "2026-10-04T03:30+08:00")

    # The level reports its capacity (60), which wins over the registry's 50: 25 of 60 taken.
    b1 = lots["garage-b1"]
    assert (b1["capacity"], b1["mean_occupancy"], b1["fewest_free"], b1["most_free"], b1["hours_full"]) == (
        60,
        round(100 * 25 / 60, 1),
        35,
        35,
        0.0,
    )
    # A level that never reported has its row, empty.
    assert lots["garage-b2"]["mean_occupancy"] is None

    heat = {chart.key: chart for chart in section.charts}
    assert set(heat) == {"parking-heat-tower-garage", "parking-heat-tower-garage-b1"}
    # Tuesday 09:00: the four Tuesdays at 100 % save one hour at 100.05 %; Sunday 03:00: one hour
    # in four is at (59 x 40 + 0) / 60 %.
    alt = heat["parking-heat-tower-garage"].alt.en
    assert "highest 100% (Tue 09:00)" in alt
    sunday = round((3 * 40 + (59 * 40 + 0) / 60) / 4, 1)
    assert f"lowest {sunday}% (Sun 03:00)" in alt
    assert section.summary is not None and "tower/garage: 0 at 2026-10-13T09:30+08:00" in section.summary.en


def test_parking_in_the_whole_area_adds_the_other_building(month: Month) -> None:
    [section] = run_builder(
        month, lambda c: build_parking_sections(c, PERIOD, Scope("testarea"), month.registry)
    )
    lots = {row["lot"]: row for row in table_rows(section, "parking-lots")}
    assert list(lots) == ["garage", "garage-b1", "garage-b2", "yard"]
    # The yard is full all month: every minute of the 744 hours.
    assert (lots["yard"]["hours_full"], lots["yard"]["share_full"], lots["yard"]["mean_occupancy"]) == (
        744.0,
        100.0,
        100.0,
    )
    assert lots["garage"]["hours_full"] == 44.0


def test_canteen_figures_of_a_known_month(month: Month) -> None:
    [section] = run_builder(
        month, lambda c: build_canteen_sections(c, PERIOD, Scope("testarea", "tower"), month.registry)
    )
    save_charts(section)
    assert section.key == "canteen-tower-hall"
    days = {row["date"]: row for row in table_rows(section, "canteen-days")}
    assert len(days) == 31

    # Wednesday 14 October, by hand: 190 of 200 from 12:00 to 13:00, 95 %; the typical workday
    # at 12:00 (the four weeks before, all at 150) is 75 %. The queue at service: 60 minutes of
    # 50 and 90 of 20 over 150 minutes, 32; longest 50; 9 takeaways at most.
    assert days["2026-10-14"] == {
        "date": "2026-10-14",
        "weekday": "Wed",
        "busiest_hour": "12:00",
        "busiest_load": 95.0,
        "typical_load": 75.0,
        "peak_occupancy": 190,
        "queue_mean": 32.0,
        "queue_max": 50,
        "takeaway_max": 9,
    }
    # An ordinary Thursday: 11:00 and 12:00 tie at 75 %, the earlier is named; the typical day
    # is the same. The queue of 5 outside service is not the service queue.
    thursday = days["2026-10-15"]
    assert (thursday["busiest_hour"], thursday["busiest_load"], thursday["typical_load"]) == (
        "11:00",
        75.0,
        75.0,
    )
    assert (thursday["queue_mean"], thursday["queue_max"]) == (20.0, 20)
    # A Saturday is compared with weekends: 10 of 200 at lunch, as on the weekends before.
    saturday = days["2026-10-03"]
    assert (saturday["busiest_load"], saturday["typical_load"], saturday["peak_occupancy"]) == (5.0, 5.0, 10)
    assert (saturday["queue_mean"], saturday["queue_max"], saturday["takeaway_max"]) == (0.0, 0, 0)

    # The service window over the month, computed from the minutes the data were made from.
    served = [canteen(m) for m in minutes(START, END) if in_service(m)]
    assert len(served) == 31 * 150
    [lunch] = table_rows(section, "canteen-service")
    assert lunch == {
        "window": "11:00-13:30",
        "queue_mean": round(sum(q for _, q, _ in served) / len(served), 1),
        "queue_max": 50,
        "takeaway_mean": round(sum(t for _, _, t in served) / len(served), 1),
        "takeaway_max": 9,
    }
    assert (lunch["queue_mean"], lunch["takeaway_mean"]) == (
        14.6,
        2.1,
    )  # by hand: 67,800 / 4,650; 9,906 / 4,650

    charts = {chart.key: chart for chart in section.charts}
    # Wednesdays at 12:00: 75, 95, 75, 75.
    assert "highest 80% (Wed 12:00)" in charts["canteen-heat-tower-hall"].alt.en
    assert charts["canteen-load-tower-hall"].alt.en.endswith(
        "peak 95% at 2026-10-14 12:00, against 75% on a typical day."
    )
    assert "highest 50 (11:00-13:30, longest)" in charts["canteen-queue-tower-hall"].alt.en
    assert section.summary is not None and "2026-10-14 at 12:00, 20 points above it" in section.summary.en
    assert sum(1 for m in minutes(START, END) if workday(m) and m.hour == 0 and m.minute == 0) == 22


def test_no_canteen_in_scope(month: Month) -> None:
    [section] = run_builder(
        month, lambda c: build_canteen_sections(c, PERIOD, Scope("testarea", "annex"), month.registry)
    )
    assert section.summary is not None and section.summary.en == "No canteen in this scope."
