"""The public board's JSON, as documented in the OpenAPI schema.

The board is built as a plain dict (api/web/board.py) and served as cached bytes; these models only
describe it, so that clients (and the browser tests' contract check, tests/web/contract.py) know its
shape. A test checks that a built board validates against them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CurvePoint(_Strict):
    minute: int = Field(ge=0, lt=24 * 60, description="slot start, minutes after local midnight")
    load: float = Field(description="occupancy / capacity, mean over the slot")


class BestTime(_Strict):
    status: Literal["ok", "closed", "no_data"]
    at: str | None = Field(description="local time with offset, to the minute")
    load: float | None


class ForecastSlot(_Strict):
    at: str
    load: float | None
    open: bool


class BoardCanteen(_Strict):
    building: str
    device: str
    name: str | None
    location: str | None
    floor: str | None
    occupancy: int | None
    capacity: int | None
    load: float | None
    queue_length: int | None
    updated_at: str | None = Field(description="time of the reading behind the figures (UTC)")
    stale: bool
    service_hours: list[str] = Field(description='meal service, local "HH:MM-HH:MM" (registry)')
    today: list[CurvePoint]
    typical: list[CurvePoint]
    best: BestTime
    forecast: list[ForecastSlot]


class BoardLot(_Strict):
    building: str
    lot: str
    name: str | None
    floor: str | None
    location: str | None
    part_of: str | None
    capacity: int | None
    free: int | None
    source: str | None
    updated_at: str | None
    stale: bool


class BoardParking(_Strict):
    building: str
    name: str
    name_en: str | None
    free: int | None
    capacity: int | None
    source: str | None
    updated_at: str | None
    stale: bool
    lots: list[BoardLot]


class BoardClock(_Strict):
    """The area's clock when the board was built: the real one, or a demo's simulated time."""

    now: str = Field(description="the area's local time with offset: the time of day the board reads")
    simulated: bool = Field(description="true in a demo running simulated time (LOUYU_DEMO_CLOCK)")
    speed: float = Field(description="area seconds per real second (1 unless simulated)")


class Board(_Strict):
    generated_at: str = Field(description="when the board was built (UTC, by the server's clock)")
    clock: BoardClock
    area: str
    area_name: str | None
    timezone: str
    canteens: list[BoardCanteen]
    parking: list[BoardParking]
