"""Bytes in, a reading or a rejection out: the contract's section 1, and nothing else.

Pure functions, no I/O: the collector and the rules engine both call `parse()`, so that
they agree on what a valid message is. Validation runs in pydantic-core (Rust), which
keeps the whole parse around a microsecond for a typical payload.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Final, Literal, Required

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from collector.models import (
    FUTURE_LIMIT_MS,
    KINDS,
    MAX_PAYLOAD_BYTES,
    NAME_RE,
    PAST_LIMIT_MS,
    RESERVED_BUILDINGS,
    Availability,
    FieldValue,
    Reading,
    Rejection,
    RejectReason,
)

# RFC 3339 date-time with a mandatory offset. `datetime.fromisoformat` alone also takes ISO 8601
# forms that RFC 3339 does not allow (basic format `20261127T090000+0800`, week dates, no seconds).
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
# InfluxDB stores signed 64-bit integers; anything larger would fail the whole batch line.
INT64_MAX: Final = 2**63 - 1
EXCERPT_CHARS: Final = 200
_CONFIG = ConfigDict(extra="ignore", allow_inf_nan=False, strict=True)


def _check_date(value: str) -> str:
    dt.date.fromisoformat(value)  # raises ValueError on 2026-02-30
    return value


Count = Annotated[int, Field(ge=0, le=INT64_MAX)]
Capacity = Annotated[int, Field(gt=0, le=INT64_MAX)]
Percent = Annotated[float, Field(ge=0, le=100)]
Ts = int | str
IsoDate = Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_check_date)]


class ParkingSpace(TypedDict, total=False):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    ts: Ts
    occupied: Required[bool]
    battery_pct: Percent


class ParkingLot(TypedDict, total=False):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    ts: Ts
    occupied: Required[Count]
    capacity: Capacity
    entered: Count
    exited: Count


class Aed(TypedDict, total=False):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    ts: Ts
    state: Required[Literal["ready", "fault", "in_use", "service"]]
    cabinet_open: bool
    battery_pct: Percent
    pads_expiry: IsoDate
    self_test: Literal["pass", "fail"]
    temp_c: float
    # A drill's reading (rules/drill.py): the alerts it raises are marked as a drill.
    drill: bool


class Canteen(TypedDict, total=False):
    __pydantic_config__ = _CONFIG  # type: ignore[misc]
    ts: Ts
    occupancy: Required[Count]
    capacity: Capacity
    queue_length: Count
    takeaway_pending: Count


VALIDATORS: Final[dict[str, TypeAdapter[Any]]] = {
    "parking_space": TypeAdapter(ParkingSpace),
    "parking_lot": TypeAdapter(ParkingLot),
    "aed": TypeAdapter(Aed),
    "canteen": TypeAdapter(Canteen),
}

_TYPE_ERRORS: Final = frozenset(
    {"int_type", "float_type", "bool_type", "string_type", "int_parsing", "float_parsing", "bool_parsing"}
)
_RANGE_ERRORS: Final = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}
)


# Topics repeat endlessly (one per device), so their validation is cached. Bounded, because a
# misbehaving client could otherwise grow it with random topics.
_TOPIC_CACHE: dict[str, tuple[str, str, str, bool] | tuple[RejectReason, str]] = {}
_TOPIC_CACHE_MAX: Final = 500_000


def parse_topic(topic: str) -> tuple[str, str, str, bool] | tuple[RejectReason, str]:
    """Split `louyu/{building}/{kind}/{device}[/availability]`, or say why it is not one."""
    cached = _TOPIC_CACHE.get(topic)
    if cached is not None:
        return cached
    result = _parse_topic(topic)
    if len(_TOPIC_CACHE) >= _TOPIC_CACHE_MAX:
        _TOPIC_CACHE.clear()
    _TOPIC_CACHE[topic] = result
    return result


def _parse_topic(topic: str) -> tuple[str, str, str, bool] | tuple[RejectReason, str]:
    parts = topic.split("/")
    availability = len(parts) == 5 and parts[4] == "availability"
    if parts[0] != "louyu" or not (len(parts) == 4 or availability):
        return (RejectReason.BAD_TOPIC, "expected louyu/{building}/{kind}/{device}[/availability]")
    _, building, kind, device = parts[:4]
    if building in RESERVED_BUILDINGS:
        return (RejectReason.RESERVED_BUILDING, f"building name {building!r} is reserved")
    if kind not in KINDS:
        return (RejectReason.BAD_TOPIC, f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if not NAME_RE.fullmatch(building):
        return (RejectReason.BAD_TOPIC, f"building {building!r} does not match [a-z0-9][a-z0-9_-]{{0,63}}")
    if not NAME_RE.fullmatch(device):
        return (RejectReason.BAD_TOPIC, f"device {device!r} does not match [a-z0-9][a-z0-9_-]{{0,63}}")
    return (building, kind, device, availability)


def excerpt(payload: bytes) -> str:
    return payload[: EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS]


def parse_ts(value: int | str, now_ms: int) -> int | tuple[RejectReason, str]:
    """The contract's `ts`: epoch milliseconds or RFC 3339 with an offset, within the window."""
    if isinstance(value, int):
        ts_ms = value
    else:
        if not RFC3339.fullmatch(value):
            return (RejectReason.BAD_TS, f"ts {value[:40]!r} is not RFC 3339 with an offset")
        try:
            # Python takes at most 6 fractional digits; RFC 3339 allows more.
            stamp = dt.datetime.fromisoformat(re.sub(r"(\.\d{6})\d+", r"\1", value))
        except ValueError:
            return (RejectReason.BAD_TS, f"ts {value[:40]!r} is not a valid date and time")
        ts_ms = int(stamp.timestamp() * 1000)
    if ts_ms > now_ms + FUTURE_LIMIT_MS:
        return (
            RejectReason.TS_IN_FUTURE,
            f"ts is {(ts_ms - now_ms) / 1000:.0f} s in the future (limit 300 s)",
        )
    if ts_ms < now_ms - PAST_LIMIT_MS:
        return (RejectReason.TS_TOO_OLD, f"ts is {(now_ms - ts_ms) / 86_400_000:.1f} days old (limit 7 days)")
    return ts_ms


def _explain(error: ValidationError) -> tuple[RejectReason, str]:
    first = error.errors(include_url=False)[0]
    kind, loc, msg = first["type"], first["loc"], first["msg"]
    name = str(loc[0]) if loc else ""
    if kind == "json_invalid":
        return (RejectReason.NOT_JSON, f"not valid JSON: {msg}")
    if not loc and kind in ("dict_type", "model_type"):
        return (RejectReason.NOT_OBJECT, "payload must be a JSON object")
    if name == "ts":
        return (RejectReason.BAD_TS, "ts must be integer epoch milliseconds or an RFC 3339 string")
    if kind == "missing":
        return (RejectReason.MISSING_FIELD, f"required field {name!r} is missing")
    if kind in _TYPE_ERRORS:
        return (RejectReason.WRONG_TYPE, f"{name}: {msg}")
    if kind in _RANGE_ERRORS:
        return (RejectReason.OUT_OF_RANGE, f"{name}: {msg}")
    return (RejectReason.BAD_VALUE, f"{name}: {msg}")


def parse(topic: str, payload: bytes, now_ms: int) -> Reading | Availability | Rejection:
    """Validate one MQTT message against the contract. Never raises for any input."""
    info = parse_topic(topic)
    if len(info) == 2:
        return Rejection(info[0], info[1], topic[:300], excerpt(payload), now_ms)
    building, kind, device, availability = info
    if len(payload) > MAX_PAYLOAD_BYTES:
        return Rejection(
            RejectReason.TOO_LARGE,
            f"payload is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}",
            topic,
            excerpt(payload),
            now_ms,
        )
    if availability:
        word = payload.strip()
        if word in (b"online", b"offline"):
            return Availability(building, kind, device, word == b"online", now_ms)
        return Rejection(
            RejectReason.BAD_AVAILABILITY,
            "availability payload must be 'online' or 'offline'",
            topic,
            excerpt(payload),
            now_ms,
        )
    try:
        data: dict[str, Any] = VALIDATORS[kind].validate_json(payload)
    except ValidationError as error:
        reason, detail = _explain(error)
        return Rejection(reason, detail, topic, excerpt(payload), now_ms)
    raw_ts = data.pop("ts", None)
    if raw_ts is None:
        ts_ms = now_ms
    else:
        checked = parse_ts(raw_ts, now_ms)
        if isinstance(checked, tuple):
            return Rejection(checked[0], checked[1], topic, excerpt(payload), now_ms)
        ts_ms = checked
    fields: dict[str, FieldValue] = data
    return Reading(building, kind, device, ts_ms, fields)
