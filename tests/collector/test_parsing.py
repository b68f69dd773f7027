"""Contract section 1: every way a message can be refused, and what a valid one becomes."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from collector.models import Availability, Reading, Rejection, RejectReason
from collector.parsing import parse

NOW_MS = 1_795_000_000_000  # 2026-11-18
NOW = dt.datetime.fromtimestamp(NOW_MS / 1000, dt.UTC)
AED = "louyu/darong-b/aed/aed-b-1f-lobby"
LOT = "louyu/darong-a/parking_lot/garage"
SPACE = "louyu/darong-a/parking_space/b1-017"
CANTEEN = "louyu/darong-b/canteen/main-hall"


def rejected(topic: str, payload: bytes | str) -> Rejection:
    raw = payload.encode() if isinstance(payload, str) else payload
    result = parse(topic, raw, NOW_MS)
    assert isinstance(result, Rejection), result
    return result


REJECTIONS: list[tuple[str, str, bytes | str, RejectReason]] = [
    ("not louyu", "other/darong-a/aed/x", '{"state": "ready"}', RejectReason.BAD_TOPIC),
    ("too few levels", "louyu/darong-a/aed", '{"state": "ready"}', RejectReason.BAD_TOPIC),
    ("too many levels", "louyu/darong-a/aed/x/y", '{"state": "ready"}', RejectReason.BAD_TOPIC),
    ("unknown kind", "louyu/darong-a/lift/x", '{"state": "ready"}', RejectReason.BAD_TOPIC),
    ("upper-case building", "louyu/Darong/aed/x", '{"state": "ready"}', RejectReason.BAD_TOPIC),
    ("device starts with dash", "louyu/darong-a/aed/-x", '{"state": "ready"}', RejectReason.BAD_TOPIC),
    ("device too long", "louyu/darong-a/aed/" + "x" * 65, '{"state": "ready"}', RejectReason.BAD_TOPIC),
    ("device with space", "louyu/darong-a/aed/a b", '{"state": "ready"}', RejectReason.BAD_TOPIC),
    ("reserved alerts", "louyu/alerts/aed/x", '{"state": "ready"}', RejectReason.RESERVED_BUILDING),
    ("reserved notify", "louyu/notify/aed/x", '{"state": "ready"}', RejectReason.RESERVED_BUILDING),
    ("too large", AED, '{"state": "ready", "pad": "' + "x" * 16_400 + '"}', RejectReason.TOO_LARGE),
    ("not JSON", AED, "state=ready", RejectReason.NOT_JSON),
    ("truncated JSON", AED, '{"state": "ready"', RejectReason.NOT_JSON),
    ("not UTF-8", AED, b'{"state": "\xff\xfe"}', RejectReason.NOT_JSON),
    ("NaN literal", AED, '{"state": "ready", "temp_c": NaN}', RejectReason.OUT_OF_RANGE),
    ("infinity", AED, '{"state": "ready", "temp_c": 1e999}', RejectReason.OUT_OF_RANGE),
    ("array", AED, '[{"state": "ready"}]', RejectReason.NOT_OBJECT),
    ("string", AED, '"ready"', RejectReason.NOT_OBJECT),
    ("missing state", AED, '{"battery_pct": 50}', RejectReason.MISSING_FIELD),
    ("missing occupied", SPACE, "{}", RejectReason.MISSING_FIELD),
    ("missing occupancy", CANTEEN, '{"queue_length": 3}', RejectReason.MISSING_FIELD),
    ("bool as string", SPACE, '{"occupied": "true"}', RejectReason.WRONG_TYPE),
    ("bool as int", SPACE, '{"occupied": 1}', RejectReason.WRONG_TYPE),
    ("drill as string", AED, '{"state": "ready", "drill": "yes"}', RejectReason.WRONG_TYPE),
    ("count as float", LOT, '{"occupied": 12.5}', RejectReason.WRONG_TYPE),
    ("count as bool", LOT, '{"occupied": true}', RejectReason.WRONG_TYPE),
    ("count as string", CANTEEN, '{"occupancy": "388"}', RejectReason.WRONG_TYPE),
    ("battery as string", AED, '{"state": "ready", "battery_pct": "92"}', RejectReason.WRONG_TYPE),
    ("cabinet_open as string", AED, '{"state": "ready", "cabinet_open": "yes"}', RejectReason.WRONG_TYPE),
    ("negative count", LOT, '{"occupied": -1}', RejectReason.OUT_OF_RANGE),
    ("zero capacity", LOT, '{"occupied": 1, "capacity": 0}', RejectReason.OUT_OF_RANGE),
    ("integer beyond 64 bits", LOT, '{"occupied": 18446744073709551616}', RejectReason.OUT_OF_RANGE),
    ("integer just past int64", CANTEEN, '{"occupancy": 9223372036854775808}', RejectReason.OUT_OF_RANGE),
    ("battery over 100", AED, '{"state": "ready", "battery_pct": 100.5}', RejectReason.OUT_OF_RANGE),
    ("battery negative", SPACE, '{"occupied": true, "battery_pct": -3}', RejectReason.OUT_OF_RANGE),
    ("unknown state", AED, '{"state": "broken"}', RejectReason.BAD_VALUE),
    ("state with quote", AED, '{"state": "ready\\""}', RejectReason.BAD_VALUE),
    ("unknown self_test", AED, '{"state": "ready", "self_test": "ok"}', RejectReason.BAD_VALUE),
    ("pads date format", AED, '{"state": "ready", "pads_expiry": "27/11/2026"}', RejectReason.BAD_VALUE),
    ("pads impossible date", AED, '{"state": "ready", "pads_expiry": "2026-02-30"}', RejectReason.BAD_VALUE),
    ("pads with newline", AED, '{"state": "ready", "pads_expiry": "2026-01-01\\n"}', RejectReason.BAD_VALUE),
    ("ts as float", AED, '{"state": "ready", "ts": 1795000000000.5}', RejectReason.BAD_TS),
    ("ts as bool", AED, '{"state": "ready", "ts": true}', RejectReason.BAD_TS),
    ("ts not a date", AED, '{"state": "ready", "ts": "yesterday"}', RejectReason.BAD_TS),
    ("ts without offset", AED, '{"state": "ready", "ts": "2026-11-18T08:00:00"}', RejectReason.BAD_TS),
    ("ts date only", AED, '{"state": "ready", "ts": "2026-11-18"}', RejectReason.BAD_TS),
    ("ts ISO basic format", AED, '{"state": "ready", "ts": "20261118T080000+0800"}', RejectReason.BAD_TS),
    ("ts without seconds", AED, '{"state": "ready", "ts": "2026-11-18T08:00+08:00"}', RejectReason.BAD_TS),
    ("ts impossible time", AED, '{"state": "ready", "ts": "2026-11-18T25:00:00Z"}', RejectReason.BAD_TS),
    ("ts 6 minutes ahead", AED, f'{{"state": "ready", "ts": {NOW_MS + 360_000}}}', RejectReason.TS_IN_FUTURE),
    ("ts 8 days old", AED, f'{{"state": "ready", "ts": {NOW_MS - 8 * 86_400_000}}}', RejectReason.TS_TOO_OLD),
    ("ts epoch seconds", AED, f'{{"state": "ready", "ts": {NOW_MS // 1000}}}', RejectReason.TS_TOO_OLD),
    ("availability word", AED + "/availability", "up", RejectReason.BAD_AVAILABILITY),
    ("availability JSON", AED + "/availability", '{"online": true}', RejectReason.BAD_AVAILABILITY),
]


@pytest.mark.parametrize(
    ("topic", "payload", "reason"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS]
)
def test_rejection_reason(topic: str, payload: bytes | str, reason: RejectReason) -> None:
    result = rejected(topic, payload)
    assert result.reason is reason
    assert result.detail, "every rejection explains itself"
    assert result.received_ms == NOW_MS
    assert len(result.excerpt) <= 200


def test_every_reject_reason_of_the_parser_has_a_case() -> None:
    covered = {r[3] for r in REJECTIONS}
    # influx_rejected comes from InfluxDB, not the parser (tested with the pipeline).
    assert covered == set(RejectReason) - {RejectReason.INFLUX_REJECTED}


def test_rejection_explains_which_field() -> None:
    assert "battery_pct" in rejected(AED, '{"state": "ready", "battery_pct": "x"}').detail
    assert "occupied" in rejected(SPACE, "{}").detail
    assert "16384" in rejected(AED, "x" * 20_000).detail


@pytest.mark.parametrize(
    ("topic", "payload", "fields"),
    [
        (
            AED,
            {"ts": NOW_MS, "state": "ready", "cabinet_open": False, "battery_pct": 92},
            {"state": "ready", "cabinet_open": False, "battery_pct": 92.0},
        ),
        (SPACE, {"occupied": True}, {"occupied": True}),
        (LOT, {"occupied": 412, "capacity": 600}, {"occupied": 412, "capacity": 600}),
        (
            CANTEEN,
            {"occupancy": 388, "capacity": 420, "queue_length": 35},
            {"occupancy": 388, "capacity": 420, "queue_length": 35},
        ),
        (
            AED,
            {"state": "fault", "self_test": "fail", "pads_expiry": "2027-01-31", "temp_c": -4},
            {"state": "fault", "self_test": "fail", "pads_expiry": "2027-01-31", "temp_c": -4.0},
        ),
        (
            AED,
            {"state": "in_use", "cabinet_open": True, "drill": True},
            {"state": "in_use", "cabinet_open": True, "drill": True},
        ),
        (
            LOT,
            {"occupied": 0, "entered": 5, "exited": 5, "firmware": "1.2", "extra": [1, {"a": None}]},
            {"occupied": 0, "entered": 5, "exited": 5},
        ),
    ],
)
def test_valid_payloads_become_typed_readings(
    topic: str, payload: dict[str, object], fields: dict[str, object]
) -> None:
    result = parse(topic, json.dumps(payload).encode(), NOW_MS)
    assert isinstance(result, Reading)
    assert result.fields == fields
    for name, value in fields.items():
        assert type(result.fields[name]) is type(value), name  # 92 is stored as 92.0
    _, building, kind, device = topic.split("/")
    assert (result.building, result.kind, result.device) == (building, kind, device)


def test_ts_forms() -> None:
    as_ms = parse(AED, f'{{"state": "ready", "ts": {NOW_MS - 1234}}}'.encode(), NOW_MS)
    assert isinstance(as_ms, Reading) and as_ms.ts_ms == NOW_MS - 1234
    local = (NOW - dt.timedelta(minutes=10)).astimezone(dt.timezone(dt.timedelta(hours=8)))
    as_text = parse(AED, json.dumps({"state": "ready", "ts": local.isoformat()}).encode(), NOW_MS)
    assert isinstance(as_text, Reading) and as_text.ts_ms == NOW_MS - 600_000
    zulu = (NOW - dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    as_zulu = parse(AED, json.dumps({"state": "ready", "ts": zulu}).encode(), NOW_MS)
    assert isinstance(as_zulu, Reading) and as_zulu.ts_ms == NOW_MS - 1000
    absent = parse(AED, b'{"state": "ready"}', NOW_MS)
    assert isinstance(absent, Reading) and absent.ts_ms == NOW_MS
    nanos = (NOW - dt.timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.123456789+00:00")
    as_nanos = parse(AED, json.dumps({"state": "ready", "ts": nanos}).encode(), NOW_MS)
    assert isinstance(as_nanos, Reading) and as_nanos.ts_ms == NOW_MS - 2000 + 123
    spaced = (NOW - dt.timedelta(seconds=3)).strftime("%Y-%m-%d %H:%M:%S+00:00")
    as_spaced = parse(AED, json.dumps({"state": "ready", "ts": spaced}).encode(), NOW_MS)
    assert isinstance(as_spaced, Reading) and as_spaced.ts_ms == NOW_MS - 3000
    edge = parse(AED, f'{{"state": "ready", "ts": {NOW_MS + 300_000}}}'.encode(), NOW_MS)
    assert isinstance(edge, Reading), "exactly 5 minutes ahead is still accepted"


def test_availability() -> None:
    offline = parse(AED + "/availability", b"offline", NOW_MS)
    assert isinstance(offline, Availability) and offline.online is False
    online = parse(AED + "/availability", b"online\n", NOW_MS)
    assert isinstance(online, Availability) and online.online is True
