"""Contract section 2: one measurement per kind, typed fields, millisecond timestamps."""

from __future__ import annotations

import math

import pytest

from collector.line_protocol import encode, encode_field, escape_tag, tag_set
from collector.models import Reading


def test_fields_keep_their_contract_types() -> None:
    reading = Reading(
        "darong-b",
        "aed",
        "aed-b-1f-lobby",
        1_795_000_000_123,
        {"state": "ready", "cabinet_open": False, "battery_pct": 92.0, "temp_c": 1e-7},
    )
    line = encode(reading, tag_set("darong-b", "aed-b-1f-lobby", {"floor": "1F", "zone": "lobby"}))
    assert line == (
        b"aed,building=darong-b,device=aed-b-1f-lobby,floor=1F,zone=lobby "
        b'state="ready",cabinet_open=false,battery_pct=92.0,temp_c=1e-07 1795000000123\n'
    )


def test_counts_are_integers() -> None:
    reading = Reading("darong-a", "parking_lot", "garage", 1, {"occupied": 412, "capacity": 600})
    assert encode(reading, "building=darong-a,device=garage") == (
        b"parking_lot,building=darong-a,device=garage occupied=412i,capacity=600i 1\n"
    )


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("B1 east", r"B1\ east"),
        ("a,b", r"a\,b"),
        ("k=v", r"k\=v"),
        ("back\\slash", "back\\\\slash"),
        ("line\nbreak", "line break"),
        ("二楼", "二楼"),
    ],
)
def test_tag_escaping(raw: str, escaped: str) -> None:
    assert escape_tag(raw) == escaped


def test_string_fields_escape_quotes_and_backslashes() -> None:
    assert encode_field('say "hi"\\') == '"say \\"hi\\"\\\\"'


def test_non_finite_floats_never_encode() -> None:
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="NaN or infinity"):
            encode_field(bad)


def test_tags_are_sorted_and_empty_ones_dropped() -> None:
    assert tag_set("b", "d", {"zone": "z", "floor": ""}) == "building=b,device=d,zone=z"
