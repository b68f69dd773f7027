"""The data-quality sections against a real influxd holding a known October (conftest.py) and a
real dead-letter store: shares of the expected readings, silent periods and rejections, each
checked against values computed by hand."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from api.reports.model import Scope
from api.reports.quality import build_quality_sections
from collector.cadence import HEARTBEAT_MS
from collector.dead_letters import DeadLetters
from collector.models import Rejection, RejectReason
from tests.reports.conftest import (
    END,
    PERIOD,
    START,
    Month,
    aed_reports,
    garage,
    minutes,
    run_builder,
    save_charts,
    table_rows,
)

pytestmark = pytest.mark.integration

MONTH_MINUTES = 31 * 24 * 60  # 44,640


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.fixture
def dead_letters(tmp_path: Path) -> DeadLetters:
    store = DeadLetters(tmp_path / "dead-letters.db")
    inside, before = _ms("2026-10-09T12:00+08:00"), _ms("2026-09-30T23:59+08:00")

    def rejected(reason: RejectReason, topic: str, at: int) -> Rejection:
        return Rejection(reason, "test", topic, "{", at)

    store.add(
        [rejected(RejectReason.NOT_JSON, "louyu/tower/aed/aed-1", inside + i) for i in range(3)]
        + [rejected(RejectReason.TS_TOO_OLD, "louyu/tower/canteen/hall", inside) for _ in range(2)]
        + [rejected(RejectReason.BAD_TOPIC, "garbage/x", inside)]
        + [rejected(RejectReason.NOT_JSON, "louyu/annex/parking_lot/yard", inside)]
        # Before the period: not counted.
        + [rejected(RejectReason.NOT_JSON, "louyu/tower/aed/aed-1", before)]
    )
    return store


def test_shares_and_silent_periods_of_a_known_month(month: Month, dead_letters: DeadLetters) -> None:
    readings, rejections = run_builder(
        month,
        lambda c: build_quality_sections(c, PERIOD, Scope("testarea", "tower"), month.registry, dead_letters),
    )
    save_charts(readings)
    save_charts(rejections)
    devices = {(row["kind"], row["device"]): row for row in table_rows(readings, "devices")}
    assert set(devices) == {
        ("parking_lot", "garage"),
        ("parking_lot", "garage-b1"),
        ("parking_lot", "garage-b2"),
        ("canteen", "hall"),
        ("aed", "aed-1"),
        ("aed", "aed-2"),
        ("parking_space", "s-001"),
    }
    # The garage: one a minute, silent six hours: 44,640 - 360 of 44,640.
    garage_received = sum(1 for m in minutes(START, END) if garage(m) is not None)
    assert garage_received == MONTH_MINUTES - 360
    assert devices["parking_lot", "garage"] == {
        "building": "tower",
        "kind": "parking_lot",
        "device": "garage",
        "expected": MONTH_MINUTES,
        "received": MONTH_MINUTES - 360,
        "share": round(100 * (MONTH_MINUTES - 360) / MONTH_MINUTES, 1),
        "silent_periods": 1,
        "silent_minutes": 360.0,
    }
    # aed-1: every five minutes, 8,928 beats, eight missed (six in a row, then two).
    aed_received = sum(1 for m in minutes(START, END) if aed_reports(m))
    assert (MONTH_MINUTES // 5, aed_received) == (8928, 8920)
    aed = devices["aed", "aed-1"]
    assert (aed["expected"], aed["received"], aed["share"], aed["silent_periods"], aed["silent_minutes"]) == (
        8928,
        8920,
        99.9,
        1,
        30.0,
    )
    # Registered, never heard: nothing received, silent the whole month.
    assert (devices["aed", "aed-2"]["received"], devices["aed", "aed-2"]["share"]) == (0, 0.0)
    assert devices["aed", "aed-2"]["silent_minutes"] == MONTH_MINUTES
    # The space beats every ten minutes and reports changes too: 4,464 + 31 readings, capped at 100 %.
    space = devices["parking_space", "s-001"]
    assert (space["expected"], space["received"], space["share"], space["silent_periods"]) == (
        4464,
        4495,
        100.0,
        0,
    )
    assert devices["canteen", "hall"]["share"] == 100.0
    # Lowest share first.
    assert [row["device"] for row in table_rows(readings, "devices")][:2] in (
        ["aed-2", "garage-b2"],
        ["garage-b2", "aed-2"],
    )

    # In order of start, then building and device.
    silent = [
        (r["device"], r["start"], r["end"], r["minutes"]) for r in table_rows(readings, "silent-periods")
    ]
    assert silent == [
        ("aed-2", "2026-10-01T00:00+08:00", "2026-11-01T00:00+08:00", float(MONTH_MINUTES)),
        ("garage-b2", "2026-10-01T00:00+08:00", "2026-11-01T00:00+08:00", float(MONTH_MINUTES)),
        ("aed-1", "2026-10-10T10:05+08:00", "2026-10-10T10:35+08:00", 30.0),
        ("garage", "2026-10-20T00:00+08:00", "2026-10-20T06:00+08:00", 360.0),
    ]

    kinds = {row["kind"]: row for row in table_rows(readings, "by-kind")}
    lots = kinds["parking_lot"]
    assert (lots["devices"], lots["expected"], lots["received"], lots["devices_silent"]) == (
        3,
        3 * MONTH_MINUTES,
        2 * MONTH_MINUTES - 360,
        2,
    )
    assert lots["share"] == round(100 * (2 * MONTH_MINUTES - 360) / (3 * MONTH_MINUTES), 1) == 66.4
    assert kinds["aed"]["share"] == round(100 * 8920 / (2 * 8928), 1) == 50.0
    charts = {chart.key: chart for chart in readings.charts}
    assert "highest 100% (parking spaces)" in charts["received-by-kind"].alt.en
    assert "lowest 50% (AEDs)" in charts["received-by-kind"].alt.en
    assert (
        charts["silent-periods"].alt.en
        == (
            "Timeline of device silent periods: 4 intervals, 1,496 h 30 min in all, the longest 744 h 0 min (tower/aed-2)."
        )
        or "4 intervals" in charts["silent-periods"].alt.en
    )

    # Rejections of this building's topics in October, by reason, from the dead-letter store.
    assert {row["reason"]: row["messages"] for row in table_rows(rejections, "rejections")} == {
        "not_json": 3,
        "ts_too_old": 2,
    }
    assert (
        rejections.summary is not None and rejections.summary.en == "5 messages were rejected in the period."
    )
    assert "highest 3 (not_json), lowest 2 (ts_too_old)" in rejections.charts[0].alt.en


def test_the_whole_area_counts_every_topic(month: Month, dead_letters: DeadLetters) -> None:
    _, rejections = run_builder(
        month, lambda c: build_quality_sections(c, PERIOD, Scope("testarea"), month.registry, dead_letters)
    )
    assert {row["reason"]: row["messages"] for row in table_rows(rejections, "rejections")} == {
        "not_json": 4,
        "ts_too_old": 2,
        "bad_topic": 1,
    }


def test_a_silence_factor_of_two_finds_the_shorter_gap(month: Month) -> None:
    readings, rejections = run_builder(
        month,
        lambda c: build_quality_sections(
            c, PERIOD, Scope("testarea", "tower"), month.registry, None, silence_factor=2
        ),
    )
    aed = [
        (r["start"], r["minutes"]) for r in table_rows(readings, "silent-periods") if r["device"] == "aed-1"
    ]
    assert aed == [("2026-10-10T10:05+08:00", 30.0), ("2026-10-12T10:05+08:00", 10.0)]
    assert rejections.summary is not None and "not readable here" in rejections.summary.en
    assert HEARTBEAT_MS["aed"] == 5 * 60_000


def test_a_full_dead_letter_store_says_its_counts_are_a_lower_bound(tmp_path: Path) -> None:
    store = DeadLetters(tmp_path / "small.db", max_rows=3)
    start = _ms("2026-10-01T00:00+08:00")
    store.add([Rejection(RejectReason.NOT_JSON, "x", "louyu/tower/aed/a", "{", start + i) for i in range(5)])
    counts = store.counts_by_reason(start, start + 10, "louyu/tower/")
    assert counts.by_reason == {"not_json": 3} and not counts.complete
    later = store.counts_by_reason(start + 2, start + 10)
    assert later.by_reason == {"not_json": 3} and later.complete
