"""The building summary (pure): free parking per level, site and building without counting a
garage and its levels twice, AED readiness, canteen load, and one rule for stale and unknown."""

from __future__ import annotations

from typing import Any

import pytest

from collector.latest import LatestState, freshness
from collector.models import Availability, DeviceKey, Reading
from collector.registry import Registry
from collector.summary import AreaSummary, summarize

NOW = 1_800_000_000_000
MIN = 60_000
SITE = Registry.from_text(
    """
area: t
buildings:
  - id: garage-tower
    name: G
    devices:
      - {kind: parking_lot, id: garage, capacity: 100}
      - {kind: parking_lot, id: b1, part_of: garage, capacity: 50}
      - {kind: parking_lot, id: b2, part_of: garage, capacity: 50}
      - {kind: aed, id: aed-1}
      - {kind: aed, id: aed-2}
  - id: sensor-tower
    name: S
    devices:
      - {kind: canteen, id: hall, capacity: 200}
    groups:
      - {kind: parking_space, prefix: s-, count: 4}
  - id: twin-tower
    name: T
    devices:
      - {kind: parking_lot, id: north, capacity: 40}
      - {kind: parking_lot, id: south, capacity: 60}
  - id: no-parking
    name: N
"""
)


def area(*messages: Reading | Availability, now: int = NOW) -> AreaSummary:
    table = LatestState(SITE)
    for message in messages:
        table.apply(message)
    return summarize(SITE, table.snapshot(), now)


def r(building: str, kind: str, device: str, ago_min: float = 0, **fields: Any) -> Reading:
    return Reading(building, kind, device, NOW - int(ago_min * MIN), fields)


def parking(summary: AreaSummary, building: str) -> Any:
    found = summary.building(building)
    assert found is not None and found.parking is not None
    return found.parking


def test_a_garage_total_and_its_levels_are_never_added_together() -> None:
    levels = (
        r("garage-tower", "parking_lot", "b1", occupied=10),
        r("garage-tower", "parking_lot", "b2", occupied=20),
    )
    p = parking(area(*levels), "garage-tower")
    # No total counter: the site is the sum of its levels.
    assert (p.count.free, p.count.capacity, p.count.source) == (70, 100, "parts")
    assert [lv.count.free for lv in p.sites[0].levels] == [40, 30]
    # The total counter is fresh: it is the site's figure, whatever the levels say.
    p = parking(area(*levels, r("garage-tower", "parking_lot", "garage", occupied=25)), "garage-tower")
    assert (p.count.free, p.sites[0].count.source) == (75, "counter")
    # Stale total, levels fresh: the levels; stale total and one stale level: no figure, stale.
    p = parking(
        area(*levels, r("garage-tower", "parking_lot", "garage", ago_min=31, occupied=25)), "garage-tower"
    )
    assert p.count.free == 70
    p = parking(
        area(
            r("garage-tower", "parking_lot", "b1", occupied=10),
            r("garage-tower", "parking_lot", "b2", ago_min=31, occupied=20),
            r("garage-tower", "parking_lot", "garage", ago_min=31, occupied=25),
        ),
        "garage-tower",
    )
    assert (p.count.free, p.count.freshness, p.sites[0].counter.freshness) == (None, "stale", "stale")
    assert p.count.observed_ms == NOW - 31 * MIN and p.count.age_s == 31 * 60


def test_a_building_of_space_sensors_is_counted_when_every_sensor_is_fresh() -> None:
    three = [r("sensor-tower", "parking_space", f"s-00{n}", occupied=n == 1) for n in (1, 2, 3)]
    p = parking(area(*three), "sensor-tower")
    assert (p.count.free, p.count.freshness) == (None, "unknown")  # s-004 never reported
    assert (p.spaces.free, p.spaces.occupied, p.spaces.unknown) == (2, 1, 1)
    p = parking(
        area(*three, r("sensor-tower", "parking_space", "s-004", ago_min=5, occupied=False)), "sensor-tower"
    )
    assert (p.count.free, p.count.capacity, p.count.source) == (3, 4, "sensors")
    assert p.count.age_s == 5 * 60  # the oldest reading it rests on
    assert p.sites == () and p.loose == p.count


def test_two_separate_lots_add_up() -> None:
    north, south = (
        r("twin-tower", "parking_lot", "north", occupied=30),
        r("twin-tower", "parking_lot", "south", occupied=40),
    )
    assert parking(area(north, south), "twin-tower").count.free == 30
    assert parking(area(north), "twin-tower").count.free is None  # half a building is not its count
    # A counter over capacity means full, never negative.
    full = r("twin-tower", "parking_lot", "south", capacity=60, occupied=75)
    assert [s.count.free for s in parking(area(north, full), "twin-tower").sites] == [10, 0]


def test_an_offline_device_is_stale_whatever_the_age_of_its_reading() -> None:
    reading = r("twin-tower", "parking_lot", "north", occupied=30)
    offline = Availability("twin-tower", "parking_lot", "north", False, NOW - 1)
    north = parking(area(reading, offline), "twin-tower").sites[0]
    assert (north.count.free, north.count.freshness) == (None, "stale")


@pytest.mark.parametrize(
    ("kind", "ago_min", "expected"),
    [("aed", 14, "fresh"), ("aed", 16, "stale"), ("parking_lot", 29, "fresh"), ("parking_lot", 31, "stale")],
)
def test_one_staleness_rule_the_liveness_windows(kind: str, ago_min: float, expected: str) -> None:
    table = LatestState(None)
    table.apply(Reading("b", kind, "d", NOW - int(ago_min * MIN), {"x": 1}))
    assert freshness(table.get(DeviceKey("b", kind, "d")), NOW) == expected
    assert freshness(None, NOW) == "unknown"


def test_aed_readiness_and_canteen_load() -> None:
    summary = area(
        r("garage-tower", "aed", "aed-1", state="ready", cabinet_open=False),
        r("garage-tower", "aed", "aed-2", ago_min=16, state="ready"),
        r("sensor-tower", "canteen", "hall", occupancy=150, queue_length=12),
    )
    tower = summary.building("garage-tower")
    assert tower is not None and tower.aed is not None
    assert (tower.aed.total, tower.aed.ready, tower.aed.not_ready) == (2, 1, ["aed-2"])  # aed-2 silent
    canteen = summary.building("sensor-tower").canteens[0]  # type: ignore[union-attr]
    assert (canteen.load, canteen.capacity, canteen.queue_length, canteen.freshness) == (
        0.75,
        200,
        12,
        "fresh",
    )
    opened = area(r("garage-tower", "aed", "aed-1", state="ready", cabinet_open=True)).building(
        "garage-tower"
    )
    assert opened is not None and opened.aed is not None and opened.aed.ready == 0
    stale = area(r("sensor-tower", "canteen", "hall", ago_min=31, occupancy=150)).building("sensor-tower")
    assert stale is not None and (stale.canteens[0].load, stale.canteens[0].freshness) == (None, "stale")
    nothing = summary.building("no-parking")
    assert nothing is not None and (nothing.parking, nothing.aed, nothing.canteens) == (None, None, ())
