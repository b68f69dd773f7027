"""On-duty schedules: is a receiver on duty at a given moment? Pure functions, `now` passed in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from rules.notify.config import WEEKDAYS, Receiver, RoutingConfig, Shift


def in_shift(shift: Shift, local: dt.datetime) -> bool:
    """Whether a local wall-clock time falls in the shift. A shift whose end is not after its start runs
    past midnight and belongs to the weekday it starts on (Friday 20:00-08:00 covers Saturday 03:00)."""
    clock = local.time().replace(tzinfo=None)
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    if shift.start < shift.end:
        return today in shift.days and shift.start <= clock < shift.end
    # Overnight: the evening part today, the morning part from yesterday's shift.
    return (today in shift.days and clock >= shift.start) or (yesterday in shift.days and clock < shift.end)


def on_duty(receiver: Receiver, now: dt.datetime, tz: ZoneInfo) -> bool:
    if not receiver.on_duty:
        return True
    local = now.astimezone(tz)
    return any(in_shift(shift, local) for shift in receiver.on_duty)


def on_duty_names(config: RoutingConfig, names: Iterable[str], now: dt.datetime) -> list[str]:
    """The receivers among `names` on duty at `now`, in order, without repeats."""
    seen: list[str] = []
    for name in names:
        if name not in seen and on_duty(config.receiver(name), now, config.tz):
            seen.append(name)
    return seen


def first_level_on_duty(
    config: RoutingConfig, levels: Sequence[Sequence[str]], start: int, now: dt.datetime
) -> tuple[int, list[str]] | None:
    """From level `start` on, the first level with somebody on duty, and who; None when nobody is."""
    for level in range(start, len(levels)):
        names = on_duty_names(config, levels[level], now)
        if names:
            return level, names
    return None
