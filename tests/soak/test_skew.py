"""The soak's account of the gateway whose clock is ahead: each reading found refused (among the
collector's dead letters) or stored (in a real influxd), and the verdict that rests on it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import orjson
import pytest

from bench.soak.faults import SKEW_MS
from bench.soak.load import SkewKey
from bench.soak.report import skew_check
from bench.soak.run import Skewed, find_skewed
from collector.dead_letters import DeadLetters
from collector.models import Rejection
from collector.parsing import parse
from louyu.testing.services import Influxd

TOPIC = "louyu/tower-139/parking_space/s-{:04d}"


def skewed_of(keys: list[SkewKey], made_s: float) -> Skewed:
    return Skewed({k: made_s for k in keys}, {k: 1.0 for k in keys})


@pytest.mark.integration
def test_each_skewed_reading_is_found_where_it_ended(tmp_path: Path) -> None:
    made_ms = int(time.time() * 1000)
    keys = [(TOPIC.format(n), made_ms + SKEW_MS + n) for n in range(4)]
    refused, stored, lost, normal = keys
    # The collector's own parser refuses a reading that comes while its ts is ten minutes ahead.
    dead_letters = tmp_path / "dead-letters.db"
    verdict = parse(refused[0], orjson.dumps({"occupied": True, "ts": refused[1]}), made_ms)
    assert isinstance(verdict, Rejection)
    DeadLetters(dead_letters).add([verdict])
    influxd = Influxd(tmp_path / "influxd")
    influxd.start()
    try:
        httpx.post(f"{influxd.url}/query", params={"q": "CREATE DATABASE louyu"}).raise_for_status()
        lines = [
            # One that came late enough to be stored, and a valid reading of the same device whose
            # ts is not a skewed one: only the first is the skewed gateway's.
            f"parking_space,building=tower-139,device=s-0001 occupied=true {stored[1]}",
            f"parking_space,building=tower-139,device=s-0003 occupied=false {normal[1] - 7}",
        ]
        httpx.post(
            f"{influxd.url}/write", params={"db": "louyu", "precision": "ms"}, content="\n".join(lines)
        ).raise_for_status()
        skewed = skewed_of([refused, stored, lost], time.time())
        skewed.ahead_when_set_right = 0
        find_skewed(skewed, influxd.url, dead_letters)
    finally:
        influxd.stop()
    assert skewed.refused.keys() == {refused}
    assert skewed.stored == {stored}
    assert skewed.stored_by_measurement()["parking_space"] == 1
    check = skew_check(skewed)
    assert not check.ok and "lost: 1" in check.detail


def test_the_verdict_passes_only_when_each_reading_is_accounted_for_once() -> None:
    keys = [(TOPIC.format(n), 1_000_000 + n) for n in range(3)]

    def verdict(refused: list[SkewKey], stored: list[SkewKey], ahead: int | None = 0) -> bool:
        skewed = skewed_of(keys, 1_000.0)
        skewed.refused = {k: 1_000_500 for k in refused}
        skewed.stored = set(stored)
        skewed.ahead_when_set_right = ahead
        return skew_check(skewed).ok

    assert verdict(keys, [])
    assert verdict(keys[:2], keys[2:])  # one came late and was stored
    assert not verdict(keys[:2], [])  # one neither refused nor stored
    assert not verdict(keys, keys[:1])  # one both
    assert not verdict(keys, [], ahead=1)  # one taken while still ahead
    assert not verdict(keys, [], ahead=None)  # InfluxDB not asked
    assert not verdict([], keys)  # nothing refused: the fault tested nothing
