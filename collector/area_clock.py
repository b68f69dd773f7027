"""The area's clock: what time of day it is for the area. The one owner of that fact.

In production it is the real clock. A demo runs simulated time (`LOUYU_DEMO_CLOCK`, which
`louyu up --demo` sets to `07:30x60`): the area's day starts at 07:30 on a working day and runs
60 times faster, so the morning, the lunch rush and the afternoon pass within minutes whatever the
local time. Everything that reads the area's time of day asks this clock: the simulator (when
cars arrive, when people queue for lunch) and the board (service hours, the best time to go, its
own clock), so the board never says "closed" during the simulated lunch rush.

Readings keep real timestamps (the contract refuses old or future ones): a reading's moment in
the area's day is `area_ms(its ts)`, and a span of the area's day is looked up in the store as
`real_ms(start)..real_ms(end)`.

    area = anchor_area + (real - anchor_real) * speed

Before `anchor_real` there is no simulated day: nothing stored then belongs to it (`since_ms`).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

# `07:30x60`, `07:30 x 60`, `07:30*60`, `07:30x60@2026-11-30T08:00:00+08:00`, `2026-11-30T07:30x60`.
_SPEC: Final = re.compile(
    r"^\s*(?:(?P<date>\d{4}-\d{2}-\d{2})[T ])?(?P<time>\d{1,2}:\d{2})\s*"
    r"(?:[x*\u00d7]\s*(?P<speed>\d+(?:\.\d+)?))?\s*(?:@\s*(?P<anchor>\S+))?\s*$"
)
SPEC_HELP: Final = (
    "HH:MM[xSPEED][@ANCHOR], e.g. 07:30x60: the area's day starts at 07:30 (on the next working"
    " day, or YYYY-MM-DDTHH:MM for a given day) and runs SPEED times faster; ANCHOR (ISO 8601) is"
    " the real moment it reads HH:MM, by default when the process starts"
)


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


class ClockSpecError(ValueError):
    def __init__(self, spec: str) -> None:
        super().__init__(f"{spec!r} is not a demo clock: {SPEC_HELP}")


@dataclass(frozen=True, slots=True)
class AreaClock:
    """A linear map from real epoch milliseconds to the area's (simulated) epoch milliseconds."""

    anchor_real_ms: int = 0
    anchor_area_ms: int = 0
    speed: float = 1.0

    @property
    def simulated(self) -> bool:
        return self.speed != 1.0 or self.anchor_real_ms != self.anchor_area_ms

    def area_ms(self, real_ms: int) -> int:
        if not self.simulated:
            return real_ms
        return self.anchor_area_ms + round((real_ms - self.anchor_real_ms) * self.speed)

    def real_ms(self, area_ms: int) -> int:
        if not self.simulated:
            return area_ms
        return self.anchor_real_ms + round((area_ms - self.anchor_area_ms) / self.speed)

    def area_span(self, real_ms: int) -> int:
        """Area milliseconds that `real_ms` real milliseconds cover."""
        return round(real_ms * self.speed)

    def real_span(self, area_ms: int) -> int:
        """Real milliseconds that `area_ms` of the area's time take."""
        return round(area_ms / self.speed)

    @property
    def since_ms(self) -> int | None:
        """The first real moment of the simulated day (nothing before it is part of it); None: real."""
        return self.anchor_real_ms if self.simulated else None

    def area_now(self, real: dt.datetime, tz: ZoneInfo) -> dt.datetime:
        """The area's local time at the real moment `real` (timezone-aware)."""
        ms = self.area_ms(int(real.timestamp() * 1000))
        return dt.datetime.fromtimestamp(ms / 1000, tz)


REAL: Final = AreaClock()


def _next_working_day(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def parse_clock(spec: str | None, tz: ZoneInfo, now_ms: int | None = None) -> AreaClock:
    """The clock a `LOUYU_DEMO_CLOCK` value names; empty or None: the real clock.

    `HH:MM` is on the area's next working day (today if it is one): a demo shows a working day's
    lunch, whatever day it is run on.
    """
    if spec is None or not spec.strip():
        return REAL
    match = _SPEC.match(spec)
    if match is None:
        raise ClockSpecError(spec)
    try:
        clock_time = dt.time.fromisoformat(match["time"].zfill(5))
        speed = float(match["speed"]) if match["speed"] else 1.0
        if speed <= 0:
            raise ClockSpecError(spec)
        if match["anchor"]:
            anchor = dt.datetime.fromisoformat(match["anchor"].replace("Z", "+00:00"))
            if anchor.tzinfo is None:
                anchor = anchor.replace(tzinfo=tz)
            anchor_real_ms = int(anchor.timestamp() * 1000)
        else:
            anchor_real_ms = now_ms if now_ms is not None else wall_ms()
        if match["date"]:
            day = dt.date.fromisoformat(match["date"])
        else:
            day = _next_working_day(dt.datetime.fromtimestamp(anchor_real_ms / 1000, tz).date())
    except ValueError as error:
        raise ClockSpecError(spec) from error
    anchor_area_ms = int(dt.datetime.combine(day, clock_time, tz).timestamp() * 1000)
    return AreaClock(anchor_real_ms, anchor_area_ms, speed)


def check_spec(spec: str | None) -> str | None:
    """`spec` if it parses (for the settings' validation), else a ClockSpecError."""
    parse_clock(spec, ZoneInfo("UTC"), 0)
    return spec
