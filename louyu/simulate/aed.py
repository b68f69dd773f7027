"""AED cabinets: heartbeats as a pure function of (device, simulated time, seed).

- `battery_pct` drains slowly (0.08 % a day) and the battery is swapped before it falls
  under 22 %, so a healthy fleet never raises a low-battery alert by itself;
- pads last two years and are replaced 45 days before they expire;
- a self-test runs every night around 03:00; rarely (about once in 500 device-days) it
  fails and the cabinet reports `fault` until the morning service call fixes it;
- now and then (about once in 60 working days) a technician inspects it: `service` for
  20-40 minutes, cabinet closed;
- `temp_c` follows the lobby: about 22 degrees, warmer in the afternoon.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

from collector.registry import DeviceInfo
from louyu.simulate.clock import DAY_MS, day_start_ms, local_date

_H: Final = 3_600_000
_EPOCH_DAY: Final = dt.date(2020, 1, 1)
BATTERY_DRAIN_PER_DAY: Final = 0.08
BATTERY_SWAP_AT: Final = 22.0
PADS_LIFE_DAYS: Final = 730
PADS_REPLACED_BEFORE: Final = 45
FAULT_CHANCE: Final = 0.002
SERVICE_CHANCE: Final = 1 / 60


@dataclass(frozen=True, slots=True)
class AedReading:
    state: str
    cabinet_open: bool
    battery_pct: float
    pads_expiry: str
    temp_c: float


@dataclass(frozen=True, slots=True)
class AedDay:
    self_test_ms: int
    self_test: str
    fault: tuple[int, int] | None  # [start, end)
    service: tuple[int, int] | None


class AedModel:
    """One model for every AED of a registry; each device draws from its own seeded stream."""

    def __init__(self, timezone: str, seed: int = 0) -> None:
        self.seed = seed
        self.tz = ZoneInfo(timezone)
        self._plan = lru_cache(maxsize=4096)(self._day_plan)
        self._traits = lru_cache(maxsize=4096)(self._device_traits)

    def _device_traits(self, device: str) -> tuple[float, int, float, float]:
        rng = random.Random(f"{self.seed}/aed/{device}")
        battery_phase = rng.uniform(0, (100 - BATTERY_SWAP_AT) / BATTERY_DRAIN_PER_DAY)
        pads_phase = rng.randrange(PADS_LIFE_DAYS - PADS_REPLACED_BEFORE)
        temp_offset = rng.uniform(-1.5, 1.5)
        self_test_hour = rng.uniform(2.5, 3.5)
        return battery_phase, pads_phase, temp_offset, self_test_hour

    def _day_plan(self, device: str, day: dt.date) -> AedDay:
        rng = random.Random(f"{self.seed}/aed/{device}/{day.isoformat()}")
        midnight = day_start_ms(day, self.tz)
        test_ms = midnight + int(self._traits(device)[3] * _H)
        fault = None
        if rng.random() < FAULT_CHANCE:
            fault = (test_ms, midnight + int(rng.uniform(9.0, 11.0) * _H))
        service = None
        if day.weekday() < 5 and rng.random() < SERVICE_CHANCE:
            start = midnight + int(rng.uniform(10.0, 16.0) * _H)
            service = (start, start + int(rng.uniform(20, 40) * 60_000))
        return AedDay(test_ms, "fail" if fault else "pass", fault, service)

    def day_plan(self, device: DeviceInfo, t_ms: int) -> AedDay:
        return self._plan(device.device, local_date(t_ms, self.tz))

    def at(self, device: DeviceInfo, t_ms: int) -> AedReading:
        battery_phase, pads_phase, temp_offset, _ = self._traits(device.device)
        day = local_date(t_ms, self.tz)
        plan = self._plan(device.device, day)
        days = (t_ms - day_start_ms(_EPOCH_DAY, self.tz)) / DAY_MS
        span = (100 - BATTERY_SWAP_AT) / BATTERY_DRAIN_PER_DAY
        battery = 100 - ((days + battery_phase) % span) * BATTERY_DRAIN_PER_DAY
        cycle = PADS_LIFE_DAYS - PADS_REPLACED_BEFORE
        fitted = pads_phase + ((int(days) - pads_phase) // cycle) * cycle
        expiry = _EPOCH_DAY + dt.timedelta(days=fitted + PADS_LIFE_DAYS)
        hour = (t_ms - day_start_ms(day, self.tz)) / _H
        temp = 22.0 + temp_offset + 1.2 * math.sin((hour - 9.0) / 24 * 2 * math.pi)
        state = "ready"
        if plan.fault and plan.fault[0] <= t_ms < plan.fault[1]:
            state = "fault"
        elif plan.service and plan.service[0] <= t_ms < plan.service[1]:
            state = "service"
        return AedReading(state, False, round(battery, 1), expiry.isoformat(), round(temp, 1))
