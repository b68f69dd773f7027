"""Response bodies of the device, building and history routes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.models import Timestamp

DeviceStatus = Literal["ok", "alerting", "silent", "offline", "unregistered"]


class DevicePublic(BaseModel):
    """A device from the registry or seen on the broker, with its latest reading."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "building": "darong-b",
                    "kind": "aed",
                    "device": "aed-b-1f-lobby",
                    "registered": True,
                    "status": "ok",
                    "name": None,
                    "floor": "1F",
                    "zone": "lobby",
                    "location": "B 座一楼大堂前台旁 / Tower B lobby, beside reception",
                    "capacity": None,
                    "online": True,
                    "last_seen": "2026-11-27T01:00:00.123000+00:00",
                    "reading_at": "2026-11-27T01:00:00.123000+00:00",
                    "reading": {"state": "ready", "cabinet_open": False, "battery_pct": 92.0},
                    "open_alerts": 0,
                }
            ]
        }
    )

    building: str
    kind: str
    device: str
    registered: bool
    status: DeviceStatus
    name: str | None = None
    floor: str | None = None
    zone: str | None = None
    location: str | None = None
    capacity: int | None = None
    online: bool | None = None
    last_seen: Timestamp | None = None
    reading_at: Timestamp | None = None
    reading: dict[str, bool | int | float | str] = Field(default_factory=dict)
    open_alerts: int = 0


class DeviceList(BaseModel):
    items: list[DevicePublic]
    counts: dict[str, int] = Field(
        description="devices per status", examples=[{"ok": 620, "alerting": 2, "silent": 1}]
    )


Freshness = Literal["fresh", "stale", "unknown"]
_FRESHNESS = (
    "fresh: every reading the figure rests on is within its device's silence window and the device "
    "is not offline; stale: one is older (the values are withheld); unknown: one never arrived"
)


class FigureAge(BaseModel):
    """When the readings behind a figure were taken, and whether the figure can be trusted."""

    freshness: Freshness = Field(default="unknown", description=_FRESHNESS)
    observed_at: Timestamp | None = Field(default=None, description="the oldest reading the figure rests on")
    age_s: float | None = Field(default=None, description="seconds between observed_at and now")


class FreeCount(FigureAge):
    """Free parking in one place (a level, a site, a building)."""

    free: int | None = Field(default=None, description="null unless fresh")
    capacity: int | None = Field(default=None, description="the spaces the figure covers")
    occupied: int | None = None
    source: Literal["counter", "sensors", "parts", "none"] = Field(
        default="none",
        description="the place's own counter, its space sensors, or the sum of its parts (a site's levels, "
        "a building's sites and loose spaces)",
    )


class LotSummary(FigureAge):
    """One lot's own counter (site or level), as its latest reading says."""

    device: str
    occupied: int | None = None
    capacity: int | None = None
    free: int | None = None
    part_of: str | None = Field(default=None, description="the site this lot is a level of; null for a site")


class LevelSummary(BaseModel):
    device: str
    name: str | None = None
    floor: str | None = None
    count: FreeCount


class SiteSummary(BaseModel):
    device: str
    name: str | None = None
    floor: str | None = None
    count: FreeCount = Field(description="the site's counter, else the sum of its levels and loose spaces")
    levels: list[LevelSummary] = Field(default_factory=list)


class ParkingSummary(BaseModel):
    spaces_total: int = Field(description="registered parking spaces")
    spaces_free: int = Field(description="spaces whose latest reading says free")
    spaces_occupied: int
    spaces_unknown: int = Field(description="spaces that never reported or have gone silent")
    lots: list[LotSummary] = Field(default_factory=list)
    free: int | None = Field(
        default=None,
        description="free spaces in the building: each site counted once (its counter, else its levels), "
        "plus the spaces in no lot; null unless fresh",
    )
    capacity: int | None = None
    count: FreeCount = Field(default_factory=FreeCount, description="the building's free count with its age")
    sites: list[SiteSummary] = Field(default_factory=list)


class AedSummary(FigureAge):
    total: int
    ready: int = Field(description="state ready, cabinet closed, reporting")
    not_ready: list[str] = Field(default_factory=list, description="device ids that are not ready")


class CanteenSummary(FigureAge):
    device: str
    occupancy: int | None = None
    capacity: int | None = None
    load: float | None = Field(default=None, description="occupancy / capacity, 0..1 (can exceed 1)")
    queue_length: int | None = None


class BuildingSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "building": "darong-a",
                    "name": "大荣中心 A 座",
                    "name_en": "Darong Centre Tower A",
                    "parking": {
                        "spaces_total": 600,
                        "spaces_free": 212,
                        "spaces_occupied": 380,
                        "spaces_unknown": 8,
                        "lots": [
                            {
                                "device": "garage",
                                "occupied": 412,
                                "capacity": 600,
                                "free": 188,
                                "part_of": None,
                                "freshness": "fresh",
                                "observed_at": "2026-11-27T01:00:00+00:00",
                                "age_s": 12.5,
                            }
                        ],
                        "free": 188,
                        "capacity": 600,
                    },
                    "aed": {"total": 1, "ready": 1, "not_ready": [], "freshness": "fresh"},
                    "canteens": [],
                    "open_alerts": 0,
                }
            ]
        }
    )

    building: str
    name: str | None = None
    name_en: str | None = None
    parking: ParkingSummary | None = None
    aed: AedSummary | None = None
    canteens: list[CanteenSummary] = Field(default_factory=list)
    open_alerts: int = 0


class HistoryPoint(BaseModel):
    t: Timestamp
    v: bool | int | float | str | None


class HistoryPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "building": "darong-a",
                    "kind": "parking_lot",
                    "device": "garage",
                    "field": "occupied",
                    "agg": "mean",
                    "every": "5m",
                    "start": "2026-11-27T00:00:00+00:00",
                    "end": "2026-11-27T01:00:00+00:00",
                    "points": [
                        {"t": "2026-11-27T00:00:00+00:00", "v": 402.5},
                        {"t": "2026-11-27T00:05:00+00:00", "v": 410.0},
                    ],
                }
            ]
        }
    )

    building: str
    kind: str
    device: str
    field: str
    agg: str
    every: str | None = Field(description="the aggregation window; null for raw points (agg=raw)")
    start: Timestamp
    end: Timestamp
    points: list[HistoryPoint]
