"""The canteen curves and the best time to go: pure functions, fixed clocks."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.web.forecast import (
    best_time_to_go,
    day_curve,
    slot_of,
    typical_day,
)
from collector.registry import DEFAULT_SERVICE_HOURS

TZ = ZoneInfo("Asia/Shanghai")
# A Thursday.
TODAY = date(2026, 11, 26)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=TZ)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def lunch_curve(peak_slot: int = 12 * 60, peak: float = 0.95) -> dict[int, float]:
    """A typical workday: quiet at 11:00, a peak, quiet again by 13:30 (slot minute -> load)."""
    curve = {}
    for slot in range(11 * 60, 13 * 60 + 30, 15):
        distance = abs(slot - peak_slot) / 15
        curve[slot] = max(0.1, peak - 0.15 * distance)
    return curve


def test_slot_of_rounds_down_to_the_quarter() -> None:
    assert slot_of(at(TODAY, 11, 14)) == 11 * 60
    assert slot_of(at(TODAY, 11, 15)) == 11 * 60 + 15
    assert slot_of(at(TODAY, 0, 0)) == 0
    assert slot_of(at(TODAY, 23, 59)) == 23 * 60 + 45


def test_day_curve_keeps_only_that_local_day_and_averages_each_slot() -> None:
    points = [
        (ms(at(TODAY, 12, 1)), 0.4),
        (ms(at(TODAY, 12, 14)), 0.6),
        (ms(at(TODAY, 12, 15)), 0.9),
        # 23:50 local the day before is 15:50 UTC of the day before: another day either way.
        (ms(at(TODAY - timedelta(days=1), 23, 50)), 0.99),
        # 00:10 local today is 16:10 UTC yesterday: the local day decides.
        (ms(at(TODAY, 0, 10)), 0.05),
    ]
    assert day_curve(points, TODAY, TZ) == pytest.approx({0: 0.05, 720: 0.5, 735: 0.9})


def test_typical_day_compares_workdays_with_workdays_and_weighs_days_equally() -> None:
    points = []
    # Last Thursday: one reading at 12:00 of 0.8. The Thursday before: 30 readings of 0.4.
    points.append((ms(at(TODAY - timedelta(days=7), 12, 0)), 0.8))
    points += [(ms(at(TODAY - timedelta(days=14), 12, 0)) + i * 1000, 0.4) for i in range(30)]
    # Last Saturday (weekend): must not count for a Thursday.
    points.append((ms(at(TODAY - timedelta(days=5), 12, 0)), 0.05))
    # Today: never part of the typical day.
    points.append((ms(at(TODAY, 12, 0)), 0.0))
    # Five weeks ago: outside the 4-week window.
    points.append((ms(at(TODAY - timedelta(days=35), 12, 0)), 0.0))
    curve = typical_day(points, TODAY, TZ)
    assert curve == pytest.approx({720: 0.6})


def test_typical_day_for_a_saturday_uses_weekends() -> None:
    saturday = date(2026, 11, 28)
    points = [
        (ms(at(saturday - timedelta(days=1), 12, 0)), 0.9),  # Friday
        (ms(at(saturday - timedelta(days=6), 12, 0)), 0.2),  # last Sunday
    ]
    assert typical_day(points, saturday, TZ) == pytest.approx({720: 0.2})


def test_before_the_peak_the_best_time_is_now() -> None:
    typical = lunch_curve()
    now = at(TODAY, 11, 0)
    today = [(ms(now - timedelta(minutes=1)), 0.1)]
    best = best_time_to_go(today, typical, now)
    assert best.status == "ok"
    assert best.at == now
    assert best.load == pytest.approx(0.1)


def test_at_the_peak_the_best_time_is_after_it() -> None:
    typical = lunch_curve()
    now = at(TODAY, 12, 0)
    today = [(ms(now - timedelta(minutes=2)), 0.95)]
    best = best_time_to_go(today, typical, now)
    assert best.status == "ok"
    assert best.at is not None
    # Everything after noon falls until 13:15, the last open slot start in the curve.
    assert best.at == at(TODAY, 13, 15)
    assert best.load is not None and best.load < 0.5
    # The forecast covers the two-hour horizon: now, then each quarter hour up to 14:00.
    assert best.forecast[0].start == now
    assert best.forecast[-1].start == at(TODAY, 14, 0)
    assert len(best.forecast) == 9


def test_a_busier_day_than_usual_raises_the_near_forecast() -> None:
    typical = lunch_curve()
    now = at(TODAY, 11, 30)
    usual = best_time_to_go([(ms(now), typical[11 * 60 + 30])], typical, now)
    busy = best_time_to_go([(ms(now), typical[11 * 60 + 30] * 1.5)], typical, now)
    usual_next, busy_next = usual.forecast[1].load, busy.forecast[1].load
    assert usual_next is not None and busy_next is not None
    assert busy_next > usual_next * 1.2
    # The deviation fades: by 13:15 both are closer to the typical day again.
    assert busy.forecast[7].start == at(TODAY, 13, 15)
    usual_late, busy_late = usual.forecast[7].load, busy.forecast[7].load
    assert usual_late is not None and busy_late is not None
    assert busy_late - usual_late < (busy_next - usual_next) / 2
    # 13:30 and later: the typical day has nothing, so the forecast says nothing rather than guess.
    assert busy.forecast[8].load is None


def test_a_closed_canteen_is_never_the_best_time() -> None:
    # Typical day says 10:30 is empty; the canteen opens at 11:00.
    typical = {slot: 0.0 for slot in range(9 * 60, 11 * 60, 15)} | lunch_curve(peak_slot=11 * 60 + 45)
    now = at(TODAY, 10, 0)
    best = best_time_to_go([], typical, now)
    assert best.status == "ok"
    assert best.at is not None
    assert best.at >= at(TODAY, 11, 0)
    assert best.at == at(TODAY, 11, 0)  # the opening, before the lunch peak builds


def test_closed_for_the_whole_horizon() -> None:
    typical = lunch_curve()
    now = at(TODAY, 20, 0)
    best = best_time_to_go([(ms(now), 0.0)], typical, now)
    assert best.status == "closed"
    assert best.at is None
    assert best.forecast  # the forecast is still there, all closed
    assert not any(slot.open for slot in best.forecast)


def test_no_typical_day_and_no_reading_is_no_data() -> None:
    now = at(TODAY, 12, 0)
    stale = [(ms(now - timedelta(hours=1)), 0.5)]
    assert best_time_to_go(stale, {}, now).status == "no_data"


def test_no_typical_day_yet_keeps_the_current_load() -> None:
    now = at(TODAY, 12, 0)
    best = best_time_to_go([(ms(now), 0.5)], {}, now)
    assert best.status == "ok"
    assert best.at == now
    assert {slot.load for slot in best.forecast} == {0.5}


def test_a_gap_in_the_typical_day_is_unknown_not_empty() -> None:
    # Only 12:45 has a typical value; the rest of lunch is unknown and must not win as "0 %".
    typical = {12 * 60 + 45: 0.7}
    now = at(TODAY, 12, 0)
    best = best_time_to_go([(ms(now), 0.9)], typical, now)
    assert best.status == "ok"
    assert best.at in (now, at(TODAY, 12, 45))
    assert best.load is not None and best.load > 0.5


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        best_time_to_go([], {}, datetime(2026, 11, 26, 12, 0))


def test_opening_hours_are_the_canteen_meals() -> None:
    assert DEFAULT_SERVICE_HOURS[1] == (time(11, 0), time(13, 30))


def test_a_queue_outside_the_hours_is_never_called_closed() -> None:
    # 20:00, after dinner service by the hours, but 60 people queue and the hall is 95 % full.
    typical = lunch_curve()
    now = at(TODAY, 20, 0)
    best = best_time_to_go([(ms(now), 0.95)], typical, now, serving_now=True)
    assert best.status == "ok"
    assert best.at == now
    assert best.load == pytest.approx(0.95)
    # Without the queue, the same moment is closed.
    assert best_time_to_go([(ms(now), 0.95)], typical, now).status == "closed"


def test_the_hours_given_are_the_ones_used() -> None:
    # A canteen serving lunch 12:00-14:00 only: at 11:00 the best time is its opening, not 11:00.
    typical = {slot: 0.1 for slot in range(10 * 60, 15 * 60, 15)}
    now = at(TODAY, 11, 0)
    best = best_time_to_go([], typical, now, open_hours=((time(12, 0), time(14, 0)),))
    assert best.at == at(TODAY, 12, 0)


@given(
    loads=st.dictionaries(
        st.integers(min_value=0, max_value=95).map(lambda n: n * 15),
        st.floats(min_value=0, max_value=1.5),
        max_size=96,
    ),
    now_minute=st.integers(min_value=0, max_value=24 * 60 - 1),
    actual=st.one_of(st.none(), st.floats(min_value=0, max_value=1.5)),
)
def test_best_time_is_an_open_forecast_slot_with_the_lowest_load(
    loads: dict[int, float], now_minute: int, actual: float | None
) -> None:
    now = at(TODAY, now_minute // 60, now_minute % 60)
    today = [] if actual is None else [(ms(now), actual)]
    best = best_time_to_go(today, loads, now)
    if best.status != "ok":
        return
    assert best.at is not None and best.load is not None
    assert now <= best.at <= now + timedelta(hours=2)
    open_loads = [slot.load for slot in best.forecast if slot.open and slot.load is not None]
    assert best.load <= min(open_loads) + 0.005
    assert all(slot.load is None or slot.load >= 0 for slot in best.forecast)
    chosen = next(slot for slot in best.forecast if slot.start == best.at)
    assert chosen.open
