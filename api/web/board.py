"""The public board's content: canteen load and forecast, free parking. Nothing sensitive.

`build_board` is pure (registry, latest device states, canteen history, `now` in; a JSON-ready
dict out). Its numbers are the building summary's (collector/summary.py), so the board, the
buildings API, the city snapshot and NGSI-LD agree; a figure that is not fresh is shown as "no
data" (a lobby screen saying "120 free" while the garage is full sends cars to the barrier). It
never shows an alert, an AED, a battery level or a device that is not a canteen or parking: the
board is read by anyone in a lobby.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from api.web.forecast import FRESH_MINUTES, Point, best_time_to_go, day_curve, typical_day
from collector.area_clock import REAL, AreaClock
from collector.latest import DeviceState
from collector.models import DeviceKey
from collector.registry import DeviceInfo, Registry
from collector.summary import BuildingSummary, CanteenLoad, Count, ParkingSummary, summarize


@dataclass(frozen=True, slots=True)
class CanteenHistory:
    """Load points (epoch ms of the area's clock, occupancy / capacity) for one canteen: today so
    far, and the previous weeks (for the typical day)."""

    today: Sequence[Point]
    past: Sequence[Point]


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


def _canteen(
    load: CanteenLoad,
    history: CanteenHistory | None,
    local_now: dt.datetime,
    tz: ZoneInfo,
    clock: AreaClock,
) -> dict[str, Any]:
    info = load.info
    today_points = list(history.today) if history else []
    if load.load is not None and load.observed_ms is not None:
        # The live reading is newer than anything the history cache holds; its moment in the
        # area's day is the area clock's (a demo's simulated day).
        today_points.append((clock.area_ms(load.observed_ms), load.load))
    today = day_curve(today_points, local_now.date(), tz)
    typical = typical_day(history.past, local_now.date(), tz) if history else {}
    fresh = load.freshness == "fresh"
    # People queuing now: it is serving, whatever its hours say (forecast.best_time_to_go).
    queuing = fresh and (load.queue_length or 0) > 0
    best = best_time_to_go(
        today_points,
        typical,
        local_now,
        open_hours=info.meal_service,
        serving_now=queuing,
        # A counter reports every minute or so of real time, whatever a demo's speed.
        fresh_minutes=max(FRESH_MINUTES, math.ceil(clock.area_span(60_000) / 60_000)),
    )
    return {
        "building": info.building,
        "device": info.device,
        "name": info.name,
        "location": info.location,
        "floor": info.floor,
        "occupancy": load.occupancy,
        "capacity": load.capacity,
        "load": load.load,
        "queue_length": load.queue_length,
        "updated_at": _iso(load.observed_ms),
        "stale": not fresh,
        "service_hours": [f"{start:%H:%M}-{end:%H:%M}" for start, end in info.meal_service],
        "today": [{"minute": m, "load": round(v, 3)} for m, v in today.items()],
        "typical": [{"minute": m, "load": round(v, 3)} for m, v in typical.items()],
        "best": {
            "status": best.status,
            "at": best.at.isoformat(timespec="minutes") if best.at else None,
            "load": None if best.load is None else round(best.load, 3),
        },
        "forecast": [
            {
                "at": slot.start.isoformat(timespec="minutes"),
                "load": None if slot.load is None else round(slot.load, 3),
                "open": slot.open,
            }
            for slot in best.forecast
        ],
    }


def _lot(info: DeviceInfo, count: Count) -> dict[str, Any]:
    return {
        "building": info.building,
        "lot": info.device,
        "name": info.name,
        "floor": info.floor,
        "location": info.location,
        "part_of": info.part_of,
        "capacity": count.capacity,
        "free": count.free,
        "source": count.source,
        "updated_at": _iso(count.observed_ms),
        "stale": not count.known,
    }


def _parking(building: BuildingSummary, parking: ParkingSummary) -> dict[str, Any]:
    lots: list[dict[str, Any]] = []
    for site in parking.sites:
        lots.append(_lot(site.lot, site.count))
        lots += [_lot(level.lot, level.count) for level in site.levels]
    count = parking.count
    return {
        "building": building.building.id,
        "name": building.building.name,
        "name_en": building.building.name_en,
        "free": count.free,
        "capacity": count.capacity,
        "source": count.source,
        "updated_at": _iso(count.observed_ms),
        "stale": not count.known,
        "lots": lots,
    }


def build_board(
    registry: Registry,
    states: Mapping[DeviceKey, DeviceState],
    history: Mapping[DeviceKey, CanteenHistory],
    now: dt.datetime,
    clock: AreaClock = REAL,
) -> dict[str, Any]:
    """`now` is the real moment (freshness, `generated_at`); the time of day is `clock`'s."""
    tz = ZoneInfo(registry.timezone)
    area = summarize(registry, states, int(now.timestamp() * 1000))
    local_now = clock.area_now(now, tz)
    canteens = [
        _canteen(load, history.get(load.info.key), local_now, tz, clock)
        for b in area.buildings
        for load in b.canteens
    ]
    parking = [_parking(b, b.parking) for b in area.buildings if b.parking is not None]
    return {
        "generated_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "area": registry.area,
        "area_name": registry.area_name,
        "timezone": registry.timezone,
        "clock": {
            "now": local_now.isoformat(timespec="seconds"),
            "simulated": clock.simulated,
            "speed": clock.speed,
        },
        "canteens": canteens,
        "parking": parking,
    }
