"""The site plan as the API gives it: the registry's geometry, each building's most severe open
alert, and the figures of the building summary (collector/summary.py) for the places drawn.

Pure: registry, summary and open alerts in, `SitePlan` out. The colours, the flashing and the
numbers on the plan are these values; the page computes none of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from api.site_models import PlanBuilding, PlanPlace, PlanPoint, SitePlan
from collector.geometry import centroid
from collector.registry import DeviceInfo, Registry
from collector.summary import AreaSummary
from rules.records import SEVERITIES, AlertRecord


def _worst(severities: Iterable[str]) -> str | None:
    ranks = [SEVERITIES.index(s) for s in severities if s in SEVERITIES]
    return SEVERITIES[min(ranks)] if ranks else None


def _ring(points: Sequence[tuple[float, float]] | None) -> list[PlanPoint] | None:
    return [(float(x), float(y)) for x, y in points] if points is not None else None


def _place(info: DeviceInfo, severity: str | None) -> PlanPlace:
    return PlanPlace(
        building=info.building,
        kind=info.kind,
        device=info.device,
        name=info.name,
        floor=info.floor,
        location=info.location,
        position=(float(info.position[0]), float(info.position[1])) if info.position else None,
        outline=_ring(info.outline),
        severity=severity,
    )


def site_plan(registry: Registry, area: AreaSummary, open_alerts: Sequence[AlertRecord]) -> SitePlan:
    by_building: dict[str, list[AlertRecord]] = {}
    by_device: dict[tuple[str, str, str], list[str]] = {}
    for alert in open_alerts:
        by_building.setdefault(alert.building, []).append(alert)
        by_device.setdefault((alert.building, alert.kind, alert.device), []).append(alert.severity)

    def device_severity(info: DeviceInfo) -> str | None:
        return _worst(by_device.get((info.building, info.kind, info.device), ()))

    buildings: list[PlanBuilding] = []
    places: list[PlanPlace] = []
    for summary in area.buildings:
        info = summary.building
        alerts = by_building.get(info.id, [])
        buildings.append(
            PlanBuilding(
                building=info.id,
                name=info.name,
                name_en=info.name_en,
                outline=_ring(info.outline),
                label_at=centroid(info.outline) if info.outline else None,
                severity=_worst(a.severity for a in alerts),
                open_alerts=len(alerts),
                alarm=any(
                    a.severity == "critical" and a.state == "firing" and not a.silenced for a in alerts
                ),
            )
        )
        for aed in summary.aed.devices if summary.aed else ():
            place = _place(aed.info, device_severity(aed.info))
            place.freshness = aed.freshness
            place.ready, place.state, place.cabinet_open = aed.ready, aed.state, aed.cabinet_open
            places.append(place)
        for site in summary.parking.sites if summary.parking else ():
            place = _place(site.lot, device_severity(site.lot))
            place.freshness, place.free, place.capacity = (
                site.count.freshness,
                site.count.free,
                site.count.capacity,
            )
            places.append(place)
        for canteen in summary.canteens:
            place = _place(canteen.info, device_severity(canteen.info))
            place.freshness, place.capacity = canteen.freshness, canteen.capacity
            place.load, place.queue_length = canteen.load, canteen.queue_length
            places.append(place)
    return SitePlan(
        area=area.area,
        area_name=area.area_name,
        bounds=_bounds(buildings, places),
        buildings=buildings,
        places=places,
    )


def _bounds(
    buildings: Sequence[PlanBuilding], places: Sequence[PlanPlace]
) -> tuple[float, float, float, float] | None:
    points: list[PlanPoint] = [p for b in buildings for p in b.outline or ()]
    points += [p for place in places for p in place.outline or ()]
    points += [place.position for place in places if place.position is not None]
    if not points:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))
