"""FIWARE NGSI-LD, read-only: the parking Smart Data Models for the city platform to pull.

    GET /api/v1/ngsi-ld/OffStreetParking          every parking lot
    GET /api/v1/ngsi-ld/ParkingSpot               every parking space (`?building=` to narrow)
    GET /api/v1/ngsi-ld/entities/{urn}            one entity by id

NGSI-LD normalized JSON-LD (`application/ld+json`), each entity carrying its `@context`. Values come
from the latest readings the API holds. Any reader may pull (the city's `integration` token too).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import JSONResponse

from api.deps import AUTH_RESPONSES, Devices, Reader, RegistryDep
from api.device_state import DeviceStateTable
from api.models import Problem
from collector.models import DeviceKey
from rules.notify.ngsi_ld import MEDIA_TYPE, Observed, entities, entity_by_id

router = APIRouter(prefix="/api/v1/ngsi-ld", tags=["fiware"], responses=AUTH_RESPONSES)

EntityType = Literal["OffStreetParking", "ParkingSpot"]
_EXAMPLE = {
    "id": "urn:ngsi-ld:OffStreetParking:darong-a:garage",
    "type": "OffStreetParking",
    "totalSpotNumber": {"type": "Property", "value": 600},
    "availableSpotNumber": {"type": "Property", "value": 188, "observedAt": "2026-11-27T01:00:00.000Z"},
    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [120.468, 36.105]}},
    "@context": [
        "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld"
    ],
}
_LD: dict[int | str, dict[str, Any]] = {
    200: {"content": {MEDIA_TYPE: {"example": [_EXAMPLE]}}, "description": "NGSI-LD entities"}
}


class LdResponse(JSONResponse):
    media_type = MEDIA_TYPE


def _observed(devices: DeviceStateTable) -> dict[DeviceKey, Observed]:
    return {
        key: Observed(state.fields, state.reading_ts_ms)
        for key, state in devices.snapshot().items()
        if state.reading_ts_ms is not None and key.kind in ("parking_lot", "parking_space")
    }


@router.get("/entities/{entity_id}", response_class=LdResponse, responses={**_LD, 404: {"model": Problem}})
def get_entity(
    entity_id: Annotated[str, Path(max_length=200, examples=["urn:ngsi-ld:ParkingSpot:darong-a:b1-017"])],
    _: Reader,
    registry: RegistryDep,
    devices: Devices,
) -> LdResponse:
    """One entity by its URN."""
    entity = entity_by_id(registry, _observed(devices), entity_id)
    if entity is None:
        raise HTTPException(404, f"no entity {entity_id[:100]}")
    return LdResponse(entity)


@router.get("/{entity_type}", response_class=LdResponse, responses=_LD)
def list_entities(
    entity_type: EntityType,
    _: Reader,
    registry: RegistryDep,
    devices: Devices,
    building: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] = None,
) -> LdResponse:
    """Every entity of the type, from the registry and the latest readings."""
    found: list[dict[str, Any]] = entities(entity_type, registry, _observed(devices), building)
    return LdResponse(found)
