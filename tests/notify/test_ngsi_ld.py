"""FIWARE parking entities (dataModel.Parking): one OffStreetParking per site, a ParkingGroup per
level, a ParkingSpot per space, every reference resolving; validated against the Smart Data
Models' published JSON schemas (vendored, complete, in tests/notify/schemas; see its README)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import FormatChecker
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry as SchemaRegistry
from referencing import Resource
from referencing.exceptions import NoSuchResource

from collector.latest import DeviceState, LatestState
from collector.models import DeviceKey, Reading
from collector.registry import Registry
from rules.notify.ngsi_ld import CONTEXT, TYPES, entities, entity_by_id, key_values

SCHEMAS = Path(__file__).parent / "schemas"
TS = int(dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC).timestamp() * 1000)
NOW_MS = TS + 60_000
formats = FormatChecker()


@formats.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or dt.datetime.fromisoformat(value).tzinfo is not None


def _load(file: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / file).read_text("utf-8"))
    return loaded


def _offline(uri: str) -> Resource[Any]:
    # Every $ref must resolve from the vendored files: a network fetch is a test failure.
    raise NoSuchResource(uri)


def validator(name: str) -> Validator:
    schemas = SchemaRegistry(retrieve=_offline)  # type: ignore[call-arg]
    for file in ("common-schema.json", *(f"{t}.schema.json" for t in TYPES)):
        contents = _load(file)
        schemas = schemas.with_resource(contents["$id"], Resource.from_contents(contents))
    schema = _load(f"{name}.schema.json")
    cls = validator_for(schema)
    validator: Validator = cls(schema, registry=schemas, format_checker=formats)
    return validator


def latest(*readings: Reading) -> dict[DeviceKey, DeviceState]:
    table = LatestState(None)
    for r in readings or (
        Reading("darong-a", "parking_lot", "garage", TS, {"occupied": 412, "capacity": 600}),
        Reading("darong-a", "parking_lot", "garage-b1", TS, {"occupied": 300}),
        Reading("darong-a", "parking_space", "b1-017", TS, {"occupied": True, "battery_pct": 81.0}),
        Reading("darong-a", "parking_space", "b2-001", TS, {"occupied": False}),
    ):
        table.apply(r)
    return table.snapshot()


SPACES_ONLY = """
area: t
buildings:
  - id: t1
    name: T1
    groups:
      - {kind: parking_space, prefix: s-, count: 3}
  - id: t2
    name: T2
    devices:
      - {kind: parking_lot, id: north, capacity: 40}
      - {kind: parking_lot, id: south, capacity: 60}
      - {kind: parking_lot, id: south-1, part_of: south, floor: B1, capacity: 60}
    groups:
      - {kind: parking_space, prefix: n-, count: 2, lot: north}
      - {kind: parking_space, prefix: q-, count: 2, lot: south-1}
"""


@pytest.mark.parametrize("entity_type", TYPES)
def test_every_entity_is_valid_against_the_published_schema(entity_type: str, registry: Registry) -> None:
    check = validator(entity_type)
    found = entities(entity_type, registry, latest(), NOW_MS)
    assert found, "the Darong registry has sites, levels and spaces"
    for entity in found:
        errors = sorted(check.iter_errors(key_values(entity)), key=str)
        assert not errors, f"{entity['id']}: {errors[0].message}"


def test_the_schema_check_can_fail(registry: Registry) -> None:
    """The vendored schemas really constrain: a broken entity is refused."""
    spot = entities("ParkingSpot", registry, latest(), NOW_MS)[0]
    assert not validator("ParkingSpot").is_valid(key_values(spot) | {"status": "parked"})
    site = key_values(entities("OffStreetParking", registry, latest(), NOW_MS)[0])
    del site["location"]
    assert not validator("OffStreetParking").is_valid(site)
    group = key_values(entities("ParkingGroup", registry, latest(), NOW_MS)[0])
    del group["refParkingSite"]
    assert not validator("ParkingGroup").is_valid(group)


def test_one_site_with_its_levels_as_groups(registry: Registry) -> None:
    sites = entities("OffStreetParking", registry, latest(), NOW_MS, "darong-a")
    assert [s["id"] for s in sites] == ["urn:ngsi-ld:OffStreetParking:darong-a:garage"]
    [site] = sites
    assert site["@context"] == CONTEXT
    assert site["totalSpotNumber"] == {"type": "Property", "value": 600}
    assert site["availableSpotNumber"] == {
        "type": "Property",
        "value": 188,
        "observedAt": "2026-11-27T01:00:00.000Z",
    }
    assert site["status"]["value"] == ["spacesAvailable"]
    assert site["lowestFloor"]["value"] == -2 and site["highestFloor"]["value"] == -1
    groups = {g["id"]: g for g in entities("ParkingGroup", registry, latest(), NOW_MS)}
    assert set(groups) == {
        "urn:ngsi-ld:ParkingGroup:darong-a:garage-b1",
        "urn:ngsi-ld:ParkingGroup:darong-a:garage-b2",
    }
    b1 = groups["urn:ngsi-ld:ParkingGroup:darong-a:garage-b1"]
    assert b1["refParkingSite"] == {"type": "Relationship", "object": site["id"]}
    assert (b1["totalSpotNumber"]["value"], b1["availableSpotNumber"]["value"]) == (300, 0)
    # B2 has neither a counter reading nor all its bay sensors: no free count is published.
    assert "availableSpotNumber" not in groups["urn:ngsi-ld:ParkingGroup:darong-a:garage-b2"]


def test_spots_refer_to_their_site_and_level(registry: Registry) -> None:
    spot = entity_by_id(registry, latest(), NOW_MS, "urn:ngsi-ld:ParkingSpot:darong-a:b1-017")
    assert spot is not None
    assert spot["status"] == {
        "type": "Property",
        "value": "occupied",
        "observedAt": "2026-11-27T01:00:00.000Z",
    }
    assert spot["refParkingSite"]["object"] == "urn:ngsi-ld:OffStreetParking:darong-a:garage"
    assert spot["refParkingGroup"]["object"] == "urn:ngsi-ld:ParkingGroup:darong-a:garage-b1"
    silent = entity_by_id(registry, latest(), NOW_MS, "urn:ngsi-ld:ParkingSpot:darong-a:b1-100")
    assert silent is not None and silent["status"] == {"type": "Property", "value": "unknown"}
    # A reading older than a space sensor's silence window (30 minutes) no longer says free.
    old = entity_by_id(registry, latest(), TS + 31 * 60_000, "urn:ngsi-ld:ParkingSpot:darong-a:b2-001")
    assert old is not None and old["status"]["value"] == "unknown"
    assert entity_by_id(registry, latest(), NOW_MS, "urn:ngsi-ld:ParkingSpot:darong-a:nowhere") is None
    assert entity_by_id(registry, latest(), NOW_MS, "urn:ngsi-ld:Vehicle:darong-a:b1-017") is None
    assert entity_by_id(registry, latest(), NOW_MS, "urn:ngsi-ld:ParkingGroup:darong-a:garage") is None


def test_no_reference_points_at_an_entity_that_does_not_exist(registry: Registry) -> None:
    for reg in (registry, Registry.from_text(SPACES_ONLY)):
        every = [e for t in TYPES for e in entities(t, reg, latest(), NOW_MS)]
        ids = {e["id"] for e in every}
        assert len(ids) == len(every), "ids are unique"
        for entity in every:
            for name, attribute in entity.items():
                if isinstance(attribute, dict) and attribute.get("type") == "Relationship":
                    assert attribute["object"] in ids, f"{entity['id']} {name} -> {attribute['object']}"


def test_a_building_with_spaces_and_no_lot_is_its_own_site() -> None:
    reg = Registry.from_text(SPACES_ONLY)
    now = [Reading("t1", "parking_space", f"s-00{n}", TS, {"occupied": n == 1}) for n in (1, 2, 3)]
    sites = {s["id"]: s for s in entities("OffStreetParking", reg, latest(*now), NOW_MS)}
    own = sites["urn:ngsi-ld:OffStreetParking:t1"]
    assert (own["totalSpotNumber"]["value"], own["availableSpotNumber"]["value"]) == (3, 2)
    assert own["occupancyDetectionType"]["value"] == ["singleSpaceDetection"]
    spot = entity_by_id(reg, latest(*now), NOW_MS, "urn:ngsi-ld:ParkingSpot:t1:s-001")
    assert spot is not None and spot["refParkingSite"]["object"] == own["id"]
    assert "refParkingGroup" not in spot
    assert entity_by_id(reg, latest(*now), NOW_MS, own["id"]) == own
    for entity in sites.values():
        assert validator("OffStreetParking").is_valid(key_values(entity))
    # Two separate sites of one building, one with a level: two OffStreetParking, one group.
    assert {"urn:ngsi-ld:OffStreetParking:t2:north", "urn:ngsi-ld:OffStreetParking:t2:south"} <= set(sites)
    [group] = entities("ParkingGroup", reg, latest(), NOW_MS, "t2")
    assert group["refParkingSite"]["object"] == "urn:ngsi-ld:OffStreetParking:t2:south"
