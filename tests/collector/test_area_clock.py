"""The area's clock (collector/area_clock.py): the real clock by default; a demo's simulated day,
as a linear map from real to area time, read from `LOUYU_DEMO_CLOCK`."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from collector.area_clock import REAL, AreaClock, ClockSpecError, parse_clock

TZ = ZoneInfo("Asia/Shanghai")
# Saturday 28 November 2026, 21:10 UTC = Sunday 29 November, 05:10 in Qingdao.
SUNDAY_NIGHT_MS = int(dt.datetime(2026, 11, 28, 21, 10, tzinfo=dt.UTC).timestamp() * 1000)
# Tuesday 24 November 2026, 16:00 in Qingdao.
TUESDAY_MS = int(dt.datetime(2026, 11, 24, 16, 0, tzinfo=TZ).timestamp() * 1000)
MIN = 60_000


def local(clock: AreaClock, real_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(clock.area_ms(real_ms) / 1000, TZ)


def test_the_real_clock_is_the_identity() -> None:
    for spec in (None, "", "   "):
        clock = parse_clock(spec, TZ, TUESDAY_MS)
        assert clock == REAL and not clock.simulated
    assert REAL.area_ms(TUESDAY_MS) == TUESDAY_MS == REAL.real_ms(TUESDAY_MS)
    assert REAL.since_ms is None
    now = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)
    assert REAL.area_now(now, TZ) == now and REAL.area_now(now, TZ).tzinfo == TZ


def test_a_demo_day_starts_at_its_hour_and_runs_speed_times_faster() -> None:
    clock = parse_clock("07:30x60", TZ, TUESDAY_MS)
    assert clock.simulated and clock.speed == 60.0 and clock.since_ms == TUESDAY_MS
    # At the start: 07:30 of the same (working) day; 4 real minutes later, 11:30; 6 later, 13:30.
    assert local(clock, TUESDAY_MS) == dt.datetime(2026, 11, 24, 7, 30, tzinfo=TZ)
    assert local(clock, TUESDAY_MS + 4 * MIN) == dt.datetime(2026, 11, 24, 11, 30, tzinfo=TZ)
    assert local(clock, TUESDAY_MS + 6 * MIN) == dt.datetime(2026, 11, 24, 13, 30, tzinfo=TZ)
    # The day goes on into the next one: 24 real minutes make a simulated day.
    assert local(clock, TUESDAY_MS + 24 * MIN) == dt.datetime(2026, 11, 25, 7, 30, tzinfo=TZ)
    # Spans and the inverse map.
    assert clock.area_span(MIN) == 3_600_000 and clock.real_span(3_600_000) == MIN
    for real in (TUESDAY_MS - 5 * MIN, TUESDAY_MS, TUESDAY_MS + 123_456):
        assert abs(clock.real_ms(clock.area_ms(real)) - real) <= 1
    area_now = clock.area_now(dt.datetime.fromtimestamp((TUESDAY_MS + 4 * MIN) / 1000, dt.UTC), TZ)
    assert (area_now.hour, area_now.minute, area_now.tzinfo) == (11, 30, TZ)


def test_a_demo_started_on_a_weekend_shows_the_next_working_day() -> None:
    clock = parse_clock("07:30x60", TZ, SUNDAY_NIGHT_MS)
    start = local(clock, SUNDAY_NIGHT_MS)
    assert start == dt.datetime(2026, 11, 30, 7, 30, tzinfo=TZ)  # Monday
    assert start.weekday() == 0


@pytest.mark.parametrize(
    ("spec", "expected", "speed"),
    [
        ("07:30 x 60", dt.datetime(2026, 11, 24, 7, 30, tzinfo=TZ), 60.0),
        ("7:30*120", dt.datetime(2026, 11, 24, 7, 30, tzinfo=TZ), 120.0),
        ("11:45\u00d730", dt.datetime(2026, 11, 24, 11, 45, tzinfo=TZ), 30.0),
        ("2026-11-21T11:00x10", dt.datetime(2026, 11, 21, 11, 0, tzinfo=TZ), 10.0),  # a Saturday, if asked
        ("09:00", dt.datetime(2026, 11, 24, 9, 0, tzinfo=TZ), 1.0),  # shifted, real pace: still simulated
    ],
)
def test_spellings_of_the_setting(spec: str, expected: dt.datetime, speed: float) -> None:
    clock = parse_clock(spec, TZ, TUESDAY_MS)
    assert local(clock, TUESDAY_MS) == expected
    assert clock.speed == speed and clock.simulated


def test_an_anchor_makes_separately_started_processes_agree() -> None:
    spec = "07:30x60@2026-11-24T16:00:00+08:00"
    api = parse_clock(spec, TZ, TUESDAY_MS + 7_000)
    simulator = parse_clock(spec, TZ, TUESDAY_MS + 95_000)
    assert api == simulator
    assert local(api, TUESDAY_MS) == dt.datetime(2026, 11, 24, 7, 30, tzinfo=TZ)
    # Without the anchor each process starts its own day.
    assert parse_clock("07:30x60", TZ, TUESDAY_MS + 7_000) != parse_clock("07:30x60", TZ, TUESDAY_MS)
    # An anchor in UTC, and one without an offset (the area's local time).
    assert parse_clock("07:30x60@2026-11-24T08:00:00Z", TZ, 0) == api
    assert parse_clock("07:30x60@2026-11-24T16:00", TZ, 0) == api


@pytest.mark.parametrize(
    "spec",
    ["7", "25:00x60", "07:30x0", "07:30x-5", "07:30xfast", "07:30x60@yesterday", "2026-13-01T07:30x60"],
)
def test_a_bad_setting_is_refused_with_the_expected_form(spec: str) -> None:
    with pytest.raises(ClockSpecError, match="HH:MM"):
        parse_clock(spec, TZ, TUESDAY_MS)
