"""From an AED cabinet sensor message to the patrol handset: latency through the whole alert path.

    sensor --MQTT--> mosquitto --> rules engine --> alert store + alert event (MQTT)
           --> notifier (outbox read, routing, delivery row) --MQTT QoS 1--> patrol handset

A real mosquitto, the rules engine as `louyu rules` builds it, and the notifier on a SQLite file.
Each trial opens a cabinet (`cabinet_open: true`), waits for the handset to hear of the alert, then
closes it and waits for the `resolved` notice, so the next trial starts clean. The target: p99 under
200 ms over at least 200 trials.

    python -m bench.notify_latency [TRIALS]
"""

from __future__ import annotations

import json
import queue
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from collector.registry import Registry
from louyu.commands.rules import build as build_rules
from louyu.logs import configure_logging
from louyu.settings import get_settings
from louyu.testing.services import Mosquitto
from rules.database import make_engine
from rules.notify.config import parse_routing
from rules.notify.service import MqttOptions, NotifierService

TARGET_MS = 200.0
# Only the rule under test, with flapping detection out of the way: the bench opens and closes the
# same cabinets far faster than any real one, which the default rules would rightly call flapping.
RULES = """
version: 1
defaults:
  flapping: {changes: 1000000, window: 1m, settle: 1s}
  escalate_after: {}
rules:
  - id: aed-cabinet-open
    severity: critical
    match: {kinds: [aed]}
    when: {field: cabinet_open, op: eq, value: true}
    summary: "AED cabinet opened: {location}"
"""
ROUTES = """
receivers:
  - {name: patrol, mqtt: {}}
routes:
  - {match: {rule: aed-cabinet-open}, receivers: [patrol], events: [raised, resolved]}
"""


@dataclass
class Heard:
    at: float
    message: dict[str, Any]


class Handset:
    def __init__(self, port: int) -> None:
        self.heard: queue.Queue[Heard] = queue.Queue()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-handset")
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self.ready.wait(10):
            raise RuntimeError("handset did not subscribe")

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe("louyu/notify/patrol", qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.heard.put(Heard(time.perf_counter(), json.loads(message.payload)))

    def wait(self, device: str, event: str, timeout: float = 5.0) -> Heard:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"handset heard no {event} for {device}")
            heard = self.heard.get(timeout=left)
            if heard.message["alert"]["device"] == device and heard.message["event"] == event:
                return heard

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def measure(trials: int, workdir: Path, broker_nodelay: bool = False) -> tuple[list[float], dict[str, Any]]:
    """Run the trials; returns the latencies (ms) and the last handset message.

    `broker_nodelay` sets mosquitto's `set_tcp_nodelay true`: without it the broker holds a small
    packet while its previous one awaits the client's delayed ACK (Nagle), up to ~40 ms a hop."""
    broker = Mosquitto(
        workdir / "mosquitto", extra={"set_tcp_nodelay": "true" if broker_nodelay else "false"}
    )
    broker.start()
    rules_file = workdir / "rules.yaml"
    rules_file.write_text(RULES)
    db_url = f"sqlite:///{workdir / 'louyu.db'}"
    registry = Registry.load()
    settings = get_settings(mqtt_url=broker.url, database_url=db_url, rules_file=rules_file)
    rules = build_rules(settings, registry)
    notifier = NotifierService(
        parse_routing(ROUTES), registry, make_engine(db_url), MqttOptions("127.0.0.1", broker.port)
    )
    handset: Handset | None = None
    sensor = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-sensor")
    latencies: list[float] = []
    last: dict[str, Any] = {}
    try:
        rules.start()
        notifier.start()
        if not notifier.connected.wait(10):
            raise RuntimeError("notifier did not connect")
        handset = Handset(broker.port)
        sensor.connect("127.0.0.1", broker.port)
        sensor.loop_start()
        aeds = [d for d in registry.devices("aed")]
        for trial in range(trials):
            aed = aeds[trial % len(aeds)]
            topic = f"louyu/{aed.building}/aed/{aed.device}"
            sent = time.perf_counter()
            sensor.publish(topic, json.dumps({"state": "ready", "cabinet_open": True}), qos=1)
            heard = handset.wait(aed.device, "raised")
            latencies.append((heard.at - sent) * 1000)
            last = heard.message
            sensor.publish(topic, json.dumps({"state": "ready", "cabinet_open": False}), qos=1)
            handset.wait(aed.device, "resolved")
    finally:
        sensor.disconnect()
        sensor.loop_stop()
        if handset is not None:
            handset.close()
        notifier.stop()
        rules.stop()
        broker.stop()
    return latencies, last


def report(name: str, latencies: list[float]) -> None:
    p99 = percentile(latencies, 99)
    verdict = "met" if p99 < TARGET_MS else "MISSED"
    print(f"  {name}")
    print(
        f"    p50 {percentile(latencies, 50):6.1f} ms   p90 {percentile(latencies, 90):6.1f} ms   "
        f"p99 {p99:6.1f} ms   max {max(latencies):6.1f} ms   mean {statistics.fmean(latencies):6.1f} ms"
    )
    print(f"    target p99 < {TARGET_MS:.0f} ms: {verdict}")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    trials = int(args[0]) if args else 200
    configure_logging("WARNING")
    results = {}
    last: dict[str, Any] = {}
    for nodelay in (False, True):
        with tempfile.TemporaryDirectory(prefix="louyu-bench-") as tmp:
            results[nodelay], last = measure(trials, Path(tmp), broker_nodelay=nodelay)
    print(f"notify latency: AED cabinet sensor message -> patrol handset, {trials} trials each")
    report("mosquitto defaults", results[False])
    report("mosquitto set_tcp_nodelay true", results[True])
    ratio = percentile(results[False], 50) / max(0.001, percentile(results[True], 50))
    print(f"  p50 ratio defaults / nodelay: {ratio:.1f}x")
    print(f"  the handset heard: {last.get('title', {}).get('zh')}")


if __name__ == "__main__":
    main()
