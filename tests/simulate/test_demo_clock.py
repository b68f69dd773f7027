"""The simulator follows the area's clock (a demo's LOUYU_DEMO_CLOCK): its garage fills in the
simulated morning and its canteen fills at the simulated lunch, minutes of real time after the
start, whatever the real hour; every reading keeps its real time of sending (the contract's window).
First the traffic engine driven through real time in a loop, then the Simulator against a real
mosquitto."""

from __future__ import annotations

import datetime as dt
import time
from zoneinfo import ZoneInfo

import orjson
import pytest

from collector.area_clock import AreaClock, parse_clock, wall_ms
from collector.broker import BrokerTarget
from collector.models import Reading
from collector.parsing import parse
from collector.registry import Registry
from louyu.simulate.model import AreaModel
from louyu.simulate.publisher import Simulator
from louyu.simulate.traffic import Traffic
from louyu.testing.services import Mosquitto
from tests.simulate.test_publisher import Subscriber

TZ = ZoneInfo("Asia/Shanghai")
# Real time: Tuesday 24 November 2026, 22:00 in Qingdao; the canteen is long closed for real.
REAL_START = int(dt.datetime(2026, 11, 24, 22, 0, tzinfo=TZ).timestamp() * 1000)


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(None)


def area_hour(clock: AreaClock, real_ms: int) -> float:
    local = dt.datetime.fromtimestamp(clock.area_ms(real_ms) / 1000, TZ)
    return local.hour + local.minute / 60


def test_the_demo_day_has_its_morning_and_lunch_within_minutes(registry: Registry) -> None:
    clock = parse_clock("07:30x60", TZ, REAL_START)
    traffic = Traffic(AreaModel(registry, seed=0), clock.speed, real_ts=True)
    canteen: list[tuple[float, int, int]] = []  # (area hour, occupancy, queue)
    garage: list[tuple[float, int]] = []
    for k in range(8 * 60 * 2 + 1):  # eight real minutes, every half second
        real = REAL_START + k * 500
        for out in traffic.step(clock.area_ms(real), real, k * 0.5):
            result = parse(out.topic, out.payload, real)
            if not isinstance(result, Reading):
                continue
            assert result.ts_ms == real, "readings keep the real time of sending"
            if result.kind == "canteen":
                canteen.append(
                    (area_hour(clock, real), result.fields["occupancy"], result.fields["queue_length"])
                )
            elif result.kind == "parking_lot" and result.device == "garage":
                garage.append((area_hour(clock, real), result.fields["occupied"]))
    # The garage fills in the simulated morning (07:30 to 09:30: the first two real minutes).
    early = [n for h, n in garage if h < 7.6]
    late_morning = [n for h, n in garage if 10.0 <= h < 11.0]
    assert early and late_morning
    assert max(early) < 200 < 420 < min(late_morning)
    # The canteen is quiet at 10:30 and full, with a queue, at the simulated lunch (real minute 4.5).
    before = [n for h, n, _ in canteen if 10.0 <= h < 11.0]
    lunch = [(n, q) for h, n, q in canteen if 12.0 <= h < 12.75]
    assert before and lunch
    assert max(before) < 40
    assert max(n for n, _ in lunch) > 300 and max(q for _, q in lunch) > 10


@pytest.mark.integration
def test_the_simulator_on_the_demo_clock_fills_the_canteen_at_simulated_lunch(
    mosquitto: Mosquitto, registry: Registry
) -> None:
    # The area's clock reads 11:20 now and runs 300 times faster: lunch begins 2 real seconds in.
    now = wall_ms()
    day = dt.datetime.fromtimestamp(now / 1000, TZ).date()
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    anchor_area = int(dt.datetime.combine(day, dt.time(11, 20), TZ).timestamp() * 1000)
    clock = AreaClock(now, anchor_area, 300.0)
    subscriber = Subscriber(mosquitto.port, "louyu/darong-b/canteen/#")
    simulator = Simulator(
        BrokerTarget("127.0.0.1", mosquitto.port),
        registry=registry,
        area_clock=clock,
        availability=False,
        client_id="louyu-simulate-demo-clock",
    )
    simulator.start()
    try:
        deadline = time.monotonic() + 30
        readings: list[tuple[int, dict[str, int]]] = []
        while time.monotonic() < deadline:
            readings = [(r.ts_ms, r.fields) for r in _readings(subscriber)]
            if readings and area_hour(clock, readings[-1][0]) >= 12.2:
                break
            time.sleep(0.2)
    finally:
        simulator.stop()
        subscriber.close()
    assert simulator.error is None
    assert len(readings) >= 3, readings
    first_ts, first = readings[0]
    assert area_hour(clock, first_ts) < 11.5 and first["occupancy"] < 20
    last_ts, last = readings[-1]
    assert area_hour(clock, last_ts) >= 12.2, "the simulated lunch was reached within seconds"
    assert last["occupancy"] > 200 and last["queue_length"] > 5
    for ts, _ in readings:
        assert abs(ts - wall_ms()) < 60_000, "readings carry the real time of sending"


def _readings(subscriber: Subscriber) -> list[Reading]:
    out = []
    for topic, payload in subscriber.data():
        result = parse(topic, payload, orjson.loads(payload).get("ts") or wall_ms())
        if isinstance(result, Reading):
            out.append(result)
    return out


@pytest.mark.parametrize(("spec", "speed"), [("07:30x60", 60.0), ("09:00x30", 30.0)])
def test_the_demo_lunch_rush_comes_at_the_simulated_lunch_and_ends_with_it(
    registry: Registry, spec: str, speed: float
) -> None:
    from louyu.commands.up import demo_scenarios
    from louyu.simulate.scenarios import Effect, Scenario

    clock = parse_clock(spec, TZ, REAL_START)
    aed, rush = demo_scenarios(registry, clock, REAL_START)
    assert aed == "aed-cabinet-open@90s"  # real time: its alert's timers are real
    assert isinstance(rush, Scenario)

    def rushing(area: dt.time) -> bool:
        local = dt.datetime.fromtimestamp(clock.area_ms(REAL_START) / 1000, TZ)
        moment = dt.datetime.combine(local.date(), area, TZ)
        elapsed_s = clock.real_span(int((moment - local).total_seconds() * 1000)) / 1000
        effect = Effect()
        rush.apply(elapsed_s, effect)
        return "main-hall" in effect.canteen_fill

    assert clock.speed == speed
    assert not rushing(dt.time(11, 25))
    assert rushing(dt.time(12, 0)) and rushing(dt.time(13, 0))
    assert not rushing(dt.time(14, 30)) and not rushing(dt.time(16, 0))
