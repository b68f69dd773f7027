"""The garage: who parks where and when, as a pure function of (simulated time, seed).

Every parking space has a role, fixed by the seed: most belong to commuters (arrive between
07:30 and 09:30, leave between 17:00 and 19:30 local time, on working days), a few are
visitor bays (short stays in office hours), a few hold overnight cars. Weekends are light.
Each (space, day) draws its stays from its own seeded generator, so any moment of any day is
computed directly, without simulating the days before it.

A lot counts the spaces whose `lot` names it; a lot that no space names (such as `garage`)
counts every space of its building. `entered` and `exited` count arrivals and departures
since local midnight, so `occupied = occupied at midnight + entered - exited`.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

from collector.registry import DeviceInfo, Registry
from louyu.simulate.clock import day_start_ms, local_date

_H: Final = 3_600_000
_MIN: Final = 60_000

COMMUTER_SHARE: Final = 0.86
VISITOR_SHARE: Final = 0.10  # the rest hold overnight cars
ATTENDANCE: Final = 0.93  # commuters who drive in on a working day
STAYS_OVERNIGHT: Final = 0.02  # commuters who leave the car until the next morning
WEEKEND_VISIT: Final = 0.07

Stay = tuple[int, int]  # [start, end) in epoch milliseconds


@dataclass(frozen=True, slots=True)
class LotCounts:
    occupied: int
    capacity: int
    entered: int
    exited: int


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _role(seed: int, space: DeviceInfo) -> str:
    draw = random.Random(f"{seed}/role/{space.building}/{space.device}").random()
    if draw < COMMUTER_SHARE:
        return "commuter"
    if draw < COMMUTER_SHARE + VISITOR_SHARE:
        return "visitor"
    return "overnight"


def _draw_stays(seed: int, space: DeviceInfo, role: str, day: dt.date, midnight: int) -> list[Stay]:
    """The stays that begin on `day` (they may end the next morning)."""
    rng = random.Random(f"{seed}/stays/{space.building}/{space.device}/{day.isoformat()}")
    working_day = day.weekday() < 5
    stays: list[Stay] = []

    def at(hours: float) -> int:
        return midnight + int(hours * _H)

    if role == "commuter":
        if working_day and rng.random() < ATTENDANCE:
            arrive = _clamp(rng.gauss(8.45, 0.4), 7.5, 9.5)
            if rng.random() < STAYS_OVERNIGHT:
                leave = 24 + _clamp(rng.gauss(8.0, 0.3), 7.0, 9.0)
            else:
                leave = _clamp(rng.gauss(18.0, 0.5), 17.0, 19.5)
            if rng.random() < 0.08:  # out for lunch: the space is free for a while
                out = _clamp(rng.gauss(12.0, 0.25), 11.5, 12.75)
                back = out + rng.uniform(0.6, 1.3)
                stays += [(at(arrive), at(out)), (at(back), at(leave))]
            else:
                stays.append((at(arrive), at(leave)))
        elif not working_day and rng.random() < WEEKEND_VISIT:
            start = rng.uniform(9.5, 15.0)
            stays.append((at(start), at(start + rng.uniform(1.0, 5.0))))
    elif role == "visitor":
        visits = rng.choice((0, 1, 1, 2, 2, 3)) if working_day else rng.choice((0, 0, 0, 1))
        hour = rng.uniform(9.0, 10.5)
        for _ in range(visits):
            length = rng.uniform(0.5, 2.5)
            if hour + length > 18.0:
                break
            stays.append((at(hour), at(hour + length)))
            hour += length + rng.uniform(0.2, 1.5)
    elif rng.random() < 0.9:  # overnight: in the evening, out the next morning
        stays.append((at(rng.uniform(18.5, 22.5)), at(24 + rng.uniform(6.5, 8.5))))
    return stays


def _merge(stays: list[Stay]) -> tuple[Stay, ...]:
    merged: list[Stay] = []
    for start, end in sorted(stays):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


class ParkingModel:
    """Space occupancy and lot counters of a registry's garages, for any simulated moment."""

    def __init__(self, registry: Registry, seed: int = 0) -> None:
        self.seed = seed
        self.tz = ZoneInfo(registry.timezone)
        self.spaces: list[DeviceInfo] = registry.devices("parking_space")
        self.lots: list[DeviceInfo] = registry.devices("parking_lot")
        self._roles = [_role(seed, space) for space in self.spaces]
        self.members: dict[str, list[int]] = {}
        for lot in self.lots:
            own = [i for i, s in enumerate(self.spaces) if s.building == lot.building and s.lot == lot.device]
            if not own:
                own = [i for i, s in enumerate(self.spaces) if s.building == lot.building]
            self.members[lot.device] = own
        self._day_cache = lru_cache(maxsize=8)(self._day_stays)

    def role(self, index: int) -> str:
        return self._roles[index]

    def capacity(self, lot: DeviceInfo) -> int:
        return lot.capacity or max(1, len(self.members[lot.device]))

    def _day_stays(self, day: dt.date) -> tuple[int, tuple[tuple[Stay, ...], ...]]:
        """Local midnight of `day` and, per space, its merged stays that touch the day."""
        midnight = day_start_ms(day, self.tz)
        previous = day - dt.timedelta(days=1)
        previous_midnight = day_start_ms(previous, self.tz)
        per_space = []
        for space, role in zip(self.spaces, self._roles, strict=True):
            stays = _draw_stays(self.seed, space, role, previous, previous_midnight)
            stays += _draw_stays(self.seed, space, role, day, midnight)
            per_space.append(tuple(s for s in _merge(stays) if s[1] > midnight))
        return midnight, tuple(per_space)

    def stays(self, index: int, day: dt.date) -> tuple[Stay, ...]:
        return self._day_cache(day)[1][index]

    def occupancy(self, t_ms: int) -> list[bool]:
        """Whether each space (in `self.spaces` order) is occupied at `t_ms`."""
        _, per_space = self._day_cache(local_date(t_ms, self.tz))
        return [any(start <= t_ms < end for start, end in stays) for stays in per_space]

    def occupied(self, index: int, t_ms: int) -> bool:
        return any(start <= t_ms < end for start, end in self.stays(index, local_date(t_ms, self.tz)))

    def lot_counts(self, lot: DeviceInfo, t_ms: int) -> LotCounts:
        """Counters of one lot at `t_ms`; arrivals and departures count from local midnight."""
        midnight, per_space = self._day_cache(local_date(t_ms, self.tz))
        occupied = entered = exited = 0
        for i in self.members[lot.device]:
            for start, end in per_space[i]:
                if start <= t_ms < end:
                    occupied += 1
                if midnight < start <= t_ms:
                    entered += 1
                if midnight < end <= t_ms:
                    exited += 1
        return LotCounts(occupied, self.capacity(lot), entered, exited)

    def all_lot_counts(self, t_ms: int) -> dict[str, LotCounts]:
        return {lot.device: self.lot_counts(lot, t_ms) for lot in self.lots}
