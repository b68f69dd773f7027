"""Response body of `/api/v1/site`: the site plan, drawn from the registry's outlines and
positions (metres, site frame: docs/interface.md), with what each building's alerts and figures
say now."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.device_models import Freshness
from api.models import Severity

# [x, y]: metres east and north of the site's origin.
PlanPoint = tuple[float, float]


class PlanBuilding(BaseModel):
    building: str
    name: str
    name_en: str | None = None
    outline: list[PlanPoint] | None = Field(
        default=None,
        description="closed ring (last point = first), metres; null: the registry does not place it",
    )
    label_at: PlanPoint | None = Field(default=None, description="the centre of the outline's area")
    severity: Severity | None = Field(
        default=None,
        description="the most severe open (firing or acknowledged) alert of the building; null: none",
    )
    open_alerts: int = 0
    alarm: bool = Field(
        default=False, description="a critical alert of the building fires, unacknowledged and not silenced"
    )


class PlanPlace(BaseModel):
    """A device drawn on the plan: every AED, every parking site (a lot that is part of no other)
    and every canteen, with the figure the building summary gives it."""

    building: str
    kind: Literal["aed", "parking_lot", "canteen"]
    device: str
    name: str | None = None
    floor: str | None = None
    location: str | None = None
    position: PlanPoint | None = Field(default=None, description="null: placed at its building's label")
    outline: list[PlanPoint] | None = Field(default=None, description="a parking site's footprint")
    severity: Severity | None = Field(default=None, description="the device's most severe open alert")
    freshness: Freshness = "unknown"
    ready: bool | None = Field(default=None, description="an AED: fresh, state ready, cabinet not open")
    state: str | None = Field(default=None, description="an AED's latest state")
    cabinet_open: bool | None = None
    free: int | None = Field(default=None, description="a parking site: free spaces, null unless fresh")
    capacity: int | None = None
    load: float | None = Field(default=None, description="a canteen: occupancy / capacity, null unless fresh")
    queue_length: int | None = None


class SitePlan(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "area": "darong",
                    "area_name": "大荣片区",
                    "unit": "m",
                    "bounds": [20.0, 20.0, 391.0, 228.0],
                    "buildings": [
                        {
                            "building": "darong-b",
                            "name": "大荣中心 B 座",
                            "name_en": "Darong Centre Tower B",
                            "outline": [[120, 30], [190, 30], [190, 52], [120, 52], [120, 30]],
                            "label_at": [155.0, 41.0],
                            "severity": "critical",
                            "open_alerts": 1,
                            "alarm": True,
                        }
                    ],
                    "places": [
                        {
                            "building": "darong-b",
                            "kind": "aed",
                            "device": "aed-b-1f-lobby",
                            "floor": "1F",
                            "location": "B 座一楼大堂前台旁 / Tower B lobby, beside reception",
                            "position": [140.0, 33.0],
                            "severity": "critical",
                            "freshness": "fresh",
                            "ready": False,
                            "state": "ready",
                            "cabinet_open": True,
                        }
                    ],
                }
            ]
        }
    )

    area: str
    area_name: str | None = None
    unit: Literal["m"] = Field(default="m", description="metres; x to the east, y to the north")
    bounds: tuple[float, float, float, float] | None = Field(
        default=None, description="min x, min y, max x, max y of everything drawn; null: nothing is placed"
    )
    buildings: list[PlanBuilding]
    places: list[PlanPlace]
