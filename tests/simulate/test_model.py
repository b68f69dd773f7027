"""The simulated day, checked as pure functions of (simulated time, seed): no broker, no sleeping."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import orjson
import pytest

from collector.models import Reading
from collector.parsing import parse
from collector.registry import Registry
from louyu.simulate.aed import AedModel
from louyu.simulate.canteen import CanteenModel
from louyu.simulate.clock import day_start_ms
from louyu.simulate.model import MixedTraffic, iter_mixed_messages
from louyu.simulate.parking import ParkingModel

TZ = ZoneInfo("Asia/Shanghai")
THURSDAY = dt.date(2026, 11, 26)
SATURDAY = dt.date(2026, 11, 28)
H = 3_600_000
NOW_MS = day_start_ms(THURSDAY, TZ) + 15 * H


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(None)


@pytest.fixture(scope="module")
def parking(registry: Registry) -> ParkingModel:
    return ParkingModel(registry, seed=0)


def at(day: dt.date, hours: float) -> int:
    return day_start_ms(day, TZ) + int(hours * H)


def garage_ratio(parking: ParkingModel, t_ms: int) -> float:
    return sum(parking.occupancy(t_ms)) / len(parking.spaces)


def test_registry_gives_600_spaces_and_three_lots(parking: ParkingModel) -> None:
    assert len(parking.spaces) == 600
    assert {lot.device: len(parking.members[lot.device]) for lot in parking.lots} == {
        "garage": 600,
        "garage-b1": 300,
        "garage-b2": 300,
    }


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_working_day_fills_in_the_morning_and_empties_in_the_evening(registry: Registry, seed: int) -> None:
    parking = ParkingModel(registry, seed)
    night = garage_ratio(parking, at(THURSDAY, 5))
    early = garage_ratio(parking, at(THURSDAY, 7.4))
    mid_fill = garage_ratio(parking, at(THURSDAY, 8.5))
    filled = garage_ratio(parking, at(THURSDAY, 9.6))
    late_morning = garage_ratio(parking, at(THURSDAY, 10.5))
    evening = garage_ratio(parking, at(THURSDAY, 19.6))
    assert night < 0.1, "only a few overnight cars"
    assert night > 0, "a few overnight cars"
    assert early < 0.12
    assert early < mid_fill < filled
    assert 0.7 < late_morning < 0.95, "busy, but not full (the garage-full alert is for scenarios)"
    assert evening < 0.12


def test_most_arrivals_fall_between_0730_and_0930(parking: ParkingModel) -> None:
    garage = next(lot for lot in parking.lots if lot.device == "garage")
    before = parking.lot_counts(garage, at(THURSDAY, 7.5)).entered
    after = parking.lot_counts(garage, at(THURSDAY, 9.5)).entered
    noon = parking.lot_counts(garage, at(THURSDAY, 12)).entered
    assert after - before > 0.85 * noon
    departures = (
        parking.lot_counts(garage, at(THURSDAY, 19.5)).exited
        - parking.lot_counts(garage, at(THURSDAY, 17)).exited
    )
    assert departures > 400


def test_weekend_is_light(parking: ParkingModel) -> None:
    peak = max(garage_ratio(parking, at(SATURDAY, h / 2)) for h in range(48))
    assert peak < 0.2


@pytest.mark.parametrize("day", [THURSDAY, SATURDAY])
def test_lot_counts_equal_their_spaces_and_midnight_identity(parking: ParkingModel, day: dt.date) -> None:
    midnight = day_start_ms(day, TZ)
    at_midnight = {lot.device: parking.lot_counts(lot, midnight).occupied for lot in parking.lots}
    for minute in range(0, 24 * 60, 7):
        t = midnight + minute * 60_000
        occupancy = parking.occupancy(t)
        counts = parking.all_lot_counts(t)
        for lot in parking.lots:
            c = counts[lot.device]
            assert c.occupied == sum(occupancy[i] for i in parking.members[lot.device])
            assert c.occupied == at_midnight[lot.device] + c.entered - c.exited
            assert 0 <= c.occupied <= c.capacity
        assert counts["garage"].occupied == counts["garage-b1"].occupied + counts["garage-b2"].occupied


def test_same_seed_same_day_other_seed_other_day(registry: Registry) -> None:
    t = at(THURSDAY, 10)
    assert ParkingModel(registry, 3).occupancy(t) == ParkingModel(registry, 3).occupancy(t)
    assert ParkingModel(registry, 3).occupancy(t) != ParkingModel(registry, 4).occupancy(t)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_canteen_serves_900_sit_down_and_1400_takeaway_on_a_working_day(seed: int) -> None:
    canteen = CanteenModel(420, "Asia/Shanghai", seed)
    for day in (THURSDAY, THURSDAY - dt.timedelta(days=1)):
        served = canteen.day(day)
        assert served.sit_down_served == pytest.approx(900, rel=0.05)
        assert served.takeaway_collected == pytest.approx(1400, rel=0.05)
    weekend = canteen.day(SATURDAY)
    assert weekend.sit_down_served + weekend.takeaway_collected < 0.2 * 2300


def test_canteen_lunch_peaks_near_capacity_breakfast_and_dinner_small() -> None:
    canteen = CanteenModel(420, "Asia/Shanghai", 0)
    readings = {m: canteen.at(at(THURSDAY, m / 60)) for m in range(0, 24 * 60, 2)}
    peak_minute = max(readings, key=lambda m: readings[m].occupancy)
    peak = readings[peak_minute].occupancy
    assert 11.5 * 60 <= peak_minute <= 13.5 * 60
    assert 0.75 * 420 <= peak < 0.9 * 420, "near capacity, below the crowded threshold"
    breakfast = max(r.occupancy for m, r in readings.items() if 7 * 60 <= m < 10 * 60)
    dinner = max(r.occupancy for m, r in readings.items() if 17 * 60 <= m < 20 * 60)
    assert 0 < breakfast < 0.25 * peak
    assert 0 < dinner < 0.3 * peak
    assert readings[peak_minute - peak_minute % 2].queue_length > 10
    assert max(r.takeaway_pending for r in readings.values()) > 100
    night = [r for m, r in readings.items() if m < 6 * 60 or m > 21 * 60]
    assert all(r.occupancy == r.queue_length == r.takeaway_pending == 0 for r in night)
    assert all(r.occupancy <= r.capacity for r in readings.values())


def test_aed_heartbeat_fields_over_a_year(registry: Registry) -> None:
    model = AedModel(registry.timezone, seed=0)
    aeds = registry.devices("aed")
    assert len(aeds) == 21
    states: Counter[str] = Counter()
    fails = 0
    start = dt.date(2026, 1, 1)
    for offset in range(365):
        day = start + dt.timedelta(days=offset)
        for aed in aeds:
            t = at(day, 12)
            reading = model.at(aed, t)
            states[reading.state] += 1
            assert 22 <= reading.battery_pct <= 100
            assert (dt.date.fromisoformat(reading.pads_expiry) - day).days > 30, (
                "never inside the alert window"
            )
            assert 15 <= reading.temp_c <= 30
            plan = model.day_plan(aed, t)
            assert day_start_ms(day, TZ) + 2 * H < plan.self_test_ms < day_start_ms(day, TZ) + 4 * H
            fails += plan.self_test == "fail"
    assert states["ready"] > 0.97 * sum(states.values())
    assert 0 < fails < 60, "faults are rare, but they happen"


def test_aed_battery_drains_slowly(registry: Registry) -> None:
    model = AedModel(registry.timezone, seed=0)
    aed = registry.devices("aed")[0]
    drops = [
        model.at(aed, at(THURSDAY, 0)).battery_pct
        - model.at(aed, at(THURSDAY + dt.timedelta(days=d), 0)).battery_pct
        for d in (7, 30)
    ]
    # Either it drained by 0.08 % a day, or it was swapped for a full one in between.
    assert drops[0] == pytest.approx(0.56, abs=0.15) or drops[0] < -50
    assert drops[1] == pytest.approx(2.4, abs=0.15) or drops[1] < -50


def test_mixed_messages_are_all_valid_deterministic_and_of_every_kind(registry: Registry) -> None:
    messages = list(iter_mixed_messages(registry, 20_000, seed=0, now_ms=NOW_MS))
    assert len(messages) == 20_000
    assert messages == list(iter_mixed_messages(registry, 20_000, seed=0, now_ms=NOW_MS))
    assert messages != list(iter_mixed_messages(registry, 20_000, seed=1, now_ms=NOW_MS))
    kinds: Counter[str] = Counter()
    stamps = []
    for topic, payload in messages:
        result = parse(topic, payload, NOW_MS)
        assert isinstance(result, Reading), (topic, payload, result)
        kinds[result.kind] += 1
        stamps.append(result.ts_ms)
    assert set(kinds) == {"parking_space", "parking_lot", "aed", "canteen"}
    assert kinds["parking_space"] > kinds["aed"] > kinds["canteen"] > 0
    assert stamps == sorted(set(stamps)), "distinct, increasing timestamps"
    assert stamps[-1] == NOW_MS


def test_mixed_messages_carry_the_model_at_their_simulated_minute(registry: Registry) -> None:
    traffic = MixedTraffic(registry, seed=0, start_sim_ms=NOW_MS)
    parking = traffic.model.parking
    seen = Counter[str]()
    for n in range(3_000):
        kind, index = traffic.next_kind_device()
        minute = traffic.sim_ms - traffic.sim_ms % 60_000
        topic, payload = traffic.message(NOW_MS + n, kind, index)
        body = orjson.loads(payload)
        seen[kind] += 1
        if kind == "parking_space":
            assert body["occupied"] == parking.occupancy(minute)[index]
        elif kind == "parking_lot":
            lot = parking.lots[index]
            expected = parking.lot_counts(lot, minute)
            assert topic == f"louyu/darong-a/parking_lot/{lot.device}"
            assert (body["occupied"], body["entered"], body["exited"]) == (
                expected.occupied,
                expected.entered,
                expected.exited,
            )
    assert seen["parking_lot"] > 50
