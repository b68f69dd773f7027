"""The engine's broker session on a real mosquitto: restarts lose nothing, and several engines
split the buildings of one broker and one store."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from collector.registry import Registry
from louyu.commands.rules import build
from louyu.settings import Settings
from louyu.testing.services import Mosquitto
from rules.records import EventRecord
from rules.runner import RulesRunner
from rules.store import AlertStore
from tests.rules.conftest import REGISTRY_YAML

pytestmark = pytest.mark.integration

AED_A = "louyu/darong-a/aed/aed-a-1f-lobby"
AED_B = "louyu/darong-b/aed/aed-b-1f-lobby"
LOT_RULES = """
rules:
  - id: lot-full
    severity: warning
    match: {kinds: [parking_lot]}
    when: {ratio: [occupied, capacity], op: ge, value: 0.95}
    clear: {ratio: [occupied, capacity], op: lt, value: 0.90}
    for: 2s
"""
SPLIT_RULES = """
rules:
  - {id: cabinet, severity: critical, match: {kinds: [aed]}, when: {field: cabinet_open, op: eq, value: true}}
  - {id: aed-quiet, severity: major, match: {kinds: [aed]}, silent_for: 1s}
"""


class Listener:
    """Publishes telemetry and collects the alert events the engines publish."""

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

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        self.client.publish(topic, data, qos=1, retain=retain).wait_for_publish(5)

    def next(self, timeout: float = 5.0) -> tuple[str, dict[str, object]]:
        return self.messages.get(timeout=timeout)

    def drain(self, quiet: float = 0.5) -> list[tuple[str, dict[str, object]]]:
        got = []
        while True:
            try:
                got.append(self.messages.get(timeout=quiet))
            except queue.Empty:
                return got

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def listener(mosquitto: Mosquitto) -> Iterator[Listener]:
    client = Listener(mosquitto.port)
    yield client
    client.close()


def settings_for(mosquitto: Mosquitto, tmp_path: Path, rules: str | None = None, **more: object) -> Settings:
    rules_file = None
    if rules is not None:
        rules_file = tmp_path / "rules.yaml"
        rules_file.write_text(rules)
    return Settings(
        mqtt_url=mosquitto.url,
        database_url=f"sqlite:///{tmp_path}/var/louyu.db",
        rules_file=rules_file,
        **more,  # type: ignore[arg-type]
    )


class Running:
    """Runners started in a test, all stopped at its end whatever happens."""

    def __init__(self) -> None:
        self.runners: list[RulesRunner] = []

    def start(self, settings: Settings, registry: Registry, sweep_s: float | None = None) -> RulesRunner:
        runner = build(settings, registry)
        if sweep_s is not None:
            runner.tick_s = runner.maintain_s = runner.sweep_s = sweep_s
        runner.start()
        self.runners.append(runner)
        return runner

    def stop(self, runner: RulesRunner) -> None:
        runner.stop()
        self.runners.remove(runner)


@pytest.fixture
def running() -> Iterator[Running]:
    runners = Running()
    yield runners
    for runner in list(runners.runners):
        runners.stop(runner)


def test_reading_published_while_stopped_raises_after_restart(
    mosquitto: Mosquitto, tmp_path: Path, listener: Listener, running: Running
) -> None:
    settings = settings_for(mosquitto, tmp_path)
    first = running.start(settings, Registry.load())
    assert first.settings.client_id == "louyu-rules"
    running.stop(first)

    # The cabinet is opened while no engine runs: the broker keeps the reading for the session.
    listener.publish(AED_B, '{"state": "ready", "cabinet_open": true}')
    assert listener.drain(0.3) == []

    second = running.start(settings, Registry.load())
    topic, body = listener.next()
    assert topic == "louyu/alerts/darong-b/critical/aed-cabinet-open"
    assert body["event"] == "raised"
    alert = body["alert"]
    assert isinstance(alert, dict) and alert["device"] == "aed-b-1f-lobby"
    stored = second.engine.store.get(int(str(alert["id"])))
    assert stored is not None and stored.state == "firing"


def test_kept_session_does_not_replay_retained_availability(
    mosquitto: Mosquitto, tmp_path: Path, listener: Listener, running: Running
) -> None:
    # A device died while nothing ran; its retained `offline` raises at the first start.
    listener.publish(f"{AED_A}/availability", b"offline", retain=True)
    settings = settings_for(mosquitto, tmp_path)
    runner = running.start(settings, Registry.load())
    topic, body = listener.next()
    assert (topic, body["event"]) == ("louyu/alerts/darong-a/major/aed-offline", "raised")
    # It reports again (without a new `online`): cleared.
    listener.publish(AED_A, '{"state": "ready"}')
    _, body = listener.next()
    assert (body["event"], body["note"]) == ("resolved", "reporting again")
    running.stop(runner)

    # Restarted on the kept session: the stale retained `offline` is not delivered again.
    runner = running.start(settings, Registry.load())
    assert listener.drain(1.0) == []
    assert runner.engine.store.open_alerts() == []


def test_for_timer_is_not_completed_by_the_gap(
    mosquitto: Mosquitto, tmp_path: Path, listener: Listener, running: Running
) -> None:
    settings = settings_for(mosquitto, tmp_path, LOT_RULES)
    registry = Registry.from_text(REGISTRY_YAML)
    lot = "louyu/darong-a/parking_lot/garage"  # capacity 100 in the registry
    runner = running.start(settings, registry)
    listener.publish(lot, '{"occupied": 97}')
    deadline = time.monotonic() + 5
    while not runner.engine.store.load_pending() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runner.engine.store.load_pending(), "the for timer was not started"
    running.stop(runner)  # before the second the rule waits for

    # While away: still full for half a second more, then below the clear level. The restart
    # comes later than the rule's two seconds after the timer started.
    now = int(time.time() * 1000)
    listener.publish(lot, f'{{"ts": {now}, "occupied": 97}}')
    listener.publish(lot, f'{{"ts": {now + 500}, "occupied": 50}}')
    time.sleep(2.2)

    runner = running.start(settings, registry)
    # The first replayed reading must not complete the timer started before the gap: the
    # readings show the lot full for well under the two seconds the rule asks for.
    assert listener.drain(1.5) == []
    assert runner.engine.store.list_alerts()[0] == []
    assert runner.engine.store.load_pending() == []

    # Full again, and for two seconds: raised by the tick.
    listener.publish(lot, '{"occupied": 99}')
    topic, body = listener.next(timeout=5)
    assert (topic, body["event"]) == ("louyu/alerts/darong-a/warning/lot-full", "raised")


def test_two_engines_split_the_buildings(
    mosquitto: Mosquitto, tmp_path: Path, listener: Listener, running: Running
) -> None:
    registry = Registry.from_text(REGISTRY_YAML)
    seen: dict[str, list[EventRecord]] = {"darong-a": [], "darong-b": []}
    runners = {}
    for n, building in enumerate(seen, 1):
        settings = settings_for(
            mosquitto,
            tmp_path,
            SPLIT_RULES,
            rules_buildings=[building],
            mqtt_rules_client_id=f"louyu-rules-{n}",
        )
        runner = running.start(settings, registry, sweep_s=0.2)
        runner.engine.on_event = seen[building].append
        runners[building] = runner

    # Each sweep covers its own building's AED: one `silent` alert each, none twice.
    quiet = [listener.next() for _ in range(2)]
    assert sorted(topic for topic, _ in quiet) == [
        "louyu/alerts/darong-a/major/aed-quiet",
        "louyu/alerts/darong-b/major/aed-quiet",
    ]
    # A cabinet opened in each building, and one in a building neither engine owns.
    listener.publish(AED_A, '{"state": "ready", "cabinet_open": true}')
    listener.publish(AED_B, '{"state": "ready", "cabinet_open": true}')
    listener.publish("louyu/darong-c/aed/aed-c-1f-lobby", '{"state": "ready", "cabinet_open": true}')
    published = list(quiet)
    while sum(1 for topic, _ in published if topic.endswith("/cabinet")) < 2:
        published.append(listener.next())
    for runner in list(running.runners):
        running.stop(runner)
    published += listener.drain(0.5)
    store = AlertStore(runners["darong-a"].engine.store.engine)

    # Each engine handled and raised only its own building's.
    for building, runner in runners.items():
        assert seen[building] and {e.alert.building for e in seen[building]} == {building}
        assert {key[0] for key in runner.engine.latest} == {building}
        assert {key[0] for key in runner.engine.last_seen} == {building}
        assert runner.engine.intake.outcomes["not_owned"] == 0  # the broker sent it nothing else
    cabinets = store.list_alerts(rule="cabinet")[0]
    assert sorted(a.building for a in cabinets) == ["darong-a", "darong-b"]
    # Nothing doubled: every stored event was published exactly once, by the engine that made it.
    stored = store.events_after(0)
    published_ids = [int(str(body["event_id"])) for _, body in published]
    assert sorted(published_ids) == sorted(e.id for e in stored)
    assert len(set(published_ids)) == len(published_ids)
    assert sorted(e.id for events in seen.values() for e in events) == sorted(e.id for e in stored)
    raised = [(e.alert.rule, e.alert.device) for e in stored if e.event == "raised"]
    assert raised.count(("cabinet", "aed-a-1f-lobby")) == raised.count(("cabinet", "aed-b-1f-lobby")) == 1


def test_engine_given_fewer_buildings_drops_the_old_subscriptions(
    mosquitto: Mosquitto, tmp_path: Path, listener: Listener, running: Running
) -> None:
    registry = Registry.from_text(REGISTRY_YAML)
    everything = settings_for(mosquitto, tmp_path, SPLIT_RULES.replace("1s", "1h"))
    running.stop(running.start(everything, registry))  # the session now holds louyu/+/+/+

    only_a = settings_for(mosquitto, tmp_path, SPLIT_RULES.replace("1s", "1h"), rules_buildings=["darong-a"])
    runner = running.start(only_a, registry)
    listener.publish(AED_B, '{"state": "ready", "cabinet_open": true}')
    listener.publish(AED_A, '{"state": "ready", "cabinet_open": true}')
    _, body = listener.next()
    assert body["alert"]["building"] == "darong-a"  # type: ignore[index]
    assert (
        runner.engine.intake.outcomes["not_owned"] == 1
    )  # delivered by the left-over filter, ignored, filter dropped
    listener.publish(AED_B, '{"state": "ready", "cabinet_open": false}')
    listener.publish(AED_A, '{"state": "ready", "cabinet_open": false}')
    _, body = listener.next()
    assert body["event"] == "resolved"
    assert runner.engine.intake.outcomes["not_owned"] == 1
    assert listener.drain(0.3) == []
