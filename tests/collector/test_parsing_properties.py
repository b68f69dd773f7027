"""Property-based: no input crashes the parser, and no accepted reading encodes to a line that
InfluxDB would refuse (checked against a grammar here, and against a real influxd below)."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.line_protocol import encode, tag_set
from collector.models import Availability, Reading, Rejection
from collector.parsing import parse
from louyu.testing.clients import influx_count
from louyu.testing.services import Influxd

NOW_MS = 1_795_000_000_000
FIELD_NAMES = [
    "ts",
    "occupied",
    "capacity",
    "entered",
    "exited",
    "state",
    "cabinet_open",
    "battery_pct",
    "pads_expiry",
    "self_test",
    "temp_c",
    "occupancy",
    "queue_length",
    "takeaway_pending",
]
KINDS = ["parking_space", "parking_lot", "aed", "canteen"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "ready",
            "fault",
            "in_use",
            "service",
            "pass",
            "fail",
            "2027-02-28",
            "2026-02-30",
            'a"b',
            "a\\b",
            "a\nb",
            "a,b c=d",
        ]
    ),
    st.integers(min_value=NOW_MS - 8 * 86_400_000, max_value=NOW_MS + 600_000),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
payload_objects = st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8), values, max_size=8)
names = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True) | st.text(max_size=12)
topics = st.builds(
    lambda b, k, d, tail: f"louyu/{b}/{k}/{d}{tail}",
    names,
    st.sampled_from(KINDS) | st.text(max_size=6),
    names,
    st.sampled_from(["", "", "/availability", "/x"]),
)

_VALUE = r'(?:-?\d+i|true|false|-?\d+(?:\.\d+)?(?:e[+-]\d+)?|"(?:[^"\\\n]|\\.)*")'
LINE = re.compile(
    r"^(?:parking_space|parking_lot|aed|canteen),building=[a-z0-9][a-z0-9_-]*,device=[a-z0-9][a-z0-9_-]*"
    rf" [a-z_]+={_VALUE}(?:,[a-z_]+={_VALUE})* \d{{13}}\n$"
)


def encode_if_reading(topic: str, raw: bytes) -> bytes | None:
    result = parse(topic, raw, NOW_MS)
    assert isinstance(result, Reading | Availability | Rejection)
    if isinstance(result, Rejection):
        assert result.detail
        return None
    if isinstance(result, Availability):
        return None
    line = encode(result, tag_set(result.building, result.device, {}))
    assert LINE.match(line.decode()), line
    return line


@settings(max_examples=1500, deadline=None)
@given(topic=topics, obj=payload_objects)
def test_random_json_objects(topic: str, obj: dict[str, object]) -> None:
    encode_if_reading(topic, json.dumps(obj).encode())


@settings(max_examples=500, deadline=None)
@given(topic=topics, raw=st.binary(max_size=200))
def test_random_bytes(topic: str, raw: bytes) -> None:
    encode_if_reading(topic, raw)


valid_kind_payloads = st.sampled_from(KINDS).flatmap(
    lambda kind: st.tuples(
        st.just(kind),
        st.fixed_dictionaries(
            {
                "parking_space": {"occupied": st.booleans()},
                "parking_lot": {"occupied": st.integers(0, 2**63 - 1)},
                "aed": {"state": st.sampled_from(["ready", "fault", "in_use", "service"])},
                "canteen": {"occupancy": st.integers(0, 2**63 - 1)},
            }[kind],
            optional={
                "battery_pct": st.floats(0, 100),
                "temp_c": st.floats(-1e300, 1e300),
                "capacity": st.integers(1, 2**63 - 1),
                "queue_length": st.integers(0, 2**63 - 1),
                "pads_expiry": st.dates().map(lambda d: d.isoformat()),
                "self_test": st.sampled_from(["pass", "fail"]),
                "cabinet_open": st.booleans(),
                "entered": st.integers(0, 2**63 - 1),
                "takeaway_pending": st.integers(0, 2**63 - 1),
            },
        ),
    )
)


@pytest.mark.integration
def test_accepted_readings_are_accepted_by_a_real_influxd(influxd: Influxd) -> None:
    """Every reading the parser accepts is a line a real InfluxDB 1.x stores."""
    lines: list[bytes] = []

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=valid_kind_payloads, extra=payload_objects)
    def collect(case: tuple[str, dict[str, object]], extra: dict[str, object]) -> None:
        kind, payload = case
        merged = {**extra, **payload}
        merged["ts"] = NOW_MS - len(lines)  # a distinct point per example
        line = encode_if_reading(f"louyu/prop/{kind}/dev-{len(lines) % 7}", json.dumps(merged).encode())
        if line is not None:
            lines.append(line)

    collect()
    assert len(lines) > 100
    urllib.request.urlopen(
        urllib.request.Request(f"{influxd.url}/query", data=b"q=CREATE+DATABASE+louyu")
    ).close()
    request = urllib.request.Request(f"{influxd.url}/write?db=louyu&precision=ms", data=b"".join(lines))
    # influxd may answer 404 (database not found) for a moment after CREATE DATABASE on a loaded
    # machine: wait for the database, not for a fixed time.
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(request) as response:
                assert response.status == 204
            break
        except urllib.error.HTTPError as error:
            if error.code != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    stored = sum(
        influx_count(influxd.url, kind, field)
        for kind, field in [
            ("parking_space", "occupied"),
            ("parking_lot", "occupied"),
            ("aed", "state"),
            ("canteen", "occupancy"),
        ]
    )
    assert stored == len(lines)
