"""Bodies of `/api/v1/incidents` and `/api/v1/drills` (docs/api.md, "AED incidents")."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.models import AlertPublic, Name, Timestamp
from api.routes.deliveries import DeliveryPublic

IncidentState = Literal["open", "closed"]
StepName = Literal["en_route", "on_site", "handed_over", "closing_note"]
DrillStageName = Literal["cabinet_open", "in_use", "back"]


class IncidentLocation(BaseModel):
    """Where the cabinet is, from the registry (null where the registry says nothing)."""

    building: str
    building_name: str | None = None
    building_name_en: str | None = None
    floor: str | None = None
    zone: str | None = None
    location: str | None = None
    name: str | None = None
    gateway: str | None = None


class IncidentDeviceState(BaseModel):
    """The cabinet's latest known state, as the API last heard it (null: never heard)."""

    state: str | None = None
    cabinet_open: bool | None = None
    online: bool | None = None
    drill: bool = Field(False, description="the latest reading was a drill's")
    ts: Timestamp | None = Field(None, description="time of the latest reading")


class IncidentStep(BaseModel):
    """One response step: an event of the incident's first alert."""

    event_id: int
    step: StepName
    at: Timestamp
    by: str | None
    note: str | None


class IncidentTimings(BaseModel):
    """Seconds from the first alert; null until it happened. A repeated step counts once, the
    first time."""

    time_to_ack_s: float | None = Field(description="to the first acknowledgement")
    time_to_site_s: float | None = Field(description="to the first `on_site` step")
    time_to_return_s: float | None = Field(description="to the AED back: every alert resolved")


class TimelineEntry(BaseModel):
    """One moment of the incident: an alert event (including the steps) or a delivery.

    For a delivery, `event` is `delivery_<status>` (`delivery_delivered`, `delivery_failed`, ...),
    `by` the receiver, `channel` its channel and `at` the delivery time (or its creation while
    pending)."""

    at: Timestamp
    event: str
    alert_id: int | None
    rule: str | None
    by: str | None
    note: str | None
    event_id: int | None = None
    channel: str | None = None


class IncidentSummary(BaseModel):
    """An incident as listed: enough for a row."""

    id: int = Field(description="the id of its first alert", examples=[42])
    building: str
    kind: str
    device: str
    drill: bool
    state: IncidentState
    opened_at: Timestamp
    closed_at: Timestamp | None
    acknowledged_at: Timestamp | None
    acknowledged_by: str | None
    alert_ids: list[int]
    summary: str = Field(description="its first alert's summary")
    location: IncidentLocation
    timings: IncidentTimings


class IncidentPublic(IncidentSummary):
    """One incident with everything the incident view shows."""

    device_state: IncidentDeviceState
    alerts: list[AlertPublic]
    steps: list[IncidentStep]
    deliveries: list[DeliveryPublic] = Field(
        description="oldest first; for roles below operator without error texts"
    )
    escalation_due_at: Timestamp | None = Field(
        description="when the next escalation fires if nobody acknowledges (null: none will)"
    )
    timeline: list[TimelineEntry]


class IncidentPage(BaseModel):
    """One page of incidents, newest first. Pass `next_cursor` back as `cursor`; null at the end."""

    items: list[IncidentSummary]
    next_cursor: str | None = Field(default=None, examples=["42"])


class StepRequest(BaseModel):
    """A response step. `en_route` and `on_site`: patrol and up; `handed_over` and
    `closing_note`: operator and up."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"step": "on_site", "note": "patient conscious"}]}
    )

    step: StepName
    note: str | None = Field(default=None, max_length=2000)


class DrillRequest(BaseModel):
    """Start a drill on an AED cabinet of the registry."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"building": "darong-b", "device": "aed-b-1f-lobby", "interval_s": 20}]
        },
    )

    building: Name | None = Field(default=None, description="default: the device's building in the registry")
    device: Name
    stages: list[DrillStageName] = Field(
        default=["cabinet_open", "in_use", "back"],
        min_length=1,
        max_length=3,
        description="what the simulated cabinet reports, in this order",
    )
    interval_s: float = Field(default=20.0, ge=0, le=600, description="seconds between two stages")


class DrillPublic(BaseModel):
    """A drill as started: its messages go out on MQTT, one stage every `interval_s`."""

    building: str
    device: str
    stages: list[DrillStageName]
    interval_s: float
    started_at: Timestamp
    started_by: str
    topic: str
