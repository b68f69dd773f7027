"""`/api/v1/devices` and `/api/v1/buildings`: every known device with its latest reading and
status, and per-building summaries (free parking, AED readiness, canteen load)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Path, Query

from api.deps import AUTH_RESPONSES, Devices, Now, Reader, RegistryDep, Store
from api.device_models import BuildingSummary, DeviceList, DevicePublic, DeviceStatus
from api.device_status import all_devices, building_summaries, count_statuses, describe
from api.models import KindName, Problem
from collector.models import DeviceKey
from collector.summary import summarize
from rules.store import AlertStore

router = APIRouter(tags=["devices"], responses=AUTH_RESPONSES)

NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"
BuildingPath = Annotated[str, Path(pattern=NAME_PATTERN, examples=["darong-b"])]
DevicePath = Annotated[str, Path(pattern=NAME_PATTERN, examples=["aed-b-1f-lobby"])]


def _open_alerts(store: AlertStore) -> Counter[DeviceKey]:
    return Counter(DeviceKey(a.building, a.kind, a.device) for a in store.open_alerts())


def _ms(now: dt.datetime) -> int:
    return int(now.timestamp() * 1000)


@router.get("/api/v1/devices", response_model=DeviceList)
def list_devices(
    _: Reader,
    registry: RegistryDep,
    devices: Devices,
    store: Store,
    now: Now,
    building: Annotated[str | None, Query(pattern=NAME_PATTERN, examples=["darong-a"])] = None,
    kind: Annotated[KindName | None, Query(examples=["parking_space"])] = None,
    status: Annotated[DeviceStatus | None, Query(examples=["silent"])] = None,
) -> DeviceList:
    """Every registered device, and every device seen on the broker but not registered."""
    items = all_devices(registry, devices.snapshot(), _open_alerts(store), _ms(now))
    counts = count_statuses(items)
    items = [
        d
        for d in items
        if (building is None or d.building == building)
        and (kind is None or d.kind == kind)
        and (status is None or d.status == status)
    ]
    return DeviceList(items=items, counts=counts)


@router.get(
    "/api/v1/devices/{building}/{kind}/{device}",
    response_model=DevicePublic,
    responses={404: {"model": Problem, "description": "neither registered nor ever seen"}},
)
def get_device(
    building: BuildingPath,
    kind: KindName,
    device: DevicePath,
    _: Reader,
    registry: RegistryDep,
    devices: Devices,
    store: Store,
    now: Now,
) -> DevicePublic:
    """One device with its latest reading and status."""
    key = DeviceKey(building, kind, device)
    info = registry.get(building, kind, device)
    state = devices.get(key)
    if info is None and state is None:
        raise HTTPException(404, f"device {key} is neither registered nor ever seen")
    return describe(key, info, state, _open_alerts(store).get(key, 0), _ms(now))


@router.get("/api/v1/buildings", response_model=list[BuildingSummary])
def list_buildings(
    _: Reader, registry: RegistryDep, devices: Devices, store: Store, now: Now
) -> list[BuildingSummary]:
    """Per building: free parking per building, site and level, AED readiness, canteen load, open
    alerts; each figure with its freshness and the time of the oldest reading it rests on."""
    per_building: Counter[str] = Counter()
    for key, count in _open_alerts(store).items():
        per_building[key.building] += count
    return building_summaries(summarize(registry, devices.snapshot(), _ms(now)), per_building)
