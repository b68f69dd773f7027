"""Serve the public board: gather its inputs, build it, keep it cached.

Three clocks, from fast to slow: the board JSON is rebuilt at most every `ttl_s` seconds (live
readings come from memory, so this is cheap); today's canteen curve is re-read from InfluxDB at
most every `today_ttl_s`; the typical day (four weeks of history) once an hour. If InfluxDB is slow
or down, the board still shows the live load, with the curves it last had.

The area's day (today's curve, the typical day) is the area clock's (collector/area_clock.py): in a
demo running simulated time, the span of a simulated day is looked up by its real times, and the
curves re-read as often in simulated time as they would be in real time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol
from zoneinfo import ZoneInfo

import orjson
import structlog

from api.history import influxql, plan
from api.influx import InfluxError, InfluxQueryClient
from api.web.board import CanteenHistory, build_board
from api.web.cache import TtlCache
from api.web.forecast import SLOT_MINUTES, TYPICAL_WEEKS, Point
from collector.area_clock import REAL, AreaClock
from collector.latest import LatestState
from collector.models import DeviceKey
from collector.registry import DeviceInfo, Registry

log = structlog.get_logger("louyu.web")

BOARD_TTL_S: Final = 5.0
TODAY_TTL_S: Final = 60.0
TYPICAL_TTL_S: Final = 3600.0
# The board must answer even when InfluxDB hangs: give history this long, then go on without it.
HISTORY_TIMEOUT_S: Final = 3.0
TODAY_EVERY_MS: Final = 5 * 60_000


class SeriesSource(Protocol):
    """Mean of one numeric field per window: (window start in epoch ms, value)."""

    async def mean(
        self, key: DeviceKey, field: str, start_ms: int, end_ms: int, every_ms: int
    ) -> list[Point]:
        """Empty windows are left out."""
        ...


class InfluxSeries:
    """SeriesSource over the API's InfluxQL client, with the history route's own checks."""

    def __init__(self, client: InfluxQueryClient) -> None:
        self.client = client

    async def mean(
        self, key: DeviceKey, field: str, start_ms: int, end_ms: int, every_ms: int
    ) -> list[Point]:
        query = plan(
            key.building,
            key.kind,
            key.device,
            field,
            "mean",
            start_ms,
            end_ms,
            f"{every_ms}ms",
            max_points=10_000,
        )
        results = await self.client.query(influxql(query))
        points: list[Point] = []
        for series in results[0] if results else []:
            for row in series.values:
                if len(row) >= 2 and isinstance(row[1], int | float) and not isinstance(row[1], bool):
                    points.append((int(row[0]), float(row[1])))
        return points


@dataclass(slots=True)
class _Held:
    points: list[Point]
    fetched: float  # monotonic
    tag: object  # what the points are for (the local date): a new day starts a new curve


class BoardService:
    def __init__(
        self,
        registry: Registry,
        states: LatestState,
        series: SeriesSource | None,
        *,
        ttl_s: float = BOARD_TTL_S,
        today_ttl_s: float = TODAY_TTL_S,
        typical_ttl_s: float = TYPICAL_TTL_S,
        history_timeout_s: float = HISTORY_TIMEOUT_S,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        monotonic: Callable[[], float] = time.monotonic,
        area_clock: AreaClock = REAL,
    ) -> None:
        self.registry = registry
        self.states = states
        self.series = series
        self.area_clock = area_clock
        # A simulated hour lasts a real minute at x60: re-read as often in the area's time.
        self.today_ttl_s = max(1.0, today_ttl_s / area_clock.speed) if area_clock.simulated else today_ttl_s
        self.typical_ttl_s = (
            max(ttl_s, typical_ttl_s / area_clock.speed) if area_clock.simulated else typical_ttl_s
        )
        self.history_timeout_s = history_timeout_s
        self.clock = clock
        self.monotonic = monotonic
        self.tz = ZoneInfo(registry.timezone)
        self.cache: TtlCache[bytes] = TtlCache(ttl_s, monotonic)
        self._today: dict[DeviceKey, _Held] = {}
        self._past: dict[DeviceKey, _Held] = {}

    async def json(self) -> tuple[bytes, float]:
        """The board as JSON bytes, and its age in seconds."""
        return await self.cache.get(self._compute)

    async def _compute(self) -> bytes:
        now = self.clock()
        history: dict[DeviceKey, CanteenHistory] = {}
        for info in self.registry.devices(kind="canteen"):
            today, past = await self._history(info, now)
            history[info.key] = CanteenHistory(today, past)
        board = build_board(self.registry, self.states.snapshot(), history, now, self.area_clock)
        return orjson.dumps(board)

    async def _history(self, info: DeviceInfo, now: dt.datetime) -> tuple[list[Point], list[Point]]:
        local = self.area_clock.area_now(now, self.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        midnight_ms = int(midnight.timestamp() * 1000)
        now_ms = int(local.timestamp() * 1000)
        capacity = info.capacity or 0
        today = await self._held(
            self._today,
            info,
            local.date(),
            self.today_ttl_s,
            midnight_ms,
            now_ms,
            TODAY_EVERY_MS,
            capacity,
        )
        past = await self._held(
            self._past,
            info,
            local.date(),
            self.typical_ttl_s,
            midnight_ms - TYPICAL_WEEKS * 7 * 86_400_000,
            midnight_ms,
            SLOT_MINUTES * 60_000,
            capacity,
        )
        return today, past

    async def _held(
        self,
        table: dict[DeviceKey, _Held],
        info: DeviceInfo,
        tag: object,
        ttl_s: float,
        start_ms: int,
        end_ms: int,
        every_ms: int,
        capacity: int,
    ) -> list[Point]:
        held = table.get(info.key)
        fresh = held is not None and held.tag == tag and self.monotonic() - held.fetched < ttl_s
        if fresh or self.series is None or capacity <= 0:
            return held.points if held is not None and held.tag == tag else []
        # The area's span, in the real times readings are stored at.
        clock = self.area_clock
        real_start, real_end = clock.real_ms(start_ms), clock.real_ms(end_ms)
        if clock.since_ms is not None:
            real_start = max(real_start, clock.since_ms)  # before the simulated day began: not of it
        if real_end <= real_start:
            table[info.key] = _Held([], self.monotonic(), tag)
            return []
        every_real_ms = max(1000, clock.real_span(every_ms))
        try:
            raw = await asyncio.wait_for(
                self.series.mean(info.key, "occupancy", real_start, real_end, every_real_ms),
                self.history_timeout_s,
            )
        except (InfluxError, TimeoutError) as error:
            log.warning("board history unavailable", device=str(info.key), error=str(error) or "timeout")
            # Keep showing what we had for this day, and wait a full `ttl_s` before asking again,
            # so that a hung InfluxDB slows one board build per period, not every one.
            points = held.points if held is not None and held.tag == tag else []
            table[info.key] = _Held(points, self.monotonic(), tag)
            return points
        points = [(clock.area_ms(ts), value / capacity) for ts, value in raw]
        table[info.key] = _Held(points, self.monotonic(), tag)
        return points
