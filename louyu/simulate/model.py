"""The Darong area as a model: every device's reading at any simulated moment, and payloads.

`AreaModel` bundles the garage (`parking.py`), the canteen (`canteen.py`) and the AED
cabinets (`aed.py`): pure functions of (simulated time, seed). `MixedTraffic` and
`iter_mixed_messages` walk a simulated day and yield a realistic mix of all four kinds, each
payload valid under the contract (benchmarks and `louyu simulate --rate` use them).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import orjson

from collector.area_clock import wall_ms
from collector.registry import DeviceInfo, Registry
from louyu.simulate.aed import AedModel, AedReading
from louyu.simulate.canteen import CanteenModel, CanteenReading
from louyu.simulate.clock import DAY_MS, local_midnight_ms
from louyu.simulate.parking import LotCounts, ParkingModel

# Share of each kind in the mix: close to a real day of the Darong area, where the 600 space
# sensors send most of the messages (their heartbeats), and one canteen the fewest.
MIX_WEIGHTS: Final = {"parking_space": 0.80, "parking_lot": 0.08, "aed": 0.09, "canteen": 0.03}
SPACE_BATTERY_DRAIN_PER_DAY: Final = 0.04


def topic(device: DeviceInfo) -> str:
    return f"louyu/{device.building}/{device.kind}/{device.device}"


def availability_topic(device: DeviceInfo) -> str:
    return f"{topic(device)}/availability"


def space_payload(ts: int | None, occupied: bool, battery_pct: float | None = None) -> bytes:
    body: dict[str, object] = {} if ts is None else {"ts": ts}
    body["occupied"] = occupied
    if battery_pct is not None:
        body["battery_pct"] = float(battery_pct)
    return orjson.dumps(body)


def lot_payload(ts: int | None, counts: LotCounts) -> bytes:
    body: dict[str, object] = {} if ts is None else {"ts": ts}
    body.update(
        occupied=counts.occupied, capacity=counts.capacity, entered=counts.entered, exited=counts.exited
    )
    return orjson.dumps(body)


def aed_payload(ts: int | None, reading: AedReading, self_test: str | None = None) -> bytes:
    body: dict[str, object] = {} if ts is None else {"ts": ts}
    body.update(
        state=reading.state,
        cabinet_open=reading.cabinet_open,
        battery_pct=float(reading.battery_pct),
        pads_expiry=reading.pads_expiry,
        temp_c=float(reading.temp_c),
    )
    if self_test is not None:
        body["self_test"] = self_test
    return orjson.dumps(body)


def canteen_payload(ts: int | None, reading: CanteenReading) -> bytes:
    body: dict[str, object] = {} if ts is None else {"ts": ts}
    body.update(
        occupancy=reading.occupancy,
        capacity=reading.capacity,
        queue_length=reading.queue_length,
        takeaway_pending=reading.takeaway_pending,
    )
    return orjson.dumps(body)


class AreaModel:
    """Every simulated device of a registry, as pure functions of (simulated time, seed)."""

    def __init__(self, registry: Registry, seed: int = 0) -> None:
        self.registry = registry
        self.seed = seed
        self.parking = ParkingModel(registry, seed)
        self.aed = AedModel(registry.timezone, seed)
        self.aeds: list[DeviceInfo] = registry.devices("aed")
        self.canteens: list[DeviceInfo] = registry.devices("canteen")
        self.canteen_models = {
            c.device: CanteenModel(c.capacity or 300, registry.timezone, seed) for c in self.canteens
        }
        self._space_battery = [
            random.Random(f"{seed}/space-battery/{s.building}/{s.device}").uniform(0, 1) for s in self.spaces
        ]

    @property
    def spaces(self) -> list[DeviceInfo]:
        return self.parking.spaces

    @property
    def lots(self) -> list[DeviceInfo]:
        return self.parking.lots

    def devices(self) -> list[DeviceInfo]:
        return [*self.spaces, *self.lots, *self.aeds, *self.canteens]

    def space_battery(self, index: int, t_ms: int) -> float:
        """Space sensors run five years or so on a battery, swapped when it reaches 25 %."""
        span = 75 / SPACE_BATTERY_DRAIN_PER_DAY
        days = t_ms / DAY_MS + self._space_battery[index] * span
        return round(100 - (days % span) * SPACE_BATTERY_DRAIN_PER_DAY, 1)

    def canteen(self, device: DeviceInfo, t_ms: int) -> CanteenReading:
        return self.canteen_models[device.device].at(t_ms)


@dataclass(slots=True)
class _Minute:
    start_ms: int
    occupancy: list[bool]
    lots: dict[str, LotCounts] | None = None


class MixedTraffic:
    """An endless, deterministic mix of all four kinds, walking simulated time one second a message.

    The caller gives each message its `ts`; readings come from the simulated moment, so a lot's
    counters always match the spaces sent around it.
    """

    SIM_STEP_MS: Final = 1000

    def __init__(self, registry: Registry, seed: int = 0, start_sim_ms: int | None = None) -> None:
        self.model = AreaModel(registry, seed)
        self._rng = random.Random(f"{seed}/mix")
        base = start_sim_ms if start_sim_ms is not None else wall_ms()
        # Start the walk at 07:00 local, so even a short run sees the morning fill.
        self.sim_ms = local_midnight_ms(base, self.model.parking.tz) + 7 * 3_600_000
        present = [k for k in MIX_WEIGHTS if self._devices(k)]
        if not present:
            raise ValueError("the registry has no device to simulate")
        self._kinds = present
        self._weights = [MIX_WEIGHTS[k] for k in present]
        self._next: dict[str, int] = dict.fromkeys(present, 0)
        self._minute: _Minute | None = None

    def _devices(self, kind: str) -> list[DeviceInfo]:
        return {
            "parking_space": self.model.spaces,
            "parking_lot": self.model.lots,
            "aed": self.model.aeds,
            "canteen": self.model.canteens,
        }[kind]

    def _current_minute(self) -> _Minute:
        start = self.sim_ms - self.sim_ms % 60_000
        if self._minute is None or self._minute.start_ms != start:
            self._minute = _Minute(start, self.model.parking.occupancy(start))
        return self._minute

    def next_kind_device(self) -> tuple[str, int]:
        kind = self._rng.choices(self._kinds, self._weights)[0]
        index = self._next[kind]
        self._next[kind] = (index + 1) % len(self._devices(kind))
        return kind, index

    def message(self, ts: int | None, kind: str, index: int) -> tuple[str, bytes]:
        """The payload of device `index` of `kind` at the current simulated moment; then step on."""
        device = self._devices(kind)[index]
        minute = self._current_minute()
        if kind == "parking_space":
            battery = self.model.space_battery(index, self.sim_ms) if index % 4 == 0 else None
            payload = space_payload(ts, minute.occupancy[index], battery)
        elif kind == "parking_lot":
            if minute.lots is None:
                minute.lots = self.model.parking.all_lot_counts(minute.start_ms)
            payload = lot_payload(ts, minute.lots[device.device])
        elif kind == "aed":
            test = "pass" if self._rng.random() < 0.05 else None
            reading = self.model.aed.at(device, self.sim_ms)
            payload = aed_payload(ts, reading, test if reading.state != "fault" else "fail")
        else:
            payload = canteen_payload(ts, self.model.canteen(device, self.sim_ms))
        self.sim_ms += self.SIM_STEP_MS
        return topic(device), payload


def iter_mixed_messages(
    registry: Registry, count: int, seed: int = 0, now_ms: int | None = None
) -> Iterator[tuple[str, bytes]]:
    """`count` (topic, payload) pairs: a deterministic realistic mix of all four kinds, all valid.

    The `ts` values are distinct and increasing, one millisecond apart, the last equal to
    `now_ms` (default: the wall clock), so no two readings of a device share a timestamp.
    """
    now = now_ms if now_ms is not None else wall_ms()
    traffic = MixedTraffic(registry, seed, now)
    first_ts = now - (count - 1)
    for i in range(count):
        kind, index = traffic.next_kind_device()
        yield traffic.message(first_ts + i, kind, index)
