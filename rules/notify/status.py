"""The building status snapshot pushed to the city platform: free parking per building, site and
level, AED readiness, canteen load. A JSON view of the building summary (collector/summary.py),
so that its numbers are those of `/api/v1/buildings`, the board and NGSI-LD. Pure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from collector.latest import DeviceState
from collector.models import DeviceKey
from collector.registry import DeviceInfo, Registry
from collector.summary import BuildingSummary, Count, ParkingSummary, summarize


def _iso_ms(ts_ms: int | None) -> str | None:
    if ts_ms is None:
        return None
    return dt.datetime.fromtimestamp(ts_ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def _figure(count: Count) -> dict[str, Any]:
    return {
        "free": count.free,
        "capacity": count.capacity,
        "occupied": count.occupied,
        "source": count.source,
        "freshness": count.freshness,
        "observed_at": _iso_ms(count.observed_ms),
        "age_s": count.age_s,
    }


def _lot(info: DeviceInfo, counter: Count) -> dict[str, Any]:
    # The lot's own counter, as it last reported (values withheld unless fresh).
    return {
        "device": info.device,
        "part_of": info.part_of,
        "capacity": counter.capacity,
        "occupied": counter.occupied,
        "free": counter.free,
        "freshness": counter.freshness,
        "observed_at": _iso_ms(counter.observed_ms),
    }


def _parking(parking: ParkingSummary) -> dict[str, Any]:
    lots: list[dict[str, Any]] = []
    for site in parking.sites:
        lots.append(_lot(site.lot, site.counter))
        lots += [_lot(level.lot, level.counter) for level in site.levels]
    return {
        # Each site counted once (its counter, else its levels), plus the spaces in no lot.
        "free_spaces": parking.count.free,
        "capacity": parking.count.capacity,
        "freshness": parking.count.freshness,
        "observed_at": _iso_ms(parking.count.observed_ms),
        "age_s": parking.count.age_s,
        "sites": [
            {
                "site": site.lot.device,
                **_figure(site.count),
                "levels": [{"level": level.lot.device, **_figure(level.count)} for level in site.levels],
            }
            for site in parking.sites
        ],
        "lots": lots,
        "spaces": {
            "total": parking.spaces.total,
            "occupied": parking.spaces.occupied,
            "free": parking.spaces.free,
            "unknown": parking.spaces.unknown,
        },
    }


def _building(b: BuildingSummary) -> dict[str, Any]:
    aeds = b.aed.devices if b.aed is not None else ()
    return {
        "building": b.building.id,
        "name": b.building.name,
        "name_en": b.building.name_en,
        "parking": _parking(b.parking) if b.parking is not None else None,
        "aed": {
            "total": len(aeds),
            "ready": sum(1 for a in aeds if a.ready),
            "devices": [
                {
                    "device": a.info.device,
                    "location": a.info.location,
                    "state": a.state,
                    "ready": a.ready,
                    "battery_pct": a.battery_pct,
                    "freshness": a.freshness,
                    "observed_at": _iso_ms(a.observed_ms),
                }
                for a in aeds
            ],
        },
        "canteen": [
            {
                "device": c.info.device,
                "occupancy": c.occupancy,
                "capacity": c.capacity,
                "load": c.load,
                "queue_length": c.queue_length,
                "freshness": c.freshness,
                "observed_at": _iso_ms(c.observed_ms),
            }
            for c in b.canteens
        ],
    }


def building_status(
    registry: Registry, latest: Mapping[DeviceKey, DeviceState], now: dt.datetime
) -> dict[str, Any]:
    area = summarize(registry, latest, int(now.timestamp() * 1000))
    return {
        "area": registry.area,
        "area_name": registry.area_name,
        "at": now.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        "buildings": [_building(b) for b in area.buildings],
    }
