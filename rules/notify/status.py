"""The building status snapshot pushed to the city platform: free parking spaces, AED readiness,
canteen load, per building. Pure: the registry and the latest readings in, JSON-ready dict out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from collector.models import DeviceKey
from collector.registry import Registry
from rules.notify.latest import Latest


def _iso_ms(ts_ms: int) -> str:
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def building_status(
    registry: Registry, latest: Mapping[DeviceKey, Latest], now: dt.datetime
) -> dict[str, Any]:
    buildings: list[dict[str, Any]] = []
    for building in registry.buildings.values():
        lots = []
        for info in registry.devices("parking_lot", building.id):
            seen = latest.get(info.key)
            capacity = seen.fields.get("capacity", info.capacity) if seen else info.capacity
            occupied = seen.fields.get("occupied") if seen else None
            free = None
            if isinstance(capacity, int) and isinstance(occupied, int):
                free = max(0, capacity - occupied)
            lots.append(
                {
                    "device": info.device,
                    "capacity": capacity,
                    "occupied": occupied,
                    "free": free,
                    "observed_at": _iso_ms(seen.ts_ms) if seen else None,
                }
            )
        spaces = registry.devices("parking_space", building.id)
        known = [latest[s.key].fields.get("occupied") for s in spaces if s.key in latest]
        space_summary = {
            "total": len(spaces),
            "occupied": sum(1 for v in known if v is True),
            "free": sum(1 for v in known if v is False),
            "unknown": len(spaces) - sum(1 for v in known if isinstance(v, bool)),
        }
        aeds = []
        for info in registry.devices("aed", building.id):
            seen = latest.get(info.key)
            state = seen.fields.get("state") if seen else None
            cabinet_open = seen.fields.get("cabinet_open") if seen else None
            aeds.append(
                {
                    "device": info.device,
                    "location": info.location,
                    "state": state,
                    "ready": state == "ready" and cabinet_open is not True,
                    "battery_pct": seen.fields.get("battery_pct") if seen else None,
                    "observed_at": _iso_ms(seen.ts_ms) if seen else None,
                }
            )
        canteens = []
        for info in registry.devices("canteen", building.id):
            seen = latest.get(info.key)
            capacity = seen.fields.get("capacity", info.capacity) if seen else info.capacity
            occupancy = seen.fields.get("occupancy") if seen else None
            load = None
            if isinstance(capacity, int) and capacity > 0 and isinstance(occupancy, int):
                load = round(occupancy / capacity, 3)
            canteens.append(
                {
                    "device": info.device,
                    "occupancy": occupancy,
                    "capacity": capacity,
                    "load": load,
                    "queue_length": seen.fields.get("queue_length") if seen else None,
                    "observed_at": _iso_ms(seen.ts_ms) if seen else None,
                }
            )
        # A site often has a counter at the entrance and one per level (Tower A: garage = B1 + B2); a lot
        # whose capacity is the sum of the others' is that total, and is not added again.
        caps = {id(lot): lot["capacity"] for lot in lots if isinstance(lot["capacity"], int)}
        total = next(
            (
                lot
                for lot in lots
                if len(lots) > 2 and id(lot) in caps and caps[id(lot)] == sum(caps.values()) - caps[id(lot)]
            ),
            None,
        )
        counted = (
            [total]
            if total is not None and total["free"] is not None
            else [x for x in lots if x is not total]
        )
        free_lots = [lot["free"] for lot in counted if lot["free"] is not None]
        buildings.append(
            {
                "building": building.id,
                "name": building.name,
                "name_en": building.name_en,
                "parking": {
                    # Lots count every car; where a building has no lot counter, count the free spaces.
                    "free_spaces": sum(free_lots)
                    if free_lots
                    else (space_summary["free"] if spaces else None),
                    "lots": lots,
                    "spaces": space_summary,
                },
                "aed": {"total": len(aeds), "ready": sum(1 for a in aeds if a["ready"]), "devices": aeds},
                "canteen": canteens,
            }
        )
    return {
        "area": registry.area,
        "area_name": registry.area_name,
        "at": now.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "buildings": buildings,
    }
