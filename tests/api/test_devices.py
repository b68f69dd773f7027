"""Devices and building summaries: pure status rules, the latest-state table, the routes, and
the API's own MQTT subscription feeding them."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import paho.mqtt.publish as mqtt_publish
import pytest

from api.config import ApiConfig
from api.device_status import status_of
from api.mqtt_feed import MqttConfig
from api.roles import Role
from collector.latest import DeviceState, LatestState
from collector.models import Availability, DeviceKey, Reading
from collector.registry import Registry
from louyu.testing.services import Mosquitto
from tests.api.conftest import Api

NOW_MS = 1_800_000_000_000
MIN = 60_000
AED = DeviceKey("darong-b", "aed", "aed-b-1f-lobby")


def _state(last_seen_ago_min: float | None, online: bool | None = None) -> DeviceState:
    state = DeviceState(AED)
    if last_seen_ago_min is not None:
        state.last_seen_ms = NOW_MS - int(last_seen_ago_min * MIN)
    state.online = online
    return state


@pytest.mark.parametrize(
    ("state", "registered", "alerts", "kind", "expected"),
    [
        (_state(1), True, 0, "aed", "ok"),
        (_state(1), True, 1, "aed", "alerting"),
        (_state(1, online=False), True, 1, "aed", "alerting"),  # the most urgent word wins
        (_state(1, online=False), True, 0, "aed", "offline"),
        (_state(16), True, 0, "aed", "silent"),  # AED: 15 minutes
        (_state(16), True, 0, "canteen", "ok"),  # others: 30 minutes
        (_state(31), True, 0, "parking_space", "silent"),
        (None, True, 0, "aed", "silent"),  # registered, never heard from
        (_state(1), False, 0, "aed", "unregistered"),
        (_state(40), False, 0, "canteen", "silent"),
    ],
)
def test_status_rules(
    state: DeviceState | None, registered: bool, alerts: int, kind: str, expected: str
) -> None:
    assert status_of(state, registered, alerts, kind, NOW_MS) == expected


def test_fields_merge_and_old_readings_never_overwrite_new_ones() -> None:
    table = LatestState(Registry.load())
    table.apply(Reading("darong-b", "aed", "aed-b-1f-lobby", 2000, {"state": "ready", "battery_pct": 92.0}))
    table.apply(Reading("darong-b", "aed", "aed-b-1f-lobby", 3000, {"state": "fault"}))
    table.apply(Reading("darong-b", "aed", "aed-b-1f-lobby", 1000, {"state": "in_use", "battery_pct": 10.0}))
    state = table.get(AED)
    assert state is not None
    assert state.fields == {"state": "fault", "battery_pct": 92.0}
    assert (state.reading_ts_ms, state.last_seen_ms) == (3000, 3000)
    table.apply(Availability("darong-b", "aed", "aed-b-1f-lobby", False, 4000))
    assert table.get(AED).online is False  # type: ignore[union-attr]
    table.apply(Reading("darong-b", "aed", "aed-b-1f-lobby", 5000, {"state": "ready"}))
    # It speaks, so it is online again.
    assert table.get(AED).online is True  # type: ignore[union-attr]


def test_devices_and_buildings_routes(start_api: Callable[..., Api]) -> None:
    # Open mode (no trusted registry): a device heard but not registered is listed as such.
    table = LatestState(Registry.load(), accept_unknown=True)
    now_ms = int(time.time() * 1000)
    table.apply(
        Reading("darong-b", "aed", "aed-b-1f-lobby", now_ms, {"state": "ready", "cabinet_open": False})
    )
    table.apply(
        Reading("darong-b", "aed", "aed-b-12f-lift", now_ms, {"state": "ready", "cabinet_open": True})
    )
    table.apply(Reading("darong-b", "canteen", "main-hall", now_ms, {"occupancy": 210, "queue_length": 12}))
    table.apply(Reading("darong-a", "parking_lot", "garage", now_ms, {"occupied": 450}))
    for n in range(1, 11):
        table.apply(Reading("darong-a", "parking_space", f"b1-{n:03d}", now_ms, {"occupied": n <= 7}))
    table.apply(Reading("darong-a", "parking_space", "b1-011", now_ms - 31 * MIN, {"occupied": False}))
    table.apply(Reading("darong-z", "aed", "stray-1", now_ms, {"state": "ready"}))
    api = start_api(devices=table)
    api.raise_alert(device="aed-b-12f-lift")
    with api.client(Role.VIEWER) as client:
        listing = client.get("/api/v1/devices").json()
        one = client.get("/api/v1/devices/darong-b/aed/aed-b-1f-lobby").json()
        stray = client.get("/api/v1/devices/darong-z/aed/stray-1").json()
        missing = client.get("/api/v1/devices/darong-z/aed/nobody")
        filtered = client.get("/api/v1/devices", params={"status": "alerting"}).json()
        buildings = {b["building"]: b for b in client.get("/api/v1/buildings").json()}
    assert len(listing["items"]) == len(Registry.load()) + 1  # every registered device, and the stray
    assert listing["counts"]["alerting"] == 1 and listing["counts"]["unregistered"] == 1
    assert (one["status"], one["registered"], one["floor"]) == ("ok", True, "1F")
    assert one["location"].startswith("B 座一楼大堂")
    assert (stray["status"], stray["registered"]) == ("unregistered", False)
    assert missing.status_code == 404
    assert [d["device"] for d in filtered["items"]] == ["aed-b-12f-lift"]
    parking = buildings["darong-a"]["parking"]
    assert (parking["spaces_total"], parking["spaces_free"], parking["spaces_occupied"]) == (600, 3, 7)
    assert parking["spaces_unknown"] == 590  # 589 never heard from, b1-011 silent
    garage = parking["lots"][0]
    assert {k: garage[k] for k in ("device", "occupied", "capacity", "free", "part_of", "freshness")} == {
        "device": "garage",
        "occupied": 450,
        "capacity": 600,
        "free": 150,
        "part_of": None,
        "freshness": "fresh",
    }
    assert [(lot["device"], lot["part_of"], lot["freshness"]) for lot in parking["lots"][1:]] == [
        ("garage-b1", "garage", "unknown"),
        ("garage-b2", "garage", "unknown"),
    ]
    # The building's total is the garage's counter, not the garage plus its levels.
    assert (parking["free"], parking["capacity"]) == (150, 600)
    assert parking["sites"][0]["count"]["source"] == "counter"
    assert [level["device"] for level in parking["sites"][0]["levels"]] == ["garage-b1", "garage-b2"]
    aed = buildings["darong-b"]["aed"]
    assert (aed["total"], aed["ready"], aed["not_ready"], aed["freshness"]) == (
        2,
        1,
        ["aed-b-12f-lift"],
        "fresh",
    )
    [canteen] = buildings["darong-b"]["canteens"]
    assert {k: canteen[k] for k in ("device", "occupancy", "capacity", "load", "queue_length")} == {
        "device": "main-hall",
        "occupancy": 210,
        "capacity": 420,
        "load": 0.5,
        "queue_length": 12,
    }
    assert 0 <= canteen["age_s"] < 60 and canteen["freshness"] == "fresh"
    assert buildings["darong-b"]["open_alerts"] == 1
    # The summary covers the registry's buildings: a stray device does not invent a building.
    assert "darong-z" not in buildings


@pytest.mark.integration
def test_mqtt_telemetry_feeds_the_latest_state(start_api: Callable[..., Api], mosquitto: Mosquitto) -> None:
    api = start_api(ApiConfig(mqtt=MqttConfig("127.0.0.1", mosquitto.port, client_id="api-feed-test")))
    with httpx.Client(base_url=api.url, timeout=10) as plain:
        deadline = time.monotonic() + 10
        while plain.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "never connected"
            time.sleep(0.05)
    messages = [
        ("louyu/darong-b/aed/aed-b-1f-lobby", json.dumps({"state": "ready", "battery_pct": 88})),
        ("louyu/darong-b/aed/aed-b-1f-lobby", json.dumps({"state": "bogus"})),  # rejected: no effect
        ("louyu/darong-b/aed/aed-b-1f-lobby", "not json"),
        ("louyu/darong-q/canteen/pop-up", json.dumps({"occupancy": 5})),
        ("louyu/darong-a/parking_lot/garage/availability", "offline"),
    ]
    mqtt_publish.multiple(
        [{"topic": t, "payload": p, "qos": 1} for t, p in messages], hostname="127.0.0.1", port=mosquitto.port
    )
    with api.client(Role.VIEWER) as client:
        deadline = time.monotonic() + 10
        while True:
            garage = client.get("/api/v1/devices/darong-a/parking_lot/garage").json()
            if garage["status"] == "offline":
                break
            assert time.monotonic() < deadline, garage
            time.sleep(0.05)
        aed = client.get("/api/v1/devices/darong-b/aed/aed-b-1f-lobby").json()
        popup = client.get("/api/v1/devices/darong-q/canteen/pop-up").json()
    assert aed["reading"] == {"state": "ready", "battery_pct": 88.0} and aed["status"] == "ok"
    metrics = httpx.get(f"{api.url}/metrics", timeout=10).text
    assert "louyu_api_telemetry_messages_total 3.0" in metrics
    assert "louyu_api_telemetry_rejected_total 2.0" in metrics
    # Closed mode, the default: a device the registry does not know is not kept.
    assert popup == {"detail": "device darong-q/canteen/pop-up is neither registered nor ever seen"}
    assert garage["online"] is False


@pytest.mark.integration
def test_readyz_reports_the_broker(start_api: Callable[..., Api], mosquitto: Mosquitto) -> None:
    api = start_api(ApiConfig(mqtt=MqttConfig("127.0.0.1", mosquitto.port, client_id="api-ready-test")))
    with httpx.Client(base_url=api.url, timeout=10) as client:

        def wait_for(status: int) -> httpx.Response:
            deadline = time.monotonic() + 15
            while (response := client.get("/readyz")).status_code != status:
                assert time.monotonic() < deadline, response.text
                time.sleep(0.05)
            return response

        wait_for(200)
        mosquitto.stop()
        down = wait_for(503)
        assert down.json()["checks"]["broker"] == {"ok": False, "detail": "unavailable"}
        told = client.get("/readyz", headers={"Authorization": f"Bearer {api.token[Role.VIEWER]}"})
        assert told.json()["checks"]["broker"] == {"ok": False, "detail": "not connected"}
        mosquitto.start()
        wait_for(200)  # paho reconnects by itself


def test_the_table_ignores_unknown_devices_unless_open() -> None:
    registry = Registry.load()
    table = LatestState(registry)
    table.apply(Reading("darong-z", "aed", "made-up", 1000, {"state": "ready"}))
    table.apply(Reading("darong-b", "aed", "aed-b-1f-lobby", 1000, {"state": "ready"}))
    assert (
        len(table) == 1 and table.ignored == 1 and table.get(DeviceKey("darong-z", "aed", "made-up")) is None
    )
    open_table = LatestState(registry, accept_unknown=True)
    open_table.apply(Reading("darong-z", "aed", "made-up", 1000, {"state": "ready"}))
    assert len(open_table) == 1 and open_table.ignored == 0


def test_the_table_is_bounded() -> None:
    table = LatestState(None, max_devices=3)
    for n in range(5):
        table.apply(Reading("darong-z", "aed", f"made-up-{n}", 1000, {"state": "ready"}))
    table.apply(Reading("darong-z", "aed", "made-up-0", 2000, {"state": "fault"}))  # known: still updated
    assert len(table) == 3 and table.dropped == 2
    assert table.get(DeviceKey("darong-z", "aed", "made-up-0")).fields == {"state": "fault"}  # type: ignore[union-attr]
