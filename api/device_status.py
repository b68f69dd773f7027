"""Device status and building summaries: pure functions of the registry, the latest state,
the open alerts and `now`.

Status, first match wins (an operator wants the most urgent word):

- `alerting`: the device has an unresolved alert;
- `offline`: its availability topic says `offline`;
- `silent`: no message within its silence window (collector/latest.py: 15 minutes for an AED,
  30 for the rest, the same windows as the `aed-offline` and `device-offline` rules), or never
  heard from;
- `unregistered`: heard on the broker but not in the registry;
- `ok`: otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping

from api.device_models import (
    AedSummary,
    BuildingSummary,
    CanteenSummary,
    DevicePublic,
    DeviceStatus,
    FreeCount,
    LevelSummary,
    LotSummary,
    ParkingSummary,
    SiteSummary,
)
from collector import summary
from collector.latest import DeviceState, silent_after_ms
from collector.models import DeviceKey
from collector.registry import DeviceInfo, Registry
from collector.summary import AreaSummary, Count


def ms_to_datetime(ms: int | None) -> dt.datetime | None:
    return None if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def status_of(
    state: DeviceState | None, registered: bool, open_alerts: int, kind: str, now_ms: int
) -> DeviceStatus:
    if open_alerts > 0:
        return "alerting"
    if state is not None and state.online is False:
        return "offline"
    window = silent_after_ms(kind)
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


def _at(ms: int | None) -> dt.datetime | None:
    return ms_to_datetime(ms)


def _count(count: Count) -> FreeCount:
    return FreeCount(
        free=count.free,
        capacity=count.capacity,
        occupied=count.occupied,
        source=count.source,
        freshness=count.freshness,
        observed_at=_at(count.observed_ms),
        age_s=count.age_s,
    )


def _lot(lot: DeviceInfo, counter: Count) -> LotSummary:
    return LotSummary(
        device=lot.device,
        occupied=counter.occupied,
        capacity=counter.capacity,
        free=counter.free,
        part_of=lot.part_of,
        freshness=counter.freshness,
        observed_at=_at(counter.observed_ms),
        age_s=counter.age_s,
    )


def _parking(parking: summary.ParkingSummary) -> ParkingSummary:
    lots: list[LotSummary] = []
    sites: list[SiteSummary] = []
    for site in parking.sites:
        lots.append(_lot(site.lot, site.counter))
        lots += [_lot(level.lot, level.counter) for level in site.levels]
        sites.append(
            SiteSummary(
                device=site.lot.device,
                name=site.lot.name,
                floor=site.lot.floor,
                count=_count(site.count),
                levels=[
                    LevelSummary(
                        device=level.lot.device,
                        name=level.lot.name,
                        floor=level.lot.floor,
                        count=_count(level.count),
                    )
                    for level in site.levels
                ],
            )
        )
    return ParkingSummary(
        spaces_total=parking.spaces.total,
        spaces_free=parking.spaces.free,
        spaces_occupied=parking.spaces.occupied,
        spaces_unknown=parking.spaces.unknown,
        lots=lots,
        free=parking.count.free,
        capacity=parking.count.capacity,
        count=_count(parking.count),
        sites=sites,
    )


def building_summaries(
    area: AreaSummary, open_alerts_by_building: Mapping[str, int]
) -> list[BuildingSummary]:
    """Per registered building: free parking, AED readiness, canteen load, as the building
    summary (collector/summary.py) has them."""
    out: list[BuildingSummary] = []
    for b in area.buildings:
        aed = b.aed
        out.append(
            BuildingSummary(
                building=b.building.id,
                name=b.building.name,
                name_en=b.building.name_en,
                parking=_parking(b.parking) if b.parking is not None else None,
                aed=AedSummary(
                    total=aed.total,
                    ready=aed.ready,
                    not_ready=aed.not_ready,
                    freshness=summary.worst(a.freshness for a in aed.devices),
                    observed_at=_at(aed.observed_ms),
                    age_s=aed.age_s,
                )
                if aed is not None
                else None,
                canteens=[
                    CanteenSummary(
                        device=c.info.device,
                        occupancy=c.occupancy,
                        capacity=c.capacity,
                        load=c.load,
                        queue_length=c.queue_length,
                        freshness=c.freshness,
                        observed_at=_at(c.observed_ms),
                        age_s=c.age_s,
                    )
                    for c in b.canteens
                ],
                open_alerts=open_alerts_by_building.get(b.building.id, 0),
            )
        )
    return out
