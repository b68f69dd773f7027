"""Through a real mosquitto: the patrol handset hears of an opened AED cabinet from the rules engine's
alert, and the city platform gets building status snapshots built from the telemetry."""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from collector.registry import Registry
from louyu.commands.rules import build as build_rules
from louyu.settings import get_settings
from louyu.testing.services import Mosquitto
from rules.database import make_engine
from rules.notify.config import parse_routing
from rules.notify.history import DeliveryHistory
from rules.notify.service import MqttOptions, NotifierService
from rules.store import AlertStore
from tests.notify.helpers import HttpReceiver, new_alert
from tests.notify.test_webhook import verify

pytestmark = pytest.mark.integration


class Client:
    def __init__(self, port: int, name: str, topic: str | None = None) -> None:
        self.messages: queue.Queue[tuple[float, str, dict[str, Any]]] = queue.Queue()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=name)
        if topic:
            self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
            self.client.on_subscribe = lambda *_: self.ready.set()
        else:
            self.client.on_connect = lambda *_: self.ready.set()
        self.client.on_message = lambda _c, _u, m: self.messages.put(
            (time.perf_counter(), m.topic, json.loads(m.payload))
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        self.client.publish(topic, json.dumps(payload), qos=1).wait_for_publish(5)

    def next(self, timeout: float = 5.0) -> tuple[float, str, dict[str, Any]]:
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_patrol_handset_hears_of_an_opened_aed_cabinet(tmp_path: Path, mosquitto: Mosquitto) -> None:
    registry = Registry.load()
    db_url = f"sqlite:///{tmp_path / 'louyu.db'}"
    rules = build_rules(get_settings(mqtt_url=mosquitto.url, database_url=db_url), registry)
    notifier = NotifierService(
        parse_routing(
            "receivers: [{name: patrol, mqtt: {}}]\nroutes: [{match: {severity: critical}, receivers: [patrol]}]"
        ),
        registry,
        make_engine(db_url),
        MqttOptions("127.0.0.1", mosquitto.port),
    )
    handset = sensor = None
    try:
        rules.start()
        notifier.start()
        assert notifier.connected.wait(10)
        handset = Client(mosquitto.port, "handset-7", "louyu/notify/patrol")
        sensor = Client(mosquitto.port, "aed-b-1f-lobby")
        sent = time.perf_counter()
        sensor.publish("louyu/darong-b/aed/aed-b-1f-lobby", {"state": "ready", "cabinet_open": True})
        heard_at, topic, message = handset.next()
        assert topic == "louyu/notify/patrol"
        assert heard_at - sent < 2.0
        assert message["event"] == "raised" and message["alert"]["rule"] == "aed-cabinet-open"
        assert message["alert"]["severity"] == "critical"
        assert message["building"]["name"] == "大荣中心 B 座"
        assert message["floor"] == "1F"
        assert message["location"] == "B 座一楼大堂前台旁 / Tower B lobby, beside reception"
        assert message["actions"]["zh"][0] == "立即前往 AED 柜"
        assert any("120" in step for step in message["actions"]["en"])
        # Closing the cabinet resolves the alert, and the patrol hears that too, in order.
        sensor.publish("louyu/darong-b/aed/aed-b-1f-lobby", {"state": "ready", "cabinet_open": False})
        _, _, resolved = handset.next()
        assert resolved["event"] == "resolved" and resolved["alert"]["id"] == message["alert"]["id"]
    finally:
        for client in (handset, sensor):
            if client is not None:
                client.close()
        notifier.stop()
        rules.stop()


def test_city_platform_gets_building_status_snapshots(
    tmp_path: Path, mosquitto: Mosquitto, secret_env: str
) -> None:
    receiver = HttpReceiver()
    notifier = NotifierService(
        parse_routing(f"""
receivers:
  - name: city
    cloudevents: {{url: "{receiver.url}", secret_env: {secret_env}}}
snapshot: {{every: 300ms, receivers: [city]}}
"""),
        Registry.load(),
        make_engine(f"sqlite:///{tmp_path / 'louyu.db'}"),
        MqttOptions("127.0.0.1", mosquitto.port),
    )
    sensor = None
    try:
        notifier.start()
        assert notifier.connected.wait(10)
        time.sleep(0.2)  # the telemetry subscription
        sensor = Client(mosquitto.port, "gateway")
        sensor.publish("louyu/darong-a/parking_lot/garage", {"occupied": 412, "capacity": 600})
        sensor.publish("louyu/darong-b/aed/aed-b-1f-lobby", {"state": "ready", "cabinet_open": False})
        sensor.publish("louyu/darong-b/aed/aed-b-12f-lift", {"state": "fault"})
        sensor.publish("louyu/darong-b/canteen/main-hall", {"occupancy": 378, "queue_length": 20})

        def latest_status() -> dict[str, Any] | None:
            for request in reversed(receiver.ok()):
                event: dict[str, Any] = json.loads(request.body)
                buildings = {b["building"]: b for b in event["data"]["buildings"]}
                if buildings["darong-b"]["canteen"][0]["occupancy"] == 378:
                    assert verify(request)
                    return event
            return None

        deadline = time.monotonic() + 10
        event = latest_status()
        while event is None and time.monotonic() < deadline:
            time.sleep(0.05)
            event = latest_status()
        assert event is not None, "no snapshot with the readings"
        assert event["type"] == "cn.louyu.building.status" and event["specversion"] == "1.0"
        buildings = {b["building"]: b for b in event["data"]["buildings"]}
        assert buildings["darong-a"]["parking"]["free_spaces"] == 188
        tower_b = buildings["darong-b"]
        assert tower_b["aed"]["total"] == 2 and tower_b["aed"]["ready"] == 1
        assert tower_b["canteen"][0]["load"] == 0.9 and tower_b["canteen"][0]["capacity"] == 420
    finally:
        if sensor is not None:
            sensor.close()
        notifier.stop()
        receiver.close()


def test_handset_messages_held_up_by_a_broker_outage_go_as_soon_as_it_is_back(
    tmp_path: Path, mosquitto: Mosquitto
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'louyu.db'}")
    notifier = NotifierService(
        parse_routing("""
receivers:
  - name: patrol
    mqtt: {}
    retry: {initial: 60s, max: 5m}
routes: [{receivers: [patrol]}]
"""),
        Registry.load(),
        engine,
        MqttOptions("127.0.0.1", mosquitto.port),
        poll_s=0.1,
    )
    store = AlertStore(engine)
    # A handset with a persistent session: the broker keeps its subscription across the restart.
    handset = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="handset-persistent", clean_session=False)
    heard: queue.Queue[dict[str, Any]] = queue.Queue()
    subscribed = threading.Event()
    handset.on_connect = lambda c, *_: c.subscribe("louyu/notify/patrol", qos=1)
    handset.on_subscribe = lambda *_: subscribed.set()
    handset.on_message = lambda _c, _u, m: heard.put(json.loads(m.payload))
    handset.reconnect_delay_set(1, 1)
    handset.connect("127.0.0.1", mosquitto.port)
    handset.loop_start()
    try:
        assert subscribed.wait(10)
        notifier.start()
        assert notifier.connected.wait(10)
        mosquitto.stop()
        raised = store.raise_alert(new_alert(), dt.datetime.now(dt.UTC))
        assert raised is not None
        deadline = time.monotonic() + 10
        while notifier.ledger.counts().get("pending", 0) == 0 or not _tried(notifier):
            assert time.monotonic() < deadline, "the delivery was never tried"
            time.sleep(0.05)
        mosquitto.start()
        message = heard.get(timeout=15)  # well before the 30-60 s backoff would allow
        assert message["delivery_id"] == f"evt-{raised.id}-patrol"
    finally:
        handset.disconnect()
        handset.loop_stop()
        notifier.stop()


def _tried(notifier: NotifierService) -> bool:
    records, _ = DeliveryHistory(notifier.engine).page()
    return bool(records) and records[0].attempts >= 1 and "not connected" in (records[0].last_error or "")
