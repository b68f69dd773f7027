"""Simulated time: where it starts, how fast it runs, and which `ts` a payload may carry.

Simulated time is `start + (real elapsed) * speed`. The contract rejects a `ts` more than
5 minutes ahead or 7 days behind the receiver's clock, so payloads carry the simulated time
only when it runs at real pace inside that window; otherwise they carry the real time of
sending, so an accelerated day is never rejected.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from collector.area_clock import AreaClock, wall_ms
from collector.models import FUTURE_LIMIT_MS, PAST_LIMIT_MS
from louyu.simulate.errors import BadTimeError

DAY_MS: Final = 86_400_000
# Stay clear of the contract's window edges: clocks of sender and receiver differ a little.
_TS_MARGIN_MS: Final = 3_600_000
_DURATION_RE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNIT_S: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86_400.0}


def payload_ts(sim_ms: int, real_ms: int, speed: float, real_only: bool = False) -> int:
    """The `ts` to send: simulated time when it is real-paced and inside the contract's window
    (never with `real_only`, when the area's clock maps real timestamps into its day)."""
    if (
        not real_only
        and speed == 1.0
        and real_ms - PAST_LIMIT_MS + _TS_MARGIN_MS <= sim_ms <= real_ms + FUTURE_LIMIT_MS // 5
    ):
        return sim_ms
    return real_ms


@dataclass(frozen=True, slots=True)
class SimClock:
    """Maps real (monotonic) time to simulated epoch milliseconds."""

    start_sim_ms: int
    speed: float
    start_monotonic: float

    @classmethod
    def starting_now(cls, start_sim_ms: int | None, speed: float) -> SimClock:
        if speed <= 0:
            raise ValueError("speed must be positive")
        return cls(start_sim_ms if start_sim_ms is not None else wall_ms(), speed, time.monotonic())

    def elapsed_s(self) -> float:
        return time.monotonic() - self.start_monotonic

    def sim_ms(self, elapsed_s: float | None = None) -> int:
        elapsed = self.elapsed_s() if elapsed_s is None else elapsed_s
        return self.start_sim_ms + int(elapsed * self.speed * 1000)


class AreaTime:
    """Simulated time that follows the area's clock (collector/area_clock.py) rather than its own
    start: the board and the simulator then agree on the time of day to the millisecond."""

    def __init__(self, clock: AreaClock) -> None:
        self.clock = clock
        self.start_monotonic = time.monotonic()

    def elapsed_s(self) -> float:
        return time.monotonic() - self.start_monotonic

    def sim_ms(self, elapsed_s: float | None = None) -> int:
        return self.clock.area_ms(wall_ms())


def local_midnight_ms(t_ms: int, tz: ZoneInfo) -> int:
    """Epoch milliseconds of the local midnight that starts the day of `t_ms`."""
    local = dt.datetime.fromtimestamp(t_ms / 1000, tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1000)


def local_date(t_ms: int, tz: ZoneInfo) -> dt.date:
    return dt.datetime.fromtimestamp(t_ms / 1000, tz).date()


def day_start_ms(day: dt.date, tz: ZoneInfo) -> int:
    return int(dt.datetime.combine(day, dt.time(), tz).timestamp() * 1000)


def parse_start(value: str | None, tz: ZoneInfo, now_ms: int | None = None) -> int | None:
    """`--start`: `now`, `HH:MM` (today, local), a date, or an ISO 8601 date-time (local if no offset)."""
    if value is None or value.strip().lower() in ("", "now"):
        return None
    text = value.strip()
    now = dt.datetime.fromtimestamp((now_ms if now_ms is not None else wall_ms()) / 1000, tz)
    try:
        if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", text):
            clock = dt.time.fromisoformat(text.zfill(5) if len(text) == 4 else text)
            stamp = dt.datetime.combine(now.date(), clock, tz)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            stamp = dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), tz)
        else:
            stamp = dt.datetime.fromisoformat(text)
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=tz)
    except ValueError as error:
        raise BadTimeError("--start", value, "now, HH:MM, YYYY-MM-DD or an ISO 8601 date-time") from error
    return int(stamp.timestamp() * 1000)


def parse_duration(value: str, what: str = "duration") -> float:
    """Seconds from `90`, `90s`, `5m`, `1.5h`, `2d` or `250ms`."""
    match = _DURATION_RE.match(value)
    if not match:
        raise BadTimeError(what, value, "a number of seconds or a number with s, m, h or d")
    return float(match.group(1)) * _UNIT_S[match.group(2) or "s"]
