"""FIWARE parking entities, validated against the Smart Data Models' published JSON schemas
(vendored in tests/notify/schemas, see its README)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry as SchemaRegistry
from referencing import Resource
from referencing.jsonschema import DRAFT7

from collector.models import DeviceKey
from collector.registry import Registry
from rules.notify.ngsi_ld import CONTEXT, Observed, entities, entity_by_id, key_values

SCHEMAS = Path(__file__).parent / "schemas"
TS = int(dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC).timestamp() * 1000)
formats = FormatChecker()


@formats.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    return not isinstance(value, str) or dt.datetime.fromisoformat(value).tzinfo is not None


def validator(name: str) -> Draft7Validator:
    def load(file: str) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((SCHEMAS / file).read_text("utf-8"))
        return loaded

    common = load("common-schema.json")
    schemas = SchemaRegistry().with_resource(common["$id"], Resource.from_contents(common, DRAFT7))
    return Draft7Validator(load(f"{name}.schema.json"), registry=schemas, format_checker=formats)


def latest() -> dict[DeviceKey, Observed]:
    return {
        DeviceKey("darong-a", "parking_lot", "garage"): Observed({"occupied": 412, "capacity": 600}, TS),
        DeviceKey("darong-a", "parking_lot", "garage-b1"): Observed({"occupied": 300}, TS),
        DeviceKey("darong-a", "parking_space", "b1-017"): Observed(
            {"occupied": True, "battery_pct": 81.0}, TS
        ),
        DeviceKey("darong-a", "parking_space", "b2-001"): Observed({"occupied": False}, TS),
    }


@pytest.mark.parametrize("entity_type", ["OffStreetParking", "ParkingSpot"])
def test_every_entity_is_valid_against_the_published_schema(entity_type: str, registry: Registry) -> None:
    check = validator(entity_type)
    found = entities(entity_type, registry, latest())
    assert found, "the Darong registry has lots and spaces"
    for entity in found:
        errors = sorted(check.iter_errors(key_values(entity)), key=str)
        assert not errors, f"{entity['id']}: {errors[0].message}"


def test_the_schema_check_can_fail(registry: Registry) -> None:
    """The vendored schema really constrains: a broken entity is refused."""
    spot = entities("ParkingSpot", registry, latest())[0]
    broken = key_values(spot) | {"status": "parked"}
    assert not validator("ParkingSpot").is_valid(broken)
    lot = key_values(entities("OffStreetParking", registry, latest())[0])
    del lot["location"]
    assert not validator("OffStreetParking").is_valid(lot)


def test_normalized_form_and_values(registry: Registry) -> None:
    lot = entity_by_id(registry, latest(), "urn:ngsi-ld:OffStreetParking:darong-a:garage")
    assert lot is not None
    assert lot["@context"] == CONTEXT
    assert lot["type"] == "OffStreetParking"
    assert lot["totalSpotNumber"] == {"type": "Property", "value": 600}
    assert lot["availableSpotNumber"]["value"] == 188
    assert lot["availableSpotNumber"]["observedAt"] == "2026-11-27T01:00:00.000Z"
    assert lot["status"]["value"] == ["spacesAvailable"]
    assert lot["lowestFloor"]["value"] == -2 and lot["highestFloor"]["value"] == -1
    assert lot["location"]["type"] == "GeoProperty"
    full = entity_by_id(registry, latest(), "urn:ngsi-ld:OffStreetParking:darong-a:garage-b1")
    assert full is not None and full["status"]["value"] == ["full"]
    spot = entity_by_id(registry, latest(), "urn:ngsi-ld:ParkingSpot:darong-a:b1-017")
    assert spot is not None
    assert spot["status"]["value"] == "occupied"
    assert spot["refParkingSite"] == {
        "type": "Relationship",
        "object": "urn:ngsi-ld:OffStreetParking:darong-a:garage-b1",
    }
    silent = entity_by_id(registry, latest(), "urn:ngsi-ld:ParkingSpot:darong-a:b1-100")
    assert silent is not None and silent["status"] == {"type": "Property", "value": "unknown"}
    assert entity_by_id(registry, latest(), "urn:ngsi-ld:ParkingSpot:darong-a:nowhere") is None
    assert entity_by_id(registry, latest(), "urn:ngsi-ld:Vehicle:darong-a:b1-017") is None
