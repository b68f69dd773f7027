"""FIWARE Smart Data Models for parking, as NGSI-LD normalized JSON-LD: `OffStreetParking` for each
parking lot, `ParkingSpot` for each space. Pure: the registry and the latest readings in, entities out.

Models: https://github.com/smart-data-models/dataModel.Parking (OffStreetParking, ParkingSpot).
The registry holds no coordinates, so `location` (required by both models) comes from
`rules/notify/data/sites.yaml`: one point per building, or the area's point.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from collector.models import DeviceKey
from collector.registry import DeviceInfo, Registry

CONTEXT = [
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
]
MEDIA_TYPE = "application/ld+json"
# OffStreetParking `status`: DATEX II values. "almostFull" from this share of spaces taken.
ALMOST_FULL = 0.9


@dataclass(frozen=True, slots=True)
class Observed:
    """The latest values of one device and when they were observed (epoch ms)."""

    fields: Mapping[str, Any]
    ts_ms: int


@cache
def _sites() -> dict[str, Any]:
    text = resources.files("rules.notify.data").joinpath("sites.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def building_point(building: str) -> list[float]:
    sites = _sites()
    point = (sites.get("buildings") or {}).get(building) or sites["default"]
    return [float(point[0]), float(point[1])]


def urn(entity_type: str, building: str, device: str) -> str:
    return f"urn:ngsi-ld:{entity_type}:{building}:{device}"


def _iso(ts_ms: int) -> str:
    return (
        dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _floor_number(text: str) -> int | None:
    """`1F` -> 1, `B2` -> -2 (0 is the ground level in the models, and 1F is the ground floor in China,
    but the models only compare floors, so the building's own numbering is kept)."""
    match = re.fullmatch(r"B(\d+)|(\d+)F", text.strip().upper())
    if match is None:
        return None
    return -int(match.group(1)) if match.group(1) else int(match.group(2))


def _floors(floor: str | None) -> tuple[int, int] | None:
    if not floor:
        return None
    numbers = [n for n in (_floor_number(part) for part in floor.split("-")) if n is not None]
    return (min(numbers), max(numbers)) if numbers else None


def _prop(value: Any, observed_at: str | None = None, unit: str | None = None) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": "Property", "value": value}
    if observed_at:
        prop["observedAt"] = observed_at
    if unit:
        prop["unitCode"] = unit
    return prop


def _location(building: str) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": building_point(building)}}


def off_street_parking(registry: Registry, lot: DeviceInfo, seen: Observed | None) -> dict[str, Any]:
    building = registry.buildings.get(lot.building)
    entity: dict[str, Any] = {
        "id": urn("OffStreetParking", lot.building, lot.device),
        "type": "OffStreetParking",
        "name": _prop(lot.name or lot.location or f"{lot.building} {lot.device}"),
        "category": _prop(
            ["forEmployees", "parkingGarage"] + (["underground"] if _is_underground(lot) else [])
        ),
        "allowedVehicleType": _prop(["car"]),
        "location": _location(lot.building),
        "parkingSiteId": _prop(f"{lot.building}/{lot.device}"),
    }
    if building is not None:
        entity["description"] = _prop(building.name_en or building.name)
        if building.address:
            entity["address"] = _prop({"streetAddress": building.address})
    floors = _floors(lot.floor)
    if floors is not None:
        entity["lowestFloor"], entity["highestFloor"] = _prop(floors[0]), _prop(floors[1])
    capacity = seen.fields.get("capacity", lot.capacity) if seen else lot.capacity
    if isinstance(capacity, int) and capacity >= 1:
        entity["totalSpotNumber"] = _prop(capacity)
    occupied = seen.fields.get("occupied") if seen else None
    if seen is not None and isinstance(occupied, int) and isinstance(capacity, int) and capacity >= 1:
        at = _iso(seen.ts_ms)
        taken = min(occupied, capacity)
        free = capacity - taken
        share = taken / capacity
        entity["occupiedSpotNumber"] = _prop(taken, at)
        entity["availableSpotNumber"] = _prop(free, at)
        entity["occupancy"] = _prop(round(share, 4), at)
        entity["occupancyModified"] = _prop(at)
        entity["observationDateTime"] = _prop(at)
        status = "full" if free == 0 else "almostFull" if share >= ALMOST_FULL else "spacesAvailable"
        entity["status"] = _prop([status], at)
    entity["@context"] = CONTEXT
    return entity


def _is_underground(lot: DeviceInfo) -> bool:
    floors = _floors(lot.floor)
    return floors is not None and floors[1] < 0


def parking_spot(registry: Registry, space: DeviceInfo, seen: Observed | None) -> dict[str, Any]:
    site = space.lot or next((d.device for d in registry.devices("parking_lot", space.building)), None)
    occupied = seen.fields.get("occupied") if seen else None
    status = "unknown" if not isinstance(occupied, bool) else "occupied" if occupied else "free"
    entity: dict[str, Any] = {
        "id": urn("ParkingSpot", space.building, space.device),
        "type": "ParkingSpot",
        "name": _prop(f"{space.building} {space.device}"),
        "category": _prop(["offStreet"]),
        "status": _prop(status, _iso(seen.ts_ms) if seen else None),
        "location": _location(space.building),
        "refParkingSite": {
            "type": "Relationship",
            "object": urn("OffStreetParking", space.building, site or space.building),
        },
    }
    if space.floor:
        entity["description"] = _prop(f"floor {space.floor}" + (f", {space.zone}" if space.zone else ""))
    if seen is not None and isinstance(seen.fields.get("battery_pct"), int | float):
        entity["annotations"] = _prop([f"battery {seen.fields['battery_pct']:.0f}%"])
    entity["@context"] = CONTEXT
    return entity


def entities(
    entity_type: str, registry: Registry, latest: Mapping[DeviceKey, Observed], building: str | None = None
) -> list[dict[str, Any]]:
    """Every entity of one type (`OffStreetParking` or `ParkingSpot`), in registry order."""
    if entity_type == "OffStreetParking":
        return [
            off_street_parking(registry, d, latest.get(d.key))
            for d in registry.devices("parking_lot", building)
        ]
    if entity_type == "ParkingSpot":
        return [
            parking_spot(registry, d, latest.get(d.key)) for d in registry.devices("parking_space", building)
        ]
    raise KeyError(entity_type)


def entity_by_id(
    registry: Registry, latest: Mapping[DeviceKey, Observed], entity_id: str
) -> dict[str, Any] | None:
    match = re.fullmatch(
        r"urn:ngsi-ld:(OffStreetParking|ParkingSpot):([a-z0-9][a-z0-9_-]{0,63}):([a-z0-9][a-z0-9_-]{0,63})",
        entity_id,
    )
    if match is None:
        return None
    entity_type, building, device = match.groups()
    kind = "parking_lot" if entity_type == "OffStreetParking" else "parking_space"
    info = registry.get(building, kind, device)
    if info is None:
        return None
    seen = latest.get(info.key)
    if entity_type == "OffStreetParking":
        return off_street_parking(registry, info, seen)
    return parking_spot(registry, info, seen)


def key_values(entity: Mapping[str, Any]) -> dict[str, Any]:
    """The keyValues simplification of a normalized entity (what the models' JSON schemas describe)."""
    simple: dict[str, Any] = {}
    for name, attribute in entity.items():
        if name == "@context":
            continue
        if isinstance(attribute, Mapping) and attribute.get("type") in ("Property", "GeoProperty"):
            simple[name] = attribute["value"]
        elif isinstance(attribute, Mapping) and attribute.get("type") == "Relationship":
            simple[name] = attribute["object"]
        else:
            simple[name] = attribute
    return simple
