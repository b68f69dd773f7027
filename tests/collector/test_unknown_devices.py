"""Known devices only, by default: 10,000 invented parking spaces published fast through real
mosquitto to a `louyu collector` process writing to real influxd."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.quarantine import Quarantine
from collector.service import InfluxTarget
from louyu.testing.clients import influx_count, influx_query, publish_all
from louyu.testing.services import Influxd, Mosquitto, free_port
from tests.collector.conftest import CollectorProcess, StartCollector, settle

pytestmark = pytest.mark.integration

INVENTED = 10_000
BOUND = 1_000
KNOWN_SPACES = 100


def series_keys(influxd: Influxd) -> list[str]:
    series = influx_query(influxd.url, "SHOW SERIES")
    return [row[0] for row in series[0]["values"]] if series else []


def known_readings(rounds: int, now_ms: int) -> list[tuple[str, bytes]]:
    """`rounds` readings of each of KNOWN_SPACES registered spaces, each its own point."""
    return [
        (
            f"louyu/darong-a/parking_space/b1-{n + 1:03d}",
            json.dumps({"ts": now_ms - 120_000 + r * 1000 + n, "occupied": (n + r) % 2 == 0}).encode(),
        )
        for r in range(rounds)
        for n in range(KNOWN_SPACES)
    ]


def wait_for(check: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.25)


def test_invented_devices_are_quarantined_without_new_series_or_lost_readings(
    mosquitto: Mosquitto,
    influxd: Influxd,
    collector_process: Callable[[dict[str, str]], CollectorProcess],
    tmp_path: Path,
) -> None:
    metrics_port = free_port()
    process = collector_process(
        {
            "LOUYU_MQTT_URL": f"mqtt://127.0.0.1:{mosquitto.port}",
            "LOUYU_INFLUX_URL": influxd.url,
            "LOUYU_QUARANTINE_MAX": str(BOUND),
            "LOUYU_METRICS_BIND": f"127.0.0.1:{metrics_port}",
        }
    )
    process.start()
    now_ms = int(time.time() * 1000)

    # The site before the attack: every known space has reported once.
    publish_all(mosquitto.port, known_readings(1, now_ms))
    wait_for(lambda: influx_count(influxd.url, "parking_space", "occupied") == KNOWN_SPACES, "known readings")
    series_before = series_keys(influxd)
    assert len(series_before) == KNOWN_SPACES
    log_lines_before = len(process.log.read_text().splitlines())

    # 10,000 invented spaces, with 10 more rounds of the known spaces interleaved among them.
    known = known_readings(11, now_ms)[KNOWN_SPACES:]
    invented = [
        (f"louyu/darong-a/parking_space/fake-{n:05d}", json.dumps({"occupied": n % 2 == 0}).encode())
        for n in range(INVENTED)
    ]
    flood: list[tuple[str, bytes]] = []
    for n, message in enumerate(invented):
        flood.append(message)
        if n % 10 == 9:
            flood.append(known[n // 10])
    assert len(flood) == INVENTED + len(known)
    started = time.monotonic()
    publish_all(mosquitto.port, flood)
    published_s = time.monotonic() - started

    store = Quarantine(tmp_path / "dead.db")
    try:
        wait_for(lambda: store.count() + store.evicted() == INVENTED, "every invented device held or evicted")
        # No valid reading of a known device around them is lost.
        wait_for(
            lambda: influx_count(influxd.url, "parking_space", "occupied") == KNOWN_SPACES * 11,
            "the interleaved known readings",
        )
        assert store.count() == BOUND, "the quarantine keeps its bound"
        assert store.evicted() == INVENTED - BOUND
        newest = store.latest(BOUND)
        assert all(row.device.startswith("fake-") and row.building == "darong-a" for row in newest)
        assert newest[0].messages == 1
        assert {row.device for row in newest} >= {f"fake-{n:05d}" for n in range(INVENTED - 10, INVENTED)}
    finally:
        store.close()

    # Not one new series, not one new measurement.
    assert series_keys(influxd) == series_before
    assert [row[0] for row in influx_query(influxd.url, "SHOW MEASUREMENTS")[0]["values"]] == [
        "parking_space"
    ]

    # Counted per building, with a bounded label set.
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as response:
        metrics = response.read().decode()
    quarantined = re.findall(r"^louyu_collector_unknown_device_readings_total\{(.*)\} (\S+)$", metrics, re.M)
    assert quarantined == [('action="quarantined",building="darong-a"', f"{float(INVENTED)}")]
    assert f'louyu_collector_device_table_entries{{table="quarantine"}} {float(BOUND)}' in metrics
    assert f'louyu_collector_device_table_limit{{table="quarantine"}} {float(BOUND)}' in metrics

    # A bounded number of log lines, none per device: the first sighting of the building, then
    # the rate limit's summary at the end of its window.
    flood_log = process.log.read_text().splitlines()[log_lines_before:]
    assert len(flood_log) <= 5, "\n".join(flood_log)
    assert sum("fake-" in line for line in flood_log) <= 1
    print(f"published {len(flood):,} messages in {published_s:.1f} s; {len(flood_log)} log lines")


def test_accept_keeps_the_open_behaviour_for_sites_without_a_registry(
    mosquitto: Mosquitto, influxd: Influxd, start_collector: StartCollector
) -> None:
    collector = start_collector(mosquitto.port, InfluxTarget(influxd.url), unknown_devices="accept")
    messages = [
        (f"louyu/new-tower/parking_space/p-{n:03d}", json.dumps({"occupied": True}).encode())
        for n in range(50)
    ]
    publish_all(mosquitto.port, messages)
    settle(collector, len(messages))
    assert influx_count(influxd.url, "parking_space", "occupied", "\"building\" = 'new-tower'") == 50
    assert len(series_keys(influxd)) == 50, "each accepted unknown device is a series of its own"
    assert collector.quarantine.count() == 0
    assert collector.stats.unknown_accepted == {"_other": 50}
