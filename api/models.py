"""Request and response bodies of the API. Inputs forbid unknown fields; outputs carry examples
so that the OpenAPI document shows what a client receives."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", examples=["darong-b"])]
KindName = Literal["parking_space", "parking_lot", "aed", "canteen"]
AlertState = Literal["firing", "acknowledged", "resolved"]
Severity = Literal["critical", "major", "minor", "warning", "info"]
Value = bool | int | float | str | None


def _rfc3339(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


# Written as everywhere in louyu (MQTT events, SSE): RFC 3339 UTC with microseconds, "+00:00".
Timestamp = Annotated[
    dt.datetime,
    PlainSerializer(_rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]

_ALERT_EXAMPLE: dict[str, Any] = {
    "id": 42,
    "rule": "aed-cabinet-open",
    "severity": "critical",
    "state": "acknowledged",
    "building": "darong-b",
    "kind": "aed",
    "device": "aed-b-1f-lobby",
    "summary": "AED cabinet opened at Tower B lobby, beside reception",
    "value": True,
    "started_at": "2026-11-27T01:00:00.123000+00:00",
    "acknowledged_at": "2026-11-27T01:01:10.000000+00:00",
    "acknowledged_by": "patrol-wang",
    "resolved_at": None,
    "resolved_by": None,
    "resolution": None,
    "escalated_at": None,
    "escalation_level": 0,
    "flapping": False,
    "silenced": False,
    "labels": {"floor": "1F", "zone": "lobby"},
    "updated_at": "2026-11-27T01:01:10.000000+00:00",
}


class Problem(BaseModel):
    """Every error answer: a sentence a person can act on."""

    detail: Any = Field(examples=["alert 42 is resolved and cannot be acknowledged"])


class AlertPublic(BaseModel):
    """One alert (contract section 4; docs/architecture.md)."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ALERT_EXAMPLE]})

    id: int
    rule: str
    severity: Severity
    state: AlertState
    building: str
    kind: str
    device: str
    summary: str
    value: Value = None
    started_at: Timestamp
    acknowledged_at: Timestamp | None = None
    acknowledged_by: str | None = None
    resolved_at: Timestamp | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    escalated_at: Timestamp | None = None
    escalation_level: int = 0
    flapping: bool = False
    silenced: bool = False
    labels: dict[str, str] = Field(default_factory=dict)
    updated_at: Timestamp | None = None


class AlertEventPublic(BaseModel):
    """One state change of an alert. `event_id` is also the SSE id of the event stream."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "event_id": 1234,
                    "event": "acknowledged",
                    "at": "2026-11-27T01:01:10.000000+00:00",
                    "by": "patrol-wang",
                    "note": "on my way",
                }
            ]
        }
    )

    event_id: int
    event: str
    at: Timestamp
    by: str | None = None
    note: str | None = None


class AlertWithEvents(AlertPublic):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_ALERT_EXAMPLE,
                    "events": [
                        {"event_id": 1200, "event": "raised", "at": "2026-11-27T01:00:00.123000+00:00"},
                        {
                            "event_id": 1234,
                            "event": "acknowledged",
                            "at": "2026-11-27T01:01:10.000000+00:00",
                            "by": "patrol-wang",
                            "note": "on my way",
                        },
                    ],
                }
            ]
        }
    )

    events: list[AlertEventPublic]


class AlertCounts(BaseModel):
    """How many alerts the filters match, per severity and per state (zeros included). Each
    facet ignores its own filter: `severity` counts every severity the other filters allow."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "severity": {"critical": 1, "major": 0, "minor": 500, "warning": 2, "info": 0},
                    "state": {"firing": 498, "acknowledged": 5, "resolved": 120},
                }
            ]
        }
    )

    severity: dict[Severity, int]
    state: dict[AlertState, int]


class AlertPage(BaseModel):
    """One page of alerts. Pass `next_cursor` back as `cursor` for the next page; null at the end."""

    items: list[AlertPublic]
    next_cursor: str | None = Field(default=None, examples=["eyJpZCI6IDQxfQ"])
    counts: AlertCounts | None = Field(
        default=None, description="on the first page (no `cursor`) only: later pages have the same counts"
    )


class NoteRequest(BaseModel):
    """Body of ack and resolve. Who did it comes from the token, never from the body."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "on my way, ETA 3 minutes"}]}
    )

    note: str | None = Field(default=None, max_length=2000)


class SilenceCreate(BaseModel):
    """Mute the alerts matching every given field for a while. Name at least one field. A
    critical alert is muted only by a silence that names its rule."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "building": "darong-a",
                    "rule": "parking-lot-full",
                    "duration_minutes": 120,
                    "reason": "garage event, lot full on purpose",
                }
            ]
        },
    )

    building: Name | None = None
    kind: KindName | None = None
    device: Name | None = None
    rule: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")] | None = None
    reason: str = Field(min_length=1, max_length=2000)
    starts_at: AwareDatetime | None = Field(default=None, description="default: now")
    ends_at: AwareDatetime | None = Field(default=None, description="give ends_at or duration_minutes")
    duration_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 365)

    @model_validator(mode="after")
    def _one_end(self) -> SilenceCreate:
        if (self.ends_at is None) == (self.duration_minutes is None):
            raise ValueError("give exactly one of ends_at and duration_minutes")
        return self


class SilenceChange(BaseModel):
    """Move the end of a silence in force: a new `ends_at`, or `extend_minutes` added to the
    current end. Give exactly one. To end it now, DELETE it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"extend_minutes": 60}]})

    ends_at: AwareDatetime | None = None
    extend_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 365)

    @model_validator(mode="after")
    def _one_end(self) -> SilenceChange:
        if (self.ends_at is None) == (self.extend_minutes is None):
            raise ValueError("give exactly one of ends_at and extend_minutes")
        return self


class SilencePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "building": "darong-a",
                    "kind": None,
                    "device": None,
                    "rule": "parking-lot-full",
                    "starts_at": "2026-11-27T01:00:00+00:00",
                    "ends_at": "2026-11-27T03:00:00+00:00",
                    "reason": "garage event, lot full on purpose",
                    "created_by": "ops-li",
                    "created_at": "2026-11-27T01:00:00+00:00",
                    "ended_by": None,
                    "active": True,
                }
            ]
        }
    )

    id: int
    building: str | None = None
    kind: str | None = None
    device: str | None = None
    rule: str | None = None
    starts_at: Timestamp
    ends_at: Timestamp
    reason: str
    created_by: str
    created_at: Timestamp
    ended_by: str | None = None
    active: bool


class CheckResult(BaseModel):
    ok: bool
    detail: str | None = None


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "ready": False,
                    "checks": {
                        "broker": {"ok": True, "detail": None},
                        "influxdb": {"ok": False, "detail": "connection refused"},
                        "alert_store": {"ok": True, "detail": None},
                    },
                }
            ]
        }
    )

    ready: bool
    checks: dict[str, CheckResult]


class Liveness(BaseModel):
    status: Literal["ok"] = "ok"
