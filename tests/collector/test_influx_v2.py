"""The v2 write path (`/api/v2/write` through influxdb-client), against a real server that speaks it."""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from typing import Any

import pytest

from collector.service import InfluxTarget
from louyu.testing.clients import publish_all
from louyu.testing.services import Mosquitto, VictoriaMetrics
from tests.collector.conftest import StartCollector, settle

pytestmark = pytest.mark.integration


def export(victoria: VictoriaMetrics, name: str) -> list[dict[str, Any]]:
    victoria.flush()
    query = urllib.parse.urlencode({"match[]": f'{{__name__="{name}"}}'})
    with urllib.request.urlopen(f"{victoria.url}/api/v1/export?{query}") as response:
        return [json.loads(line) for line in response.read().decode().splitlines() if line]


def points(victoria: VictoriaMetrics, name: str, timeout: float = 20.0, expected: int = 1) -> int:
    deadline = time.monotonic() + timeout
    while True:
        count = sum(len(series["values"]) for series in export(victoria, name))
        if count >= expected or time.monotonic() > deadline:
            return count
        time.sleep(0.3)


def v2(victoria: VictoriaMetrics) -> InfluxTarget:
    return InfluxTarget(victoria.url, api="v2", database="louyu", org="louyu", token="test-token")


def test_readings_reach_a_v2_write_endpoint(
    mosquitto: Mosquitto, victoria: VictoriaMetrics, start_collector: StartCollector
) -> None:
    collector = start_collector(mosquitto.port, v2(victoria))
    now = int(time.time() * 1000)
    publish_all(
        mosquitto.port,
        [
            (
                "louyu/darong-b/aed/aed-b-1f-lobby",
                json.dumps({"ts": now, "state": "ready", "battery_pct": 92}).encode(),
            ),
            (
                "louyu/darong-a/parking_lot/garage",
                json.dumps({"ts": now, "occupied": 412, "capacity": 600}).encode(),
            ),
            *[
                (
                    f"louyu/darong-a/parking_space/b1-{n:03d}",
                    json.dumps({"ts": now - n, "occupied": True}).encode(),
                )
                for n in range(1, 301)
            ],
        ],
    )
    settle(collector, 302)
    assert points(victoria, "parking_space_occupied", expected=300) == 300
    [battery] = export(victoria, "aed_battery_pct")
    assert battery["values"] == [92] and battery["timestamps"] == [now]
    assert battery["metric"] == {
        "__name__": "aed_battery_pct",
        "building": "darong-b",
        "device": "aed-b-1f-lobby",
        "floor": "1F",
        "zone": "lobby",
    }
    [lot] = export(victoria, "parking_lot_occupied")
    assert lot["values"] == [412]
    assert collector.stats.written == 302


def test_v2_outage_is_spooled_then_drained(
    mosquitto: Mosquitto, victoria: VictoriaMetrics, start_collector: StartCollector
) -> None:
    collector = start_collector(mosquitto.port, v2(victoria))
    victoria.stop()
    now = int(time.time() * 1000)
    messages = [
        (
            f"louyu/darong-a/parking_space/b2-{n % 300 + 1:03d}",
            json.dumps({"ts": now - 1000 - n, "occupied": n % 2 == 0}).encode(),
        )
        for n in range(3000)
    ]
    publish_all(mosquitto.port, messages)
    settle(collector, len(messages))
    assert collector.spool.points == 3000, "acknowledged because spooled while the database was down"
    victoria.start()
    assert points(victoria, "parking_space_occupied", timeout=60, expected=3000) == 3000
    assert collector.spool.points == 0
