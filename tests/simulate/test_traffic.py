"""The traffic engine and the scenarios, driven through simulated time in a loop (no broker, no sleeping)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from collector.models import Availability, Reading
from collector.parsing import parse
from collector.registry import Registry
from louyu.simulate.clock import day_start_ms
from louyu.simulate.errors import UnknownScenarioError
from louyu.simulate.model import AreaModel
from louyu.simulate.scenarios import SCENARIO_NAMES, build_scenario, parse_scenario_spec
from louyu.simulate.traffic import Outgoing, Traffic

TZ = ZoneInfo("Asia/Shanghai")
H = 3_600_000
REAL_START = day_start_ms(dt.date(2026, 11, 26), TZ) + 15 * H  # "now" for the receiver


@dataclass
class Sent:
    elapsed: float
    real_ms: int
    out: Outgoing

    @property
    def device(self) -> str:
        return self.out.topic.split("/")[3]

    @property
    def body(self) -> dict[str, Any]:
        value: dict[str, Any] = orjson.loads(self.out.payload)
        return value


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(None)


def run(traffic: Traffic, sim_start: int, speed: float, seconds: float, step_s: float = 0.2) -> list[Sent]:
    sent: list[Sent] = []
    steps = int(seconds / step_s)
    for k in range(steps + 1):
        elapsed = k * step_s
        real = REAL_START + int(elapsed * 1000)
        sim = sim_start + int(elapsed * 1000 * speed)
        sent += [Sent(elapsed, real, o) for o in traffic.step(sim, real, elapsed)]
    return sent


def test_an_accelerated_day_is_valid_consistent_and_never_silent(registry: Registry) -> None:
    speed = 120.0
    sim_start = day_start_ms(dt.date(2026, 11, 26), TZ)  # a Thursday, from midnight
    traffic = Traffic(AreaModel(registry, seed=0), speed)
    sent = run(traffic, sim_start, speed, seconds=24 * 3600 / speed)
    kinds: Counter[str] = Counter()
    spaces: dict[str, bool] = {}
    last_heard: dict[str, int] = {}
    longest_silence: dict[str, int] = defaultdict(int)
    garage_levels = []
    for s in sent:
        result = parse(s.out.topic, s.out.payload, s.real_ms)
        assert isinstance(result, Reading | Availability), result
        if isinstance(result, Availability):
            assert result.online and s.out.retain
            continue
        assert result.ts_ms == s.real_ms, "accelerated: the real time of sending"
        kinds[result.kind] += 1
        key = str(result.key)
        if key in last_heard:
            longest_silence[result.kind] = max(longest_silence[result.kind], s.real_ms - last_heard[key])
        last_heard[key] = s.real_ms
        if result.kind == "parking_space":
            spaces[result.device] = bool(result.fields["occupied"])
        elif result.kind == "parking_lot":
            prefix = {"garage": "b", "garage-b1": "b1-", "garage-b2": "b2-"}[result.device]
            members = [v for k, v in spaces.items() if k.startswith(prefix)]
            assert len(members) == (600 if result.device == "garage" else 300)
            assert result.fields["occupied"] == sum(members), "a lot counts exactly its occupied spaces"
            if result.device == "garage":
                garage_levels.append((s.elapsed * speed / 3600, result.fields["occupied"]))
    assert len(last_heard) == 625, "every device reports"
    assert longest_silence["aed"] <= 5 * 60_000 + 1000, "AEDs beat well within the 15-minute silence"
    assert max(longest_silence.values()) <= 10 * 60_000 + 1000
    by_hour = {int(h): n for h, n in garage_levels}
    assert by_hour[6] < 60 and by_hour[11] > 420 and by_hour[21] < 60
    assert kinds["parking_space"] > kinds["parking_lot"] > kinds["canteen"] > 0


def test_real_paced_run_sends_simulated_time_as_ts(registry: Registry) -> None:
    sim_start = REAL_START - 2 * 24 * H  # two days ago, at real pace
    traffic = Traffic(AreaModel(registry, seed=0), 1.0)
    sent = run(traffic, sim_start, 1.0, seconds=2)
    readings = [parse(s.out.topic, s.out.payload, s.real_ms) for s in sent if not s.out.availability]
    assert readings
    for s, r in zip([s for s in sent if not s.out.availability], readings, strict=True):
        assert isinstance(r, Reading)
        assert r.ts_ms == sim_start + (s.real_ms - REAL_START)


def test_self_test_result_is_published_once_a_night(registry: Registry) -> None:
    speed = 600.0
    sim_start = day_start_ms(dt.date(2026, 11, 26), TZ)
    traffic = Traffic(AreaModel(registry, seed=0), speed)
    sent = run(traffic, sim_start, speed, seconds=24 * 3600 / speed, step_s=0.5)
    tests = Counter(
        s.device for s in sent if "/aed/" in s.out.topic and not s.out.availability and "self_test" in s.body
    )
    assert set(tests) == {d.device for d in registry.devices("aed")}
    assert set(tests.values()) == {1}


def test_aed_cabinet_open_opens_then_in_use_then_closes(registry: Registry) -> None:
    scenario = build_scenario("aed-cabinet-open", registry, at_s=10, scale=0.1)  # 4.5 s open, 48 s in use
    traffic = Traffic(AreaModel(registry, seed=0), 1.0, [scenario])
    sent = run(traffic, REAL_START, 1.0, seconds=80)
    aed = [s for s in sent if s.out.topic == "louyu/darong-b/aed/aed-b-1f-lobby"]
    timeline = [(s.elapsed, s.body["state"], s.body["cabinet_open"]) for s in aed]
    opened = next(t for t in timeline if t[2])
    in_use = next(t for t in timeline if t[1] == "in_use")
    closed = next(t for t in timeline if t[0] > in_use[0] and not t[2])
    assert opened[0] == pytest.approx(10, abs=0.3)
    assert opened[1:] == ("ready", True)
    assert in_use[0] == pytest.approx(14.5, abs=0.3) and in_use[2] is True
    assert closed[0] == pytest.approx(10 + 4.5 + 48, abs=0.3) and closed[1] == "ready"
    others = [s for s in sent if "/aed/" in s.out.topic and s.device != "aed-b-1f-lobby"]
    assert not any(s.body["cabinet_open"] for s in others if not s.out.availability)


def test_aed_cabinet_steps_are_each_sent_even_when_a_tick_jumps_past_them(registry: Registry) -> None:
    # Open for 0.225 s and in use for 2.4 s, ticked every 3 s (a loaded machine): every step is
    # still sent, in order, one tick each.
    scenario = build_scenario("aed-cabinet-open", registry, at_s=1, scale=0.005)
    traffic = Traffic(AreaModel(registry, seed=0), 1.0, [scenario])
    sent = run(traffic, REAL_START, 1.0, seconds=15, step_s=3.0)
    aed = [s for s in sent if s.out.topic == "louyu/darong-b/aed/aed-b-1f-lobby"]
    steps = [(s.body["state"], s.body["cabinet_open"]) for s in aed if s.elapsed > 0]
    assert steps[:3] == [("ready", True), ("in_use", True), ("ready", False)]
    assert [s.elapsed for s in aed if s.elapsed > 0][:3] == [3.0, 6.0, 9.0]


def test_sensor_outage_silences_devices_and_says_offline_then_online(registry: Registry) -> None:
    scenario = build_scenario("sensor-outage", registry, at_s=5, scale=0.05)  # 60 s outage
    traffic = Traffic(AreaModel(registry, seed=0), 60.0, [scenario])
    sent = run(traffic, REAL_START, 60.0, seconds=100)
    offline = [s for s in sent if s.out.availability and s.out.payload == b"offline"]
    assert len(offline) == 13 and all(s.out.retain and s.elapsed == pytest.approx(5) for s in offline)
    silenced = {s.out.topic.removesuffix("/availability") for s in offline}
    assert "louyu/darong-q/aed/aed-q-1f-lobby" in silenced
    during = [s for s in sent if 5 <= s.elapsed < 65 and s.out.topic in silenced]
    assert during == []
    back = [s for s in sent if s.out.availability and s.out.payload == b"online" and s.elapsed > 0]
    assert {s.out.topic.removesuffix("/availability") for s in back} == silenced
    after = {s.out.topic for s in sent if s.elapsed >= 65 and not s.out.availability}
    assert silenced <= after, "each device reports as soon as it is back"


def test_garage_full_holds_above_95_percent_then_clears(registry: Registry) -> None:
    scenario = build_scenario("garage-full", registry, at_s=0, scale=1.0)  # 60 s fill, 300 s hold, 60 s out
    speed = 1.0
    sim_start = day_start_ms(dt.date(2026, 11, 26), TZ) + 7 * H  # an empty garage at 07:00
    traffic = Traffic(AreaModel(registry, seed=0), speed, [scenario])
    sent = run(traffic, sim_start, speed, seconds=480, step_s=1.0)
    garage = [
        (s.elapsed, s.body["occupied"] / s.body["capacity"]) for s in sent if s.out.topic.endswith("/garage")
    ]
    full = [t for t, ratio in garage if ratio >= 0.95]
    assert full and max(full) - min(full) >= 290, "above 95 % for about five minutes"
    assert all(ratio < 0.9 for t, ratio in garage if t >= 425)
    assert max(t - u for (u, _), (t, _) in itertools.pairwise(garage) if 60 <= u <= 360) <= 60


def test_lunch_rush_pushes_the_canteen_above_90_percent_for_over_five_minutes(registry: Registry) -> None:
    scenario = build_scenario("lunch-rush", registry, at_s=0, scale=1.0)
    sim_start = day_start_ms(dt.date(2026, 11, 26), TZ) + 11 * H + 40 * 60_000
    traffic = Traffic(AreaModel(registry, seed=0), 1.0, [scenario])
    sent = run(traffic, sim_start, 1.0, seconds=900, step_s=1.0)
    canteen = [(s.elapsed, s.body) for s in sent if "/canteen/" in s.out.topic and not s.out.availability]
    crowded = [t for t, body in canteen if body["occupancy"] / body["capacity"] >= 0.9]
    assert max(crowded) - min(crowded) >= 5 * 60
    assert all(body["occupancy"] <= body["capacity"] for _, body in canteen)
    assert max(body["queue_length"] for _, body in canteen) > 60


def test_several_scenarios_at_offsets_and_unknown_names(registry: Registry) -> None:
    assert set(SCENARIO_NAMES) == {"aed-cabinet-open", "sensor-outage", "garage-full", "lunch-rush"}
    assert parse_scenario_spec("garage-full@5m") == ("garage-full", "5m")
    assert parse_scenario_spec("lunch-rush") == ("lunch-rush", None)
    with pytest.raises(UnknownScenarioError, match="garage-empty"):
        build_scenario("garage-empty", registry)
    scenarios = [build_scenario(n, registry, at_s=30) for n in SCENARIO_NAMES]
    traffic = Traffic(AreaModel(registry, seed=0), 1.0, scenarios)
    assert traffic.effect(29.9).silenced == set() and traffic.active == []
    effect = traffic.effect(31)
    assert set(traffic.active) == set(SCENARIO_NAMES)
    assert effect.aed and effect.silenced and effect.lot_fill and effect.canteen_fill
    assert not traffic.scenarios_finished(100) and traffic.scenarios_finished(30 + 1200)
