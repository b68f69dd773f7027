"""The rules engine through broker restarts while readings pour in: every AED step still alerts.

The engine's worker acknowledges each reading once evaluated and its scheduler publishes events,
both from threads other than paho's network thread. A restart of the broker under load is when a
write from one of those threads can meet the lost connection; the engine must come back each time
and take the next cabinet opening at once (a fault the district soak found: one broker restart
left the engine connected to nothing, its session queueing every reading until the end).
"""

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
from rules.runner import RulesRunner

pytestmark = pytest.mark.integration

RESTARTS = 4
RATE = 1_000  # readings a second: below the district's 1,700, as the broker and this test share the cores
BURST = 20_000  # readings a reconnecting gateway hands over at once: the engine falls behind
# How long an alert event may take: a liveness bound, not a latency target. Behind a burst the
# alert comes after seconds (docs/rules.md, "Urgent first"); a deadlocked engine never sends it.
WAIT_S = 45.0


class Flood:
    """Gateways publishing parking readings at `RATE`, across restarts (paho queues while the broker is away)."""

    def __init__(self, port: int, spaces: list[str]) -> None:
        self.spaces = spaces
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="flood", protocol=mqtt.MQTTv5)
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(2_000)
        self.client.reconnect_delay_set(0.1, 1)  # type: ignore[arg-type]
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()
        self.sent = 0
        self._extra = 0  # readings of bursts still to send
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-flood")
        self._thread.start()

    def _run(self) -> None:
        start = time.monotonic()
        burst = 0
        while not self._stop.wait(0.01):
            burst += self._extra
            self._extra = 0
            due = int((time.monotonic() - start) * RATE) + burst
            while self.sent < due:
                topic = self.spaces[self.sent % len(self.spaces)]
                payload = json.dumps({"occupied": self.sent % 2 == 0, "ts": int(time.time() * 1000)})
                if self.client.publish(topic, payload.encode(), qos=1).rc != mqtt.MQTT_ERR_SUCCESS:
                    break  # paho's queue is full (the broker is away): try again in a moment
                self.sent += 1

    def burst(self, count: int) -> None:
        self._extra += count

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.client.disconnect()
        self.client.loop_stop()


class Alerts:
    """Listens to the alert events and opens the cabinet, on a connection of its own."""

    def __init__(self, port: int) -> None:
        self.events: queue.Queue[dict[str, object]] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cabinet", protocol=mqtt.MQTTv5)
        self.client.on_message = lambda _c, _u, m: self.events.put(json.loads(m.payload))
        self.client.on_connect = lambda c, *_a: c.subscribe("louyu/alerts/#", qos=1)
        self.client.reconnect_delay_set(0.1, 1)  # type: ignore[arg-type]
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def cabinet(self, topic: str, opened: bool) -> None:
        payload = json.dumps({"state": "ready", "cabinet_open": opened, "ts": int(time.time() * 1000)})
        self.client.publish(topic, payload.encode(), qos=1)

    def wait(self, event: str, timeout: float) -> float | None:
        """Seconds until the cabinet alert's `event` arrives, or None."""
        start = time.monotonic()
        deadline = start + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                body = self.events.get(timeout=left)
            except queue.Empty:
                return None
            alert = body.get("alert")
            if (
                body.get("event") == event
                and isinstance(alert, dict)
                and alert.get("rule") == "aed-cabinet-open"
            ):
                return time.monotonic() - start
        return None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def caught_up(runner: RulesRunner, flood: Flood, timeout: float = 60.0) -> None:
    """Wait until the engine has taken as many messages as the flood has sent, less a second's."""
    deadline = time.monotonic() + timeout
    while sum(runner.engine.intake.outcomes.values()) < flood.sent - RATE:
        assert time.monotonic() < deadline, "the engine did not catch up with the readings"
        time.sleep(0.2)


@pytest.fixture
def registry() -> Registry:
    """The shipped Darong registry: 600 parking spaces and an AED in each of 17 towers."""
    return Registry.load()


@pytest.fixture
def flood_and_alerts(mosquitto: Mosquitto, registry: Registry) -> Iterator[tuple[Flood, Alerts]]:
    spaces = [
        f"louyu/{d.building}/{d.kind}/{d.device}" for d in registry.devices() if d.kind == "parking_space"
    ]
    alerts = Alerts(mosquitto.port)
    flood = Flood(mosquitto.port, spaces)
    yield flood, alerts
    flood.close()
    alerts.close()


def test_every_cabinet_opening_alerts_through_broker_restarts_under_load(
    mosquitto: Mosquitto, tmp_path: Path, registry: Registry, flood_and_alerts: tuple[Flood, Alerts]
) -> None:
    flood, alerts = flood_and_alerts
    settings = Settings(mqtt_url=mosquitto.url, database_url=f"sqlite:///{tmp_path}/louyu.db")
    # A cabinet of another building each time: one cabinet opened and closed this often would be
    # taken as flapping and kept open (rules.yaml, `flapping`).
    cabinets = [f"louyu/{d.building}/aed/{d.device}" for d in registry.devices() if d.kind == "aed"]
    assert len(cabinets) >= RESTARTS
    runner = build(settings, registry)
    runner.start()
    try:
        took: list[tuple[str, float | None]] = []
        for restart, cabinet in zip(range(RESTARTS), cabinets, strict=False):
            # A gateway's burst: the engine, behind, reads and acknowledges as fast as it can
            # when the broker goes.
            flood.burst(BURST)
            time.sleep(1.0)
            mosquitto.stop()
            mosquitto.start()
            time.sleep(0.5)
            alerts.cabinet(cabinet, True)
            took.append((f"raised after restart {restart + 1}", alerts.wait("raised", WAIT_S)))
            alerts.cabinet(cabinet, False)
            took.append((f"resolved after restart {restart + 1}", alerts.wait("resolved", WAIT_S)))
            if took[-1][1] is None or took[-2][1] is None:
                break
            # Caught up before the next burst, so that a slow machine does not carry one restart's
            # backlog into the next: each restart strikes an engine working through one burst.
            caught_up(runner, flood)
        missing = [what for what, seconds in took if seconds is None]
        assert not missing, f"no alert event within {WAIT_S} s: {missing}; all: {took}"
        assert flood.sent > 0
        assert runner.engine.intake.outcomes["accepted"] > 0
    finally:
        runner.stop()
