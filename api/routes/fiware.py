"""FIWARE NGSI-LD, read-only: the parking Smart Data Models for the city platform to pull.

    GET /api/v1/ngsi-ld/OffStreetParking          every parking site (a lot part of no other)
    GET /api/v1/ngsi-ld/ParkingGroup              every level of a site
    GET /api/v1/ngsi-ld/ParkingSpot               every parking space (`?building=` narrows each list)
    GET /api/v1/ngsi-ld/entities/{urn}            one entity by id

NGSI-LD normalized JSON-LD (`application/ld+json`), each entity carrying its `@context`. Values are
the building summary's (rules/notify/ngsi_ld.py), from the latest state the API holds. Any reader
may pull (the city's `integration` token too).

Error answers (401, 403, 404, 429) are `{"detail": ...}` as everywhere in the API, sent as
`application/ld+json` like the entities, which is how the OpenAPI document gives them; only 422 is
`application/json`, as FastAPI documents it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from api.deps import AUTH_RESPONSES, Devices, Now, Reader, RegistryDep
from api.models import Problem
from rules.notify.ngsi_ld import MEDIA_TYPE, entities, entity_by_id

EntityType = Literal["OffStreetParking", "ParkingGroup", "ParkingSpot"]
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


class LdRoute(APIRoute):
    """A FIWARE route whose refusals are sent in the media type its OpenAPI entry gives them.

    FastAPI documents every `responses=` entry of a route (the token's 401, 403 and 429 as much as
    the 404) under the route's own media type, `application/ld+json`, while the app's handler of
    HTTPException answers `application/json`. The refusals of the token dependencies are raised
    inside the route's handler, so catching them here covers all of them; the body and headers
    (WWW-Authenticate, Retry-After) stay what the app's handler would send.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except HTTPException as error:
                return LdResponse({"detail": error.detail}, error.status_code, headers=error.headers)

        return answer


router = APIRouter(prefix="/api/v1/ngsi-ld", tags=["fiware"], responses=AUTH_RESPONSES, route_class=LdRoute)


def _ms(now: dt.datetime) -> int:
    return int(now.timestamp() * 1000)


@router.get("/entities/{entity_id}", response_class=LdResponse, responses={**_LD, 404: {"model": Problem}})
def get_entity(
    entity_id: Annotated[str, Path(max_length=200, examples=["urn:ngsi-ld:ParkingSpot:darong-a:b1-017"])],
    _: Reader,
    registry: RegistryDep,
    devices: Devices,
    now: Now,
) -> LdResponse:
    """One entity by its URN."""
    entity = entity_by_id(registry, devices.snapshot(), _ms(now), entity_id)
    if entity is None:
        raise HTTPException(404, f"no entity {entity_id[:100]}")
    return LdResponse(entity)


@router.get("/{entity_type}", response_class=LdResponse, responses=_LD)
def list_entities(
    entity_type: EntityType,
    _: Reader,
    registry: RegistryDep,
    devices: Devices,
    now: Now,
    building: Annotated[str | None, Query(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] = None,
) -> LdResponse:
    """Every entity of the type, from the registry and the latest readings."""
    found: list[dict[str, Any]] = entities(entity_type, registry, devices.snapshot(), _ms(now), building)
    return LdResponse(found)
