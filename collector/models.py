"""Models shared by every part of louyu: what a validated message becomes.

A leaf module: it imports only the standard library and pydantic, so that `rules/`
and `api/` can use it without pulling in MQTT or InfluxDB code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final, Literal

KINDS: Final = ("parking_space", "parking_lot", "aed", "canteen")
Kind = Literal["parking_space", "parking_lot", "aed", "canteen"]
NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
RESERVED_BUILDINGS: Final = frozenset({"alerts", "notify"})
MAX_PAYLOAD_BYTES: Final = 16 * 1024
FUTURE_LIMIT_MS: Final = 5 * 60 * 1000
PAST_LIMIT_MS: Final = 7 * 24 * 3600 * 1000

FieldValue = bool | int | float | str


class RejectReason(StrEnum):
    """Why a message was refused. The values are metric label values and API strings: keep them stable."""

    BAD_TOPIC = "bad_topic"
    RESERVED_BUILDING = "reserved_building"
    TOO_LARGE = "too_large"
    NOT_JSON = "not_json"
    NOT_OBJECT = "not_object"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    OUT_OF_RANGE = "out_of_range"
    BAD_VALUE = "bad_value"
    BAD_TS = "bad_ts"
    TS_IN_FUTURE = "ts_in_future"
    TS_TOO_OLD = "ts_too_old"
    BAD_AVAILABILITY = "bad_availability"
    # Valid by the contract, yet refused by InfluxDB (for example a field type that conflicts with
    # data written before louyu): isolated line by line so the rest of the batch is stored.
    INFLUX_REJECTED = "influx_rejected"


@dataclass(slots=True, frozen=True)
class DeviceKey:
    building: str
    kind: str
    device: str

    def __str__(self) -> str:
        return f"{self.building}/{self.kind}/{self.device}"


@dataclass(slots=True)
class Reading:
    """One valid telemetry message: the contract's payload fields, typed as stored."""

    building: str
    kind: str
    device: str
    ts_ms: int
    fields: dict[str, FieldValue]

    @property
    def key(self) -> DeviceKey:
        return DeviceKey(self.building, self.kind, self.device)


@dataclass(slots=True)
class Availability:
    """An `online`/`offline` message on a device's availability topic."""

    building: str
    kind: str
    device: str
    online: bool
    ts_ms: int

    @property
    def key(self) -> DeviceKey:
        return DeviceKey(self.building, self.kind, self.device)


@dataclass(slots=True)
class Rejection:
    """A refused message: why, and enough of it for an operator to recognise it."""

    reason: RejectReason
    detail: str
    topic: str
    excerpt: str
    received_ms: int
    extra: dict[str, str] = field(default_factory=dict)


Message = Reading | Availability
