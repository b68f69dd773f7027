"""Device status and building summaries: pure functions of the registry, the latest state,
the open alerts and `now`.

Status, first match wins (an operator wants the most urgent word):

- `alerting`: the device has an unresolved alert;
- `offline`: its availability topic says `offline`;
- `silent`: no message within its silence window (15 minutes for an AED, 30 for the rest,
  the same windows as the `aed-offline` and `device-offline` rules), or never heard from;
- `unregistered`: heard on the broker but not in the registry;
- `ok`: otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Final

from api.device_models import (
    AedSummary,
    BuildingSummary,
    CanteenSummary,
    DevicePublic,
    DeviceStatus,
    LotSummary,
    ParkingSummary,
)
from api.device_state import DeviceState
from collector.models import DeviceKey
from collector.registry import DeviceInfo, Registry

SILENT_AFTER_MS: Final[dict[str, int]] = {"aed": 15 * 60_000}
DEFAULT_SILENT_AFTER_MS: Final = 30 * 60_000


def ms_to_datetime(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def status_of(
    state: DeviceState | None, registered: bool, open_alerts: int, kind: str, now_ms: int
) -> DeviceStatus:
    if open_alerts > 0:
        return "alerting"
    if state is not None and state.online is False:
        return "offline"
    window = SILENT_AFTER_MS.get(kind, DEFAULT_SILENT_AFTER_MS)
    if state is None or state.last_seen_ms is None or now_ms - state.last_seen_ms > window:
        return "silent"
    if not registered:
        return "unregistered"
    return "ok"


def describe(
    key: DeviceKey, info: DeviceInfo | None, state: DeviceState | None, open_alerts: int, now_ms: int
) -> DevicePublic:
    capacity = info.capacity if info else None
    return DevicePublic(
        building=key.building,
        kind=key.kind,
        device=key.device,
        registered=info is not None,
        status=status_of(state, info is not None, open_alerts, key.kind, now_ms),
        name=info.name if info else None,
        floor=info.floor if info else None,
        zone=info.zone if info else None,
        location=info.location if info else None,
        capacity=capacity,
        online=state.online if state else None,
        last_seen=ms_to_datetime(state.last_seen_ms if state else None),
        reading_at=ms_to_datetime(state.reading_ts_ms if state else None),
        reading=dict(state.fields) if state else {},
        open_alerts=open_alerts,
    )


def all_devices(
    registry: Registry,
    states: Mapping[DeviceKey, DeviceState],
    open_alerts: Mapping[DeviceKey, int],
    now_ms: int,
) -> list[DevicePublic]:
    """Every registered device, then every device seen but not registered, in a stable order."""
    out: list[DevicePublic] = []
    for info in registry:
        out.append(describe(info.key, info, states.get(info.key), open_alerts.get(info.key, 0), now_ms))
    unregistered = sorted(
        (key for key in states if key not in registry), key=lambda k: (k.building, k.kind, k.device)
    )
    for key in unregistered:
        out.append(describe(key, None, states[key], open_alerts.get(key, 0), now_ms))
    return out


def count_statuses(devices: Iterable[DevicePublic]) -> dict[str, int]:
    return dict(Counter(d.status for d in devices))


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def building_summaries(
    registry: Registry,
    devices: list[DevicePublic],
    open_alerts_by_building: Mapping[str, int],
) -> list[BuildingSummary]:
    """Per building: free parking spaces, AED readiness, canteen load."""
    by_building: dict[str, list[DevicePublic]] = {}
    for device in devices:
        by_building.setdefault(device.building, []).append(device)
    names = list(registry.buildings) + sorted(b for b in by_building if b not in registry.buildings)
    out: list[BuildingSummary] = []
    for building in names:
        members = by_building.get(building, [])
        info = registry.buildings.get(building)
        out.append(
            BuildingSummary(
                building=building,
                name=info.name if info else None,
                name_en=info.name_en if info else None,
                parking=_parking(members),
                aed=_aed(members),
                canteens=[_canteen(d) for d in members if d.kind == "canteen"],
                open_alerts=open_alerts_by_building.get(building, 0),
            )
        )
    return out


def _parking(members: list[DevicePublic]) -> ParkingSummary | None:
    spaces = [d for d in members if d.kind == "parking_space" and d.registered]
    lots = [d for d in members if d.kind == "parking_lot"]
    if not spaces and not lots:
        return None
    free = occupied = 0
    for space in spaces:
        value = space.reading.get("occupied")
        # A silent or offline sensor's last word is stale: count the space as unknown.
        if not isinstance(value, bool) or space.status in ("silent", "offline"):
            continue
        if value:
            occupied += 1
        else:
            free += 1
    lot_rows = []
    for lot in lots:
        taken = _int(lot.reading.get("occupied"))
        capacity = _int(lot.reading.get("capacity")) or lot.capacity
        lot_rows.append(
            LotSummary(
                device=lot.device,
                occupied=taken,
                capacity=capacity,
                free=max(0, capacity - taken) if taken is not None and capacity else None,
            )
        )
    return ParkingSummary(
        spaces_total=len(spaces),
        spaces_free=free,
        spaces_occupied=occupied,
        spaces_unknown=len(spaces) - free - occupied,
        lots=lot_rows,
    )


def _aed(members: list[DevicePublic]) -> AedSummary | None:
    aeds = [d for d in members if d.kind == "aed"]
    if not aeds:
        return None
    ready = [
        d
        for d in aeds
        if d.reading.get("state") == "ready"
        and d.reading.get("cabinet_open") is not True
        and d.status not in ("silent", "offline")
    ]
    ready_ids = {d.device for d in ready}
    return AedSummary(
        total=len(aeds), ready=len(ready), not_ready=[d.device for d in aeds if d.device not in ready_ids]
    )


def _canteen(device: DevicePublic) -> CanteenSummary:
    occupancy = _int(device.reading.get("occupancy"))
    capacity = _int(device.reading.get("capacity")) or device.capacity
    return CanteenSummary(
        device=device.device,
        occupancy=occupancy,
        capacity=capacity,
        load=round(occupancy / capacity, 3) if occupancy is not None and capacity else None,
        queue_length=_int(device.reading.get("queue_length")),
    )
