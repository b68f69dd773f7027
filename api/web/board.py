"""The public board's content: canteen load and forecast, free parking. Nothing sensitive.

`build_board` is pure (registry, latest device states, canteen history, `now` in; a JSON-ready
dict out). It never shows an alert, an AED, a battery level or a device that is not a canteen or a
parking lot: the board is read by anyone in a lobby.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

from api.device_state import DeviceState
from api.web.forecast import Point, best_time_to_go, day_curve, typical_day
from collector.models import DeviceKey
from collector.registry import DeviceInfo, Registry

# A counter silent for longer than this is shown as "no data" rather than as a number that may be
# an hour old: a lobby screen saying "120 free" while the garage is full sends cars to the barrier.
STALE_AFTER: Final = dt.timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class CanteenHistory:
    """Load points (epoch ms, occupancy / capacity) for one canteen: today so far, and the previous
    weeks (for the typical day)."""

    today: Sequence[Point]
    past: Sequence[Point]


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="seconds")


def _int(value: object) -> int | None:
    # bool is an int in Python; a boolean here is a malformed reading, not a count.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _fresh(state: DeviceState | None, now_ms: int) -> bool:
    return (
        state is not None
        and state.reading_ts_ms is not None
        and now_ms - state.reading_ts_ms <= STALE_AFTER.total_seconds() * 1000
        and state.online is not False
    )


def _canteen(
    info: DeviceInfo,
    state: DeviceState | None,
    history: CanteenHistory | None,
    now: dt.datetime,
    tz: ZoneInfo,
) -> dict[str, Any]:
    now_ms = int(now.timestamp() * 1000)
    fields = state.fields if state else {}
    capacity = _int(fields.get("capacity")) or info.capacity
    occupancy = _int(fields.get("occupancy"))
    fresh = _fresh(state, now_ms)
    load = occupancy / capacity if fresh and occupancy is not None and capacity else None
    local_now = now.astimezone(tz)
    today_points = list(history.today) if history else []
    if load is not None and state is not None and state.reading_ts_ms is not None:
        # The live reading is newer than anything the history cache holds.
        today_points.append((state.reading_ts_ms, load))
    today = day_curve(today_points, local_now.date(), tz)
    typical = typical_day(history.past, local_now.date(), tz) if history else {}
    best = best_time_to_go(today_points, typical, local_now)
    return {
        "building": info.building,
        "device": info.device,
        "name": info.name,
        "location": info.location,
        "floor": info.floor,
        "occupancy": occupancy if fresh else None,
        "capacity": capacity,
        "load": None if load is None else round(load, 3),
        "queue_length": _int(fields.get("queue_length")) if fresh else None,
        "updated_at": _iso(state.reading_ts_ms if state else None),
        "stale": not fresh,
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


def _lot(
    info: DeviceInfo,
    state: DeviceState | None,
    spaces: Sequence[DeviceInfo],
    states: Mapping[DeviceKey, DeviceState],
    now_ms: int,
) -> dict[str, Any]:
    fields = state.fields if state else {}
    capacity = _int(fields.get("capacity")) or info.capacity
    occupied = _int(fields.get("occupied"))
    free: int | None = None
    source = "counter"
    updated = state.reading_ts_ms if state else None
    if _fresh(state, now_ms) and occupied is not None and capacity:
        free = max(capacity - occupied, 0)
    elif spaces:
        # No live counter at the barrier: count the bay sensors of this lot instead, when every
        # one of them has reported recently (an unknown bay could be free or taken).
        space_states = [states.get(space.key) for space in spaces]
        if all(_fresh(s, now_ms) for s in space_states):
            source = "sensors"
            capacity = len(spaces)
            free = sum(1 for s in space_states if s is not None and s.fields.get("occupied") is False)
            updated = min(s.reading_ts_ms or 0 for s in space_states if s is not None)
    return {
        "building": info.building,
        "lot": info.device,
        "name": info.name,
        "floor": info.floor,
        "location": info.location,
        "capacity": capacity,
        "free": free,
        "source": source,
        "updated_at": _iso(updated),
        "stale": free is None,
    }


def _building_free(lots: list[dict[str, Any]]) -> tuple[int | None, int | None]:
    """Free spaces and capacity of a building, without counting a garage twice.

    A lot whose capacity equals the sum of the other lots is their aggregate (Tower A's 600-space
    garage counter over its B1 and B2 level counters): count either it or the levels, whichever
    is known, never both.
    """
    if not lots:
        return None, None
    caps = [lot["capacity"] or 0 for lot in lots]
    total_cap = sum(caps)
    aggregate = next(
        (lot for lot, cap in zip(lots, caps, strict=True) if len(lots) > 1 and cap * 2 == total_cap), None
    )
    parts = [lot for lot in lots if lot is not aggregate]
    if aggregate is not None and aggregate["free"] is not None:
        return aggregate["free"], aggregate["capacity"]
    if all(lot["free"] is not None for lot in parts):
        return sum(lot["free"] for lot in parts), sum(lot["capacity"] or 0 for lot in parts)
    return None, (aggregate["capacity"] if aggregate else total_cap) or None


def build_board(
    registry: Registry,
    states: Mapping[DeviceKey, DeviceState],
    history: Mapping[DeviceKey, CanteenHistory],
    now: dt.datetime,
) -> dict[str, Any]:
    tz = ZoneInfo(registry.timezone)
    now_ms = int(now.timestamp() * 1000)
    canteens = [
        _canteen(info, states.get(info.key), history.get(info.key), now, tz)
        for info in registry.devices(kind="canteen")
    ]
    parking = []
    for building in registry.buildings.values():
        lot_infos = registry.devices(kind="parking_lot", building=building.id)
        if not lot_infos:
            continue
        spaces = registry.devices(kind="parking_space", building=building.id)
        lots = [
            _lot(info, states.get(info.key), [s for s in spaces if s.lot == info.device], states, now_ms)
            for info in lot_infos
        ]
        free, capacity = _building_free(lots)
        parking.append(
            {
                "building": building.id,
                "name": building.name,
                "name_en": building.name_en,
                "free": free,
                "capacity": capacity,
                "lots": lots,
            }
        )
    return {
        "generated_at": now.astimezone(dt.UTC).isoformat(timespec="seconds"),
        "area": registry.area,
        "area_name": registry.area_name,
        "timezone": registry.timezone,
        "canteens": canteens,
        "parking": parking,
    }
