"""The staff canteen: a day of meals as a pure function of (simulated day, seed).

A working day serves about 900 sit-down and 1,400 takeaway meals: a small breakfast, a lunch
peak between 11:30 and 13:30 that fills the hall to near its capacity, a small dinner.
Weekends serve a skeleton staff. The day is computed minute by minute as a small fluid
model (people arrive, queue at the serving line, eat, leave; takeaway orders wait to be
collected) and cached, so any moment is a lookup.

- `queue_length`: diners at the serving line (about three minutes to pass it, longer when
  the line cannot keep up or the hall has no free seat);
- `occupancy`: diners seated, each for the meal's dwell time;
- `takeaway_pending`: takeaway orders placed and not yet collected.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Final
from zoneinfo import ZoneInfo

from louyu.simulate.clock import day_start_ms, local_date

MINUTES: Final = 1440
SIT_DOWN_PER_DAY: Final = 900
TAKEAWAY_PER_DAY: Final = 1400
WEEKEND_SHARE: Final = 0.12
LINE_MINUTES: Final = 3.0  # time to pass the serving counters when nobody waits
TAKEAWAY_WAIT_MINUTES: Final = 12  # from order to collection


@dataclass(frozen=True, slots=True)
class Meal:
    name: str
    opens: float  # local hour
    closes: float
    sit_down: int
    takeaway: int
    dwell_min: int  # minutes a diner stays seated
    line_per_min: float  # diners the serving line passes per minute
    peak_at: float  # where arrivals peak, as a fraction of the opening hours


MEALS: Final = (
    Meal("breakfast", 7.0, 9.0, 110, 250, 14, 8.0, 0.55),
    Meal("lunch", 11.5, 13.5, 690, 950, 32, 16.0, 0.38),
    Meal("dinner", 17.5, 19.0, 100, 200, 24, 8.0, 0.4),
)


@dataclass(frozen=True, slots=True)
class CanteenReading:
    occupancy: int
    capacity: int
    queue_length: int
    takeaway_pending: int


@dataclass(frozen=True, slots=True)
class CanteenDay:
    """Per-minute figures of one day (index = minute since local midnight)."""

    midnight_ms: int
    occupancy: tuple[float, ...]
    queue: tuple[float, ...]
    pending: tuple[float, ...]
    sit_down_served: float
    takeaway_collected: float


def _arrival_shape(minutes: int, peak_at: float) -> list[float]:
    """A skewed bump over the opening minutes that peaks at `peak_at` and sums to 1."""
    a = 2.5
    b = a * (1 - peak_at) / peak_at
    weights = [
        ((m + 0.5) / minutes) ** (a - 1) * (1 - (m + 0.5) / minutes) ** (b - 1) for m in range(minutes)
    ]
    total = sum(weights)
    return [w / total for w in weights]


def simulate_day(day: dt.date, capacity: int, seed: int, tz: ZoneInfo) -> CanteenDay:
    rng = random.Random(f"{seed}/canteen/{day.isoformat()}")
    scale = (1.0 if day.weekday() < 5 else WEEKEND_SHARE) * (1 + rng.uniform(-0.03, 0.03))
    sit_arrivals = [0.0] * MINUTES
    orders = [0.0] * MINUTES
    line_rate = [0.0] * MINUTES
    dwell = [30] * MINUTES
    for meal in MEALS:
        first, last = int(meal.opens * 60), int(meal.closes * 60)
        shape = _arrival_shape(last - first, meal.peak_at)
        for offset, share in enumerate(shape):
            m = first + offset
            sit_arrivals[m] += meal.sit_down * scale * share
            orders[m] += meal.takeaway * scale * share
        # The line keeps serving a little after the doors close, and the last diners eat.
        for m in range(first, min(MINUTES, last + 30)):
            line_rate[m] = meal.line_per_min
            dwell[m] = meal.dwell_min
    queue = [0.0] * MINUTES
    occupancy = [0.0] * MINUTES
    pending = [0.0] * MINUTES
    leaving = [0.0] * (MINUTES + 120)  # diners who get up in minute m
    seated_in = [0.0] * MINUTES  # diners who sat down in minute m
    waiting = 0.0  # beyond the line's own passage time
    in_line: list[float] = [0.0] * MINUTES
    seated = 0.0
    for m in range(MINUTES):
        seated = max(0.0, seated - leaving[m])
        in_line[m] = sit_arrivals[m]
        # Diners reach the end of the line LINE_MINUTES after they join it, if the line keeps up.
        ready = waiting + (in_line[m - int(LINE_MINUTES)] if m >= LINE_MINUTES else 0.0)
        can_serve = min(line_rate[m], max(0.0, capacity - seated)) if line_rate[m] else ready
        served = min(ready, can_serve)
        waiting = ready - served
        seated += served
        seated_in[m] = served
        leaving[m + dwell[m]] += served
        recent = sum(in_line[max(0, m - int(LINE_MINUTES) + 1) : m + 1])
        queue[m] = waiting + recent
        occupancy[m] = seated
        pending[m] = sum(orders[max(0, m - TAKEAWAY_WAIT_MINUTES + 1) : m + 1])
    return CanteenDay(
        day_start_ms(day, tz),
        tuple(occupancy),
        tuple(queue),
        tuple(pending),
        sum(seated_in),
        sum(orders),
    )


class CanteenModel:
    """Readings of one canteen for any simulated moment."""

    def __init__(self, capacity: int, timezone: str, seed: int = 0) -> None:
        self.capacity = capacity
        self.seed = seed
        self.tz = ZoneInfo(timezone)
        self.day = lru_cache(maxsize=4)(self._day)

    def _day(self, day: dt.date) -> CanteenDay:
        return simulate_day(day, self.capacity, self.seed, self.tz)

    def at(self, t_ms: int) -> CanteenReading:
        day = self.day(local_date(t_ms, self.tz))
        position = (t_ms - day.midnight_ms) / 60_000
        m = min(MINUTES - 1, int(position))
        following = min(MINUTES - 1, m + 1)
        frac = position - m

        def value(series: tuple[float, ...]) -> int:
            base = series[m] + (series[following] - series[m]) * frac
            # A little noise, as people counters have: fixed per (minute, seed) so repeatable.
            wobble = math.sin((m * 7919 + self.seed * 104729) % 1000) * 0.01 * base
            return max(0, round(base + wobble))

        return CanteenReading(
            min(self.capacity, value(day.occupancy)),
            self.capacity,
            value(day.queue),
            value(day.pending),
        )
