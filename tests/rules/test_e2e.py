"""End to end on a real mosquitto: a reading in, an alert event out on MQTT and in the store."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from collector.registry import Registry
from louyu.commands.rules import build
from louyu.settings import Settings
from louyu.testing.services import Mosquitto, free_port
from rules.publisher import MqttEventPublisher
from rules.runner import RulesRunner
from rules.service import AlertService

pytestmark = pytest.mark.integration


class Listener:
    def __init__(self, port: int) -> None:
        self.messages: queue.Queue[tuple[str, dict[str, object]]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = lambda _c, _u, m: self.messages.put((m.topic, json.loads(m.payload)))
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("louyu/alerts/#", qos=1)
        self.client.loop_start()
        assert subscribed.wait(5)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def next(self, timeout: float = 5.0) -> tuple[str, dict[str, object]]:
        return self.messages.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def running(mosquitto: Mosquitto, tmp_path: Path) -> Iterator[tuple[RulesRunner, Listener]]:
    settings = Settings(mqtt_url=mosquitto.url, database_url=f"sqlite:///{tmp_path}/var/louyu.db")
    runner = build(settings, Registry.load())
    listener = Listener(mosquitto.port)
    runner.start()
    yield runner, listener
    listener.close()
    runner.stop()


def test_cabinet_open_reading_yields_event_and_stored_alert(running: tuple[RulesRunner, Listener]) -> None:
    runner, listener = running
    # A malformed message first: rejected, and the engine carries on.
    listener.publish("louyu/darong-b/aed/aed-b-1f-lobby", b"{not json")
    listener.publish("louyu/darong-b/aed/aed-b-1f-lobby", b'{"state": "ready", "cabinet_open": true}')
    topic, body = listener.next()
    assert topic == "louyu/alerts/darong-b/critical/aed-cabinet-open"
    assert body["event"] == "raised"
    alert = body["alert"]
    assert isinstance(alert, dict)
    assert (alert["rule"], alert["state"], alert["device"], alert["value"]) == (
        "aed-cabinet-open",
        "firing",
        "aed-b-1f-lobby",
        True,
    )
    stored = runner.engine.store.get(int(str(alert["id"])))
    assert stored is not None and stored.state == "firing"
    assert runner.engine.intake.outcomes["rejected"] == 1

    # A manual acknowledgement through the service reaches MQTT too.
    service = AlertService(runner.engine.store, MqttEventPublisher(listener.client))
    service.acknowledge(stored.id, "patrol-li", "on my way")
    topic, body = listener.next()
    assert body["event"] == "acknowledged" and body["by"] == "patrol-li"

    # Closing the cabinet resolves it, with resolution "cleared".
    listener.publish("louyu/darong-b/aed/aed-b-1f-lobby", b'{"state": "ready", "cabinet_open": false}')
    _, body = listener.next()
    assert body["event"] == "resolved"
    assert body["alert"]["resolution"] == "cleared"  # type: ignore[index]


def test_aed_fault_clears_on_ready_without_self_test(running: tuple[RulesRunner, Listener]) -> None:
    """Most AEDs never send the optional `self_test`: `ready` again must resolve the fault."""
    runner, listener = running
    aed = "louyu/darong-b/aed/aed-b-1f-lobby"
    listener.publish(aed, b'{"state": "fault", "cabinet_open": false}')
    topic, body = listener.next()
    assert (topic, body["event"]) == ("louyu/alerts/darong-b/major/aed-fault", "raised")
    listener.publish(aed, b'{"state": "ready", "cabinet_open": false}')
    topic, body = listener.next()
    assert (topic, body["event"]) == ("louyu/alerts/darong-b/major/aed-fault", "resolved")
    assert body["alert"]["resolution"] == "cleared"  # type: ignore[index]
    assert runner.engine.store.open_alerts() == []


def test_availability_offline_retained_is_seen_at_start(mosquitto: Mosquitto, tmp_path: Path) -> None:
    listener = Listener(mosquitto.port)
    listener.publish("louyu/darong-c/aed/aed-c-1f-lobby/availability", b"offline", retain=True)
    settings = Settings(mqtt_url=mosquitto.url, database_url=f"sqlite:///{tmp_path}/louyu.db")
    runner = build(settings, Registry.load())
    runner.start()
    try:
        topic, body = listener.next()
        assert topic == "louyu/alerts/darong-c/major/aed-offline"
        assert body["alert"]["value"] == "offline"  # type: ignore[index]
    finally:
        listener.close()
        runner.stop()


def test_start_without_broker_times_out_and_leaves_no_thread(tmp_path: Path) -> None:
    settings = Settings(mqtt_url=f"mqtt://127.0.0.1:{free_port()}", database_url=f"sqlite:///{tmp_path}/x.db")
    runner = build(settings, Registry.load())
    with pytest.raises(TimeoutError):
        runner.start(timeout=1.0)
    assert not [t for t in threading.enumerate() if t.name.startswith("louyu-rules")]


def test_scheduled_sweep_raises_silence_alerts(mosquitto: Mosquitto, tmp_path: Path) -> None:
    from prometheus_client import CollectorRegistry

    from louyu.commands.rules import mqtt_settings
    from rules.database import make_engine
    from rules.database.migrate import upgrade
    from rules.engine import RuleEngine
    from rules.metrics import RulesMetrics
    from rules.store import AlertStore
    from tests.rules.conftest import ruleset_from

    ruleset = ruleset_from(
        "rules:\n  - {id: aed-quiet, severity: major, match: {kinds: [aed], devices: [aed-c-1f-lobby]},"
        " silent_for: 1s}\n"
    )
    db = make_engine(f"sqlite:///{tmp_path}/louyu.db")
    upgrade(db)
    settings = Settings(mqtt_url=mosquitto.url)
    runner = RulesRunner(
        lambda publisher: RuleEngine(
            ruleset, Registry.load(), AlertStore(db), publisher, metrics=RulesMetrics(CollectorRegistry())
        ),
        mqtt_settings(settings),
        intervals=(0.2, 0.2, 0.2),
    )
    listener = Listener(mosquitto.port)
    runner.start()
    try:
        names = {t.name for t in threading.enumerate()}
        assert {"louyu-rules-mqtt", "louyu-rules-scheduler"} <= names
        topic, body = listener.next(timeout=5)
        assert topic == "louyu/alerts/darong-c/major/aed-quiet"
        assert body["alert"]["value"] == "silent"  # type: ignore[index]
        listener.publish("louyu/darong-c/aed/aed-c-1f-lobby", b'{"state": "ready"}')
        _, body = listener.next(timeout=5)
        assert body["event"] == "resolved" and body["note"] == "reporting again"
    finally:
        listener.close()
        runner.stop()
        db.dispose()
    assert not [t for t in threading.enumerate() if t.name.startswith("louyu-rules")]
