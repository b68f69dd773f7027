"""FIWARE Smart Data Models dataModel.Parking, as NGSI-LD normalized JSON-LD, from the building
summary (collector/summary.py). Pure: the registry, the latest device states and `now` in, entities
out.

- `OffStreetParking`, one per site (a lot that is part of no other): its free count is the site's
  (its counter, else its levels), so a city platform that adds up the sites of a building gets the
  building's free count, never a garage and its levels twice;
- `ParkingGroup`, one per level of a site, `refParkingSite` -> its site (the model allows no
  sub-groups, and the registry allows no level inside a level);
- `ParkingSpot`, one per space, `refParkingSite` -> its site, and `refParkingGroup` -> its level
  when it is in one.
- The spaces of a building that are in no lot form the building's own `OffStreetParking`
  (`urn:ngsi-ld:OffStreetParking:{building}`, counted by its sensors): every `ParkingSpot` must name
  a site (the model requires `refParkingSite`), and no reference may point at an entity that does
  not exist.

Ids: `urn:ngsi-ld:{Type}:{building}:{device}` (the lot's or the space's registry id). The registry
holds no coordinates, so `location` (required) comes from `rules/notify/data/sites.yaml`: one point
per building, or the area's point.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import Any, Final

import yaml

from collector.latest import DeviceState, freshness
from collector.models import DeviceKey
from collector.registry import BuildingInfo, DeviceInfo, Registry
from collector.site import layout
from collector.summary import Count, ParkingSummary, summarize

CONTEXT = [
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld",
    "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld",
]
MEDIA_TYPE = "application/ld+json"
TYPES: Final = ("OffStreetParking", "ParkingGroup", "ParkingSpot")
# OffStreetParking `status`: DATEX II values. "almostFull" from this share of spaces taken.
ALMOST_FULL = 0.9
_ID = re.compile(
    r"urn:ngsi-ld:(OffStreetParking|ParkingGroup|ParkingSpot):([a-z0-9][a-z0-9_-]{0,63})(?::([a-z0-9][a-z0-9_-]{0,63}))?"
)


@cache
def _sites() -> dict[str, Any]:
    text = resources.files("rules.notify.data").joinpath("sites.yaml").read_text("utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def building_point(building: str) -> list[float]:
    sites = _sites()
    point = (sites.get("buildings") or {}).get(building) or sites["default"]
    return [float(point[0]), float(point[1])]


def urn(entity_type: str, building: str, device: str | None = None) -> str:
    """`device` None: the building's own site (its spaces in no lot)."""
    return f"urn:ngsi-ld:{entity_type}:{building}" + (f":{device}" if device is not None else "")


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


def _rel(target: str) -> dict[str, Any]:
    return {"type": "Relationship", "object": target}


def _location(building: str) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": building_point(building)}}


def _counts(entity: dict[str, Any], count: Count, *, with_status: bool) -> None:
    """Spot numbers (and a site's DATEX II status) from a summary figure; only a fresh figure is
    published, with `observedAt` the oldest reading it rests on."""
    if count.capacity is not None and count.capacity >= 0:
        entity["totalSpotNumber"] = _prop(count.capacity)
    if not count.known or count.free is None or count.occupied is None or count.observed_ms is None:
        return
    at = _iso(count.observed_ms)
    entity["availableSpotNumber"] = _prop(count.free, at)
    entity["observationDateTime"] = _prop(at)
    if not with_status:
        return
    entity["occupiedSpotNumber"] = _prop(count.occupied, at)
    entity["occupancyModified"] = _prop(at)
    if count.capacity:
        share = count.occupied / count.capacity
        entity["occupancy"] = _prop(round(share, 4), at)
        status = "full" if count.free == 0 else "almostFull" if share >= ALMOST_FULL else "spacesAvailable"
        entity["status"] = _prop([status], at)


def _detection(count: Count) -> list[str]:
    return ["singleSpaceDetection"] if count.source == "sensors" else ["balancing"]


def _off_street(
    building: BuildingInfo, lot: DeviceInfo | None, count: Count, underground: bool
) -> dict[str, Any]:
    where = lot.building if lot is not None else building.id
    entity: dict[str, Any] = {
        "id": urn("OffStreetParking", where, lot.device if lot is not None else None),
        "type": "OffStreetParking",
        "name": _prop(
            (lot.name or lot.location or f"{lot.building} {lot.device}")
            if lot is not None
            else f"{building.name_en or building.name} parking"
        ),
        "category": _prop(["forEmployees", "parkingGarage"] + (["underground"] if underground else [])),
        "allowedVehicleType": _prop(["car"]),
        "occupancyDetectionType": _prop(_detection(count)),
        "location": _location(where),
        "parkingSiteId": _prop(f"{where}/{lot.device}" if lot is not None else where),
        "description": _prop(building.name_en or building.name),
    }
    if building.address:
        entity["address"] = _prop({"streetAddress": building.address})
    floors = _floors(lot.floor) if lot is not None else None
    if floors is not None:
        entity["lowestFloor"], entity["highestFloor"] = _prop(floors[0]), _prop(floors[1])
    _counts(entity, count, with_status=True)
    entity["@context"] = CONTEXT
    return entity


def _group(level: DeviceInfo, count: Count) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": urn("ParkingGroup", level.building, level.device),
        "type": "ParkingGroup",
        "name": _prop(level.name or level.location or f"{level.building} {level.device}"),
        "category": _prop(["offStreet", "completeFloor"]),
        "allowedVehicleType": _prop("car"),
        "occupancyDetectionType": _prop(_detection(count)),
        "location": _location(level.building),
        "refParkingSite": _rel(urn("OffStreetParking", level.building, level.part_of)),
    }
    if level.floor:
        entity["description"] = _prop(f"floor {level.floor}")
    _counts(entity, count, with_status=False)
    entity["@context"] = CONTEXT
    return entity


def _spot(
    space: DeviceInfo, site: str | None, level: str | None, state: DeviceState | None, now_ms: int
) -> dict[str, Any]:
    occupied = state.fields.get("occupied") if state is not None else None
    fresh = freshness(state, now_ms) == "fresh"
    status = "unknown" if not fresh or not isinstance(occupied, bool) else "occupied" if occupied else "free"
    at = _iso(state.reading_ts_ms) if state is not None and state.reading_ts_ms is not None else None
    entity: dict[str, Any] = {
        "id": urn("ParkingSpot", space.building, space.device),
        "type": "ParkingSpot",
        "name": _prop(f"{space.building} {space.device}"),
        "category": _prop(["offStreet"]),
        "status": _prop(status, at),
        "location": _location(space.building),
        "refParkingSite": _rel(urn("OffStreetParking", space.building, site)),
    }
    if level is not None:
        entity["refParkingGroup"] = _rel(urn("ParkingGroup", space.building, level))
    if space.floor:
        entity["description"] = _prop(f"floor {space.floor}" + (f", {space.zone}" if space.zone else ""))
    if fresh and state is not None and isinstance(state.fields.get("battery_pct"), int | float):
        entity["annotations"] = _prop([f"battery {state.fields['battery_pct']:.0f}%"])
    entity["@context"] = CONTEXT
    return entity


def _underground(lot: DeviceInfo) -> bool:
    floors = _floors(lot.floor)
    return floors is not None and floors[1] < 0


def _parking_entities(
    entity_type: str, building: BuildingInfo, parking: ParkingSummary
) -> Iterator[dict[str, Any]]:
    if entity_type == "OffStreetParking":
        for site in parking.sites:
            yield _off_street(building, site.lot, site.count, _underground(site.lot))
        if parking.loose is not None:
            yield _off_street(building, None, parking.loose, False)
    elif entity_type == "ParkingGroup":
        for site in parking.sites:
            for level in site.levels:
                yield _group(level.lot, level.count)


def entities(
    entity_type: str,
    registry: Registry,
    latest: Mapping[DeviceKey, DeviceState],
    now_ms: int,
    building: str | None = None,
) -> list[dict[str, Any]]:
    """Every entity of one type (`OffStreetParking`, `ParkingGroup` or `ParkingSpot`), in registry order."""
    if entity_type not in TYPES:
        raise KeyError(entity_type)
    if entity_type == "ParkingSpot":
        return _spots(registry, latest, now_ms, building)
    area = summarize(registry, latest, now_ms)
    found: list[dict[str, Any]] = []
    for b in area.buildings:
        if b.parking is not None and (building is None or b.building.id == building):
            found += _parking_entities(entity_type, b.building, b.parking)
    return found


def _spots(
    registry: Registry, latest: Mapping[DeviceKey, DeviceState], now_ms: int, building: str | None
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for place in layout(registry):
        if building is not None and place.building.id != building:
            continue
        for site in place.sites:
            found += [_spot(s, site.lot.device, None, latest.get(s.key), now_ms) for s in site.spaces]
            for level in site.levels:
                found += [
                    _spot(s, site.lot.device, level.lot.device, latest.get(s.key), now_ms)
                    for s in level.spaces
                ]
        found += [_spot(s, None, None, latest.get(s.key), now_ms) for s in place.spaces]
    return found


def entity_by_id(
    registry: Registry, latest: Mapping[DeviceKey, DeviceState], now_ms: int, entity_id: str
) -> dict[str, Any] | None:
    match = _ID.fullmatch(entity_id)
    if match is None:
        return None
    entity_type, building = match.group(1), match.group(2)
    if building not in registry.buildings:
        return None
    return next(
        (e for e in entities(entity_type, registry, latest, now_ms, building) if e["id"] == entity_id), None
    )


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
