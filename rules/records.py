"""What the alert store hands out: plain frozen records with their JSON (docs/architecture.md).

Records are detached from any database session, so API and notifier code can keep them freely.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

STATES: Final = ("firing", "acknowledged", "resolved")
SEVERITIES: Final = ("critical", "major", "minor", "warning", "info")
EventKind = Literal[
    "raised",
    "acknowledged",
    "resolved",
    "escalated",
    "reminded",
    "flapping",
    "unsilenced",
    # An AED incident's response steps (rules/incidents.py): events that change no state.
    "en_route",
    "on_site",
    "handed_over",
    "closing_note",
]
EVENT_KINDS: Final[tuple[EventKind, ...]] = get_args(EventKind)
State = Literal["firing", "acknowledged", "resolved"]
Severity = Literal["critical", "major", "minor", "warning", "info"]
JsonValue = bool | int | float | str | None


def iso(value: dt.datetime | None) -> str | None:
    """RFC 3339 UTC with microseconds, as every louyu time is written."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def parse_iso(value: str | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(value).astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class AlertRecord:
    id: int
    rule: str
    severity: str
    state: str
    building: str
    kind: str
    device: str
    summary: str
    value: JsonValue
    started_at: dt.datetime
    updated_at: dt.datetime
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: dt.datetime | None = None
    resolved_by: str | None = None
    resolution: str | None = None
    escalated_at: dt.datetime | None = None
    escalation_level: int = 0
    flapping: bool = False
    silenced: bool = False
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def is_open(self) -> bool:
        return self.state != "resolved"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rule": self.rule,
            "severity": self.severity,
            "state": self.state,
            "building": self.building,
            "kind": self.kind,
            "device": self.device,
            "summary": self.summary,
            "value": self.value,
            "started_at": iso(self.started_at),
            "acknowledged_at": iso(self.acknowledged_at),
            "acknowledged_by": self.acknowledged_by,
            "resolved_at": iso(self.resolved_at),
            "resolved_by": self.resolved_by,
            "resolution": self.resolution,
            "escalated_at": iso(self.escalated_at),
            "escalation_level": self.escalation_level,
            "flapping": self.flapping,
            "silenced": self.silenced,
            "labels": dict(self.labels),
            "updated_at": iso(self.updated_at),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AlertRecord:
        started = parse_iso(data["started_at"])
        updated = parse_iso(data["updated_at"])
        assert started is not None and updated is not None
        return cls(
            id=int(data["id"]),
            rule=data["rule"],
            severity=data["severity"],
            state=data["state"],
            building=data["building"],
            kind=data["kind"],
            device=data["device"],
            summary=data["summary"],
            value=data["value"],
            started_at=started,
            updated_at=updated,
            acknowledged_at=parse_iso(data.get("acknowledged_at")),
            acknowledged_by=data.get("acknowledged_by"),
            resolved_at=parse_iso(data.get("resolved_at")),
            resolved_by=data.get("resolved_by"),
            resolution=data.get("resolution"),
            escalated_at=parse_iso(data.get("escalated_at")),
            escalation_level=int(data.get("escalation_level", 0)),
            flapping=bool(data.get("flapping", False)),
            silenced=bool(data.get("silenced", False)),
            labels=dict(data.get("labels") or {}),
        )


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One alert event; `alert` is the alert as it was right after the event."""

    id: int
    alert_id: int
    event: str
    at: dt.datetime
    by: str | None
    note: str | None
    alert: AlertRecord

    @property
    def topic(self) -> str:
        """Where the event is published: `louyu/alerts/{building}/{severity}/{rule}`."""
        return f"louyu/alerts/{self.alert.building}/{self.alert.severity}/{self.alert.rule}"

    def to_json(self) -> dict[str, Any]:
        return {
            "event_id": self.id,
            "event": self.event,
            "at": iso(self.at),
            "by": self.by,
            "note": self.note,
            "alert": self.alert.to_json(),
        }


@dataclass(frozen=True, slots=True)
class SilenceRecord:
    """A maintenance window: alerts matching every given field are muted between start and end."""

    id: int
    building: str | None
    kind: str | None
    device: str | None
    rule: str | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    reason: str
    created_by: str
    created_at: dt.datetime
    ended_by: str | None = None
    closed_at: dt.datetime | None = None

    def active_at(self, now: dt.datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "building": self.building,
            "kind": self.kind,
            "device": self.device,
            "rule": self.rule,
            "starts_at": iso(self.starts_at),
            "ends_at": iso(self.ends_at),
            "reason": self.reason,
            "created_by": self.created_by,
            "created_at": iso(self.created_at),
            "ended_by": self.ended_by,
            "closed_at": iso(self.closed_at),
        }
