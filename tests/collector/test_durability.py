"""Nothing lost: real mosquitto and influxd, stopped, killed and restarted under a QoS 1 stream."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from collector.service import InfluxTarget
from louyu.testing.clients import influx_count, influx_query, publish_all
from louyu.testing.services import Influxd, Mosquitto
from tests.collector.conftest import CollectorProcess, StartCollector, settle

pytestmark = pytest.mark.integration
BEIJING = dt.timezone(dt.timedelta(hours=8))


def stream(count: int, offset: int = 0) -> list[tuple[str, bytes]]:
    """`count` parking-space readings, each a distinct point (distinct device and ts)."""
    now = int(time.time() * 1000)
    return [
        (
            f"louyu/darong-a/parking_space/b1-{n % 300 + 1:03d}",
            json.dumps({"ts": now - 60_000 - (n + offset), "occupied": n % 3 == 0}).encode(),
        )
        for n in range(count)
    ]


def stored(influxd: Influxd) -> int:
    return influx_count(influxd.url, "parking_space", "occupied")


def wait_for_count(influxd: Influxd, expected: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    count = stored(influxd)
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.25)
        count = stored(influxd)
    return count


def publish_in_background(port: int, messages: list[tuple[str, bytes]]) -> threading.Thread:
    thread = threading.Thread(target=publish_all, args=(port, messages), name="test-publisher")
    thread.start()
    return thread


def test_every_kind_lands_with_the_contract_schema(
    mosquitto: Mosquitto, influxd: Influxd, start_collector: StartCollector
) -> None:
    collector = start_collector(mosquitto.port, InfluxTarget(influxd.url))
    now = int(time.time() * 1000)
    publish_all(
        mosquitto.port,
        [
            (
                "louyu/darong-b/aed/aed-b-1f-lobby",
                json.dumps(
                    {
                        "ts": now,
                        "state": "ready",
                        "cabinet_open": False,
                        "battery_pct": 92,
                        "pads_expiry": "2027-03-01",
                        "self_test": "pass",
                        "temp_c": 21,
                    }
                ).encode(),
            ),
            ("louyu/darong-a/parking_space/b1-017", b'{"occupied": true, "battery_pct": 80}'),
            (
                "louyu/darong-a/parking_lot/garage",
                json.dumps(
                    {
                        # an RFC 3339 string in Beijing time, 10 s ago
                        "ts": dt.datetime.fromtimestamp((now - 10_000) / 1000, BEIJING).isoformat(),
                        "occupied": 412,
                        "capacity": 600,
                        "entered": 500,
                        "exited": 88,
                    }
                ).encode(),
            ),
            (
                "louyu/darong-b/canteen/main-hall",
                b'{"occupancy": 388, "capacity": 420, "queue_length": 35, "takeaway_pending": 12}',
            ),
        ],
    )
    settle(collector, 4)
    types = {
        (series["name"], key): kind
        for series in influx_query(influxd.url, "SHOW FIELD KEYS")
        for key, kind in series["values"]
    }
    assert types == {
        ("aed", "state"): "string",
        ("aed", "cabinet_open"): "boolean",
        ("aed", "battery_pct"): "float",
        ("aed", "pads_expiry"): "string",
        ("aed", "self_test"): "string",
        ("aed", "temp_c"): "float",
        ("parking_space", "occupied"): "boolean",
        ("parking_space", "battery_pct"): "float",
        ("parking_lot", "occupied"): "integer",
        ("parking_lot", "capacity"): "integer",
        ("parking_lot", "entered"): "integer",
        ("parking_lot", "exited"): "integer",
        ("canteen", "occupancy"): "integer",
        ("canteen", "capacity"): "integer",
        ("canteen", "queue_length"): "integer",
        ("canteen", "takeaway_pending"): "integer",
    }
    aed = influx_query(influxd.url, 'SELECT * FROM "aed" WHERE "building" = \'darong-b\'')[0]
    row = dict(zip(aed["columns"], aed["values"][0], strict=True))
    assert row["time"] == now, "millisecond timestamp from ts"
    assert row["device"] == "aed-b-1f-lobby" and row["floor"] == "1F" and row["zone"] == "lobby"
    assert influx_count(influxd.url, "parking_space", "occupied", "\"building\" = 'darong-a'") == 1
    [lot] = influx_query(influxd.url, 'SELECT "occupied" FROM "parking_lot"')
    assert lot["values"] == [[now - 10_000, 412]], "the RFC 3339 ts, in +08:00, stored at its instant"


def test_influxdb_down_under_load_loses_nothing(
    mosquitto: Mosquitto, influxd: Influxd, start_collector: StartCollector
) -> None:
    collector = start_collector(mosquitto.port, InfluxTarget(influxd.url))
    messages = stream(30_000)
    publisher = publish_in_background(mosquitto.port, messages)
    time.sleep(0.3)
    influxd.stop()
    time.sleep(3.0)
    spooled_while_down = collector.spool.points
    influxd.start()
    publisher.join(120)
    assert wait_for_count(influxd, len(messages)) == len(messages)
    assert spooled_while_down > 0, "the outage happened under load"
    deadline = time.monotonic() + 30
    while collector.spool.points and time.monotonic() < deadline:
        time.sleep(0.1)
    assert collector.spool.points == 0
    assert collector.stats.drained >= spooled_while_down


def test_collector_killed_twice_loses_nothing(
    mosquitto: Mosquitto, influxd: Influxd, collector_process: Callable[[dict[str, str]], CollectorProcess]
) -> None:
    process = collector_process({"LOUYU_MQTT_URL": mosquitto.url, "LOUYU_INFLUX_URL": influxd.url})
    process.start()
    messages = stream(40_000)
    publisher = publish_in_background(mosquitto.port, messages)
    seen_at_kill = []
    for _ in range(2):
        time.sleep(1.0)
        process.kill()
        seen_at_kill.append(stored(influxd))
        time.sleep(0.5)
        process.start()
    publisher.join(120)
    assert wait_for_count(influxd, len(messages)) == len(messages)
    assert 0 < seen_at_kill[0] < len(messages), "the first kill happened mid-stream"


def test_broker_restart_loses_nothing(
    mosquitto: Mosquitto, influxd: Influxd, start_collector: StartCollector
) -> None:
    # A backlog queued in the broker for the collector's persistent session survives a restart...
    away = start_collector(mosquitto.port, InfluxTarget(influxd.url), name="same")
    away.stop()
    first, second = stream(20_000), stream(20_000, offset=20_000)
    publish_all(mosquitto.port, first)
    mosquitto.stop()  # SIGTERM: the broker saves sessions and queued messages to its persistence file
    mosquitto.start()
    collector = start_collector(mosquitto.port, InfluxTarget(influxd.url), name="same")
    # ...and so does a restart in the middle of a live stream.
    publisher = publish_in_background(mosquitto.port, second)
    time.sleep(0.5)
    mosquitto.stop()
    mosquitto.start()
    publisher.join(120)
    assert wait_for_count(influxd, len(first) + len(second)) == len(first) + len(second)
    assert collector.stats.received >= len(first) + len(second)


def test_a_refused_line_does_not_cost_the_rest_of_its_batch(
    mosquitto: Mosquitto, influxd: Influxd, start_collector: StartCollector
) -> None:
    # Data written before louyu made battery_pct a string: InfluxDB now refuses float values for it.
    urllib.request.urlopen(
        urllib.request.Request(f"{influxd.url}/query", data=b"q=CREATE+DATABASE+louyu")
    ).close()
    urllib.request.urlopen(
        urllib.request.Request(
            f"{influxd.url}/write?db=louyu", data=b'aed,building=old,device=x battery_pct="low"'
        )
    ).close()
    # 300 AED ids, more than the registry has: stored with the open behaviour.
    collector = start_collector(
        mosquitto.port, InfluxTarget(influxd.url), batch_size=1000, unknown_devices="accept"
    )
    now = int(time.time() * 1000)
    messages = []
    for n, space in enumerate(stream(300)):
        messages.append(space)
        payload: dict[str, object] = {"ts": now - n, "state": "ready"}
        if n % 10 == 0:
            payload["battery_pct"] = 50
        messages.append((f"louyu/darong-{'abc'[n % 3]}/aed/aed-{n}", json.dumps(payload).encode()))
    publish_all(mosquitto.port, messages)
    settle(collector, len(messages))
    assert wait_for_count(influxd, 300) == 300
    assert influx_count(influxd.url, "aed", "state") == 270
    refused = collector.dead_letters.latest(100, reason="influx_rejected")
    assert len(refused) == 30
    assert all("battery_pct=50.0" in r.excerpt for r in refused)
    assert "field type conflict" in refused[0].detail


def test_two_collectors_on_a_shared_subscription_split_the_load(
    mosquitto: Mosquitto, influxd: Influxd, start_collector: StartCollector
) -> None:
    one = start_collector(mosquitto.port, InfluxTarget(influxd.url), name="one", shared_group="collectors")
    two = start_collector(mosquitto.port, InfluxTarget(influxd.url), name="two", shared_group="collectors")
    messages = stream(20_000)
    publish_all(mosquitto.port, messages)
    assert wait_for_count(influxd, len(messages)) == len(messages)
    assert one.pipeline.flush() and two.pipeline.flush()
    received = (one.stats.received, two.stats.received)
    assert sum(received) == len(messages), f"each message went to exactly one collector: {received}"
    assert min(received) > len(messages) * 0.2, f"load split: {received}"


def test_mqtt_311_fallback_mode(
    mosquitto: Mosquitto, influxd: Influxd, start_collector: StartCollector
) -> None:
    collector = start_collector(mosquitto.port, InfluxTarget(influxd.url), protocol="3.1.1")
    publish_all(mosquitto.port, stream(2000))
    settle(collector, 2000)
    assert wait_for_count(influxd, 2000) == 2000


def test_rejections_are_counted_kept_and_exported(
    mosquitto: Mosquitto, influxd: Influxd, start_collector: StartCollector, tmp_path: Path
) -> None:
    from prometheus_client import generate_latest

    collector = start_collector(mosquitto.port, InfluxTarget(influxd.url))
    publish_all(
        mosquitto.port,
        [
            ("louyu/darong-a/aed/x", b"{oops"),
            *stream(10),
            ("louyu/darong-a/canteen/main-hall", b'{"occupancy": -5}'),
        ],
    )
    settle(collector, 12)
    assert wait_for_count(influxd, 10) == 10
    assert {r.reason for r in collector.dead_letters.latest(10)} == {"not_json", "out_of_range"}
    registry = collector._metrics_registry
    assert registry is not None
    text = generate_latest(registry).decode()
    assert 'louyu_collector_rejected_total{reason="not_json"} 1.0' in text
    assert 'louyu_collector_readings_accepted_total{kind="parking_space"} 10.0' in text
    assert "louyu_collector_broker_connected 1.0" in text


def test_a_broker_with_the_stock_in_flight_limit_still_delivers_everything(
    tmp_path: Path, influxd: Influxd, start_collector: StartCollector
) -> None:
    """Debian's mosquitto as installed lets 20 unacknowledged messages be in flight: the collector,
    which acknowledges after writing, must still store everything (see docs/operations.md)."""
    broker = Mosquitto(
        tmp_path / "stock", extra={"max_inflight_messages": "20", "max_queued_messages": "100000"}
    )
    broker.start()
    try:
        collector = start_collector(broker.port, InfluxTarget(influxd.url), name="stock")
        messages = stream(3000)
        publish_all(broker.port, messages)
        assert wait_for_count(influxd, len(messages)) == len(messages)
        settle(collector, len(messages))
    finally:
        broker.kill()
