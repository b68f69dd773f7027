"""Canteen load curves and "the best time to go": pure functions of readings, curves and `now`.

A load is occupancy / capacity (0.0 empty, 1.0 full; a crowded hall may exceed 1.0). Curves are
bucketed into fixed slots of the local day (15 minutes by default), keyed by the slot's first minute
after local midnight, so that today's curve and the typical day line up slot for slot.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

from collector.registry import DEFAULT_SERVICE_HOURS

SLOT_MINUTES: Final = 15
HORIZON_MINUTES: Final = 120
TYPICAL_WEEKS: Final = 4
# How far back a reading still counts as "the load now". Canteen counters report every minute or
# so; older than this and the forecast falls back to the typical day alone.
FRESH_MINUTES: Final = 10
# How quickly today's deviation from the typical day fades out of the forecast. An hour matches how
# long a busier-than-usual lunch stays busier: the queue drains, the typical curve takes over again.
DECAY_MINUTES: Final = 60.0
Point = tuple[int, float]
"""(epoch milliseconds, load)"""
Curve = Mapping[int, float]
"""slot start, in minutes after local midnight -> load"""


def slot_of(moment: datetime, slot_minutes: int = SLOT_MINUTES) -> int:
    """The slot holding a local time: its first minute after midnight."""
    minute = moment.hour * 60 + moment.minute
    return minute - minute % slot_minutes


def _local(ts_ms: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz)


def _is_workday(day: date) -> bool:
    return day.weekday() < 5


def _mean_by_slot(pairs: Iterable[tuple[int, float]]) -> dict[int, float]:
    sums: dict[int, float] = defaultdict(float)
    counts: dict[int, int] = defaultdict(int)
    for slot, load in pairs:
        if math.isfinite(load):
            sums[slot] += load
            counts[slot] += 1
    return {slot: sums[slot] / counts[slot] for slot in sorted(sums)}


def day_curve(
    points: Iterable[Point], day: date, tz: ZoneInfo, slot_minutes: int = SLOT_MINUTES
) -> dict[int, float]:
    """The mean load per slot of one local day."""
    pairs = []
    for ts_ms, load in points:
        local = _local(ts_ms, tz)
        if local.date() == day:
            pairs.append((slot_of(local, slot_minutes), load))
    return _mean_by_slot(pairs)


def typical_day(
    points: Iterable[Point],
    today: date,
    tz: ZoneInfo,
    slot_minutes: int = SLOT_MINUTES,
    weeks: int = TYPICAL_WEEKS,
) -> dict[int, float]:
    """The mean load per slot over the previous `weeks` weeks' days of the same type as `today`.

    Workdays are compared with workdays and weekends with weekends: a Saturday lunch says nothing
    about a Tuesday one. Each day weighs the same, however many readings it sent, so one day with a
    chatty counter does not drown the others. Today itself is left out (it is what we compare with).
    """
    first = today - timedelta(days=7 * weeks)
    per_day: dict[date, list[tuple[int, float]]] = defaultdict(list)
    for ts_ms, load in points:
        local = _local(ts_ms, tz)
        day = local.date()
        if first <= day < today and _is_workday(day) == _is_workday(today):
            per_day[day].append((slot_of(local, slot_minutes), load))
    daily = [_mean_by_slot(pairs) for pairs in per_day.values()]
    return _mean_by_slot((slot, load) for curve in daily for slot, load in curve.items())


@dataclass(frozen=True, slots=True)
class ForecastSlot:
    start: datetime
    load: float | None  # None: the typical day has nothing for this moment
    open: bool


@dataclass(frozen=True, slots=True)
class BestTime:
    """The answer: when to go in the horizon, with the expected load, and the forecast behind it.

    `status` is `ok` (`at` and `load` set), `closed` (no open slot in the horizon) or `no_data`
    (no typical day and no reading now: nothing to base a forecast on).
    """

    status: Literal["ok", "closed", "no_data"]
    at: datetime | None
    load: float | None
    forecast: tuple[ForecastSlot, ...]


def _is_open(moment: datetime, open_hours: Sequence[tuple[time, time]]) -> bool:
    clock = moment.timetz().replace(tzinfo=None)
    return any(start <= clock < end for start, end in open_hours)


def _interpolate(curve: Curve, minute: float, slot_minutes: int) -> float | None:
    """The typical load at a minute of the day: each slot's value stands for its midpoint, and a
    minute between two midpoints gets the straight line between them. None inside a gap."""
    slot = int(minute // slot_minutes) * slot_minutes
    here = curve.get(slot)
    if here is None:
        return None
    mid = slot + slot_minutes / 2
    there = curve.get(slot + slot_minutes if minute >= mid else slot - slot_minutes)
    if there is None:
        return here
    frac = abs(minute - mid) / slot_minutes
    return here * (1 - frac) + there * frac


def best_time_to_go(
    today: Sequence[Point],
    typical: Curve,
    now: datetime,
    *,
    open_hours: Sequence[tuple[time, time]] = DEFAULT_SERVICE_HOURS,
    serving_now: bool = False,
    horizon_minutes: int = HORIZON_MINUTES,
    slot_minutes: int = SLOT_MINUTES,
    fresh_minutes: int = FRESH_MINUTES,
) -> BestTime:
    """When, in the next `horizon_minutes`, the canteen is expected to be least loaded.

    The forecast for a moment is the typical day's load then, scaled by how today compares with the
    typical day right now (a lunch running 20 % busier than usual is expected to stay busier), the
    scaling fading with time since the comparison says less the further ahead one looks. The
    candidates are now and each slot start in the horizon, only while the canteen is open
    (`open_hours`, the registry's service hours, local time). The earliest of equally good
    candidates wins: nobody should wait for the same queue.

    `serving_now`: the canteen reports people queuing right now. It is serving, whatever its hours
    say (a late lunch, hours out of date in the registry), so "now" is open: the board must never
    say "closed" beside a queue.

    `now` must be timezone-aware, in the canteen's time zone (its local clock decides the slots and
    the opening hours).
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now_ms = int(now.timestamp() * 1000)
    fresh = [p for p in today if now_ms - fresh_minutes * 60_000 <= p[0] <= now_ms]
    actual_now = max(fresh)[1] if fresh else None

    minute_now = now.hour * 60 + now.minute + now.second / 60
    typical_now = _interpolate(typical, minute_now, slot_minutes)
    if typical_now is None and actual_now is None:
        return BestTime("no_data", None, None, ())

    ratio = 1.0
    if actual_now is not None and typical_now is not None and typical_now > 0.02:
        # Clamped: a near-empty typical slot would otherwise turn one early diner into a 50x factor.
        ratio = min(max(actual_now / typical_now, 0.5), 2.0)

    candidates = [now]
    first_slot = now.replace(second=0, microsecond=0) - timedelta(minutes=now.minute % slot_minutes)
    step = first_slot + timedelta(minutes=slot_minutes)
    end = now + timedelta(minutes=horizon_minutes)
    while step <= end:
        candidates.append(step)
        step += timedelta(minutes=slot_minutes)

    forecast: list[ForecastSlot] = []
    for moment in candidates:
        ahead = (moment - now).total_seconds() / 60
        load: float | None
        if ahead == 0 and actual_now is not None:
            load = actual_now
        elif not typical:
            # No typical day yet: all we can say is that the load stays as it is.
            load = actual_now
        else:
            base = _interpolate(typical, moment.hour * 60 + moment.minute, slot_minutes)
            # A gap in the typical day is an unknown, not an empty hall.
            load = None if base is None else base * (1 + (ratio - 1) * math.exp(-ahead / DECAY_MINUTES))
        is_open = _is_open(moment, open_hours) or (serving_now and ahead == 0)
        forecast.append(ForecastSlot(moment, None if load is None else max(load, 0.0), is_open))

    open_slots = [slot for slot in forecast if slot.open]
    if not open_slots:
        return BestTime("closed", None, None, tuple(forecast))
    known = [(slot.start, slot.load) for slot in open_slots if slot.load is not None]
    if not known:
        return BestTime("no_data", None, None, tuple(forecast))
    # Loads within half a percentage point count as equal, so rounding noise does not send people
    # to a later slot for nothing.
    lowest = min(load for _, load in known)
    start, load = next((start, load) for start, load in known if load <= lowest + 0.005)
    return BestTime("ok", start, load, tuple(forecast))
