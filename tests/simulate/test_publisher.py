"""The simulator against a real mosquitto: what a subscriber receives is what was promised."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from collector.area_clock import wall_ms
from collector.broker import BrokerTarget
from collector.models import Availability, Reading
from collector.parsing import parse
from collector.registry import Registry
from louyu.simulate.publisher import Simulator
from louyu.testing.services import Mosquitto, free_port

pytestmark = pytest.mark.integration


class Subscriber:
    """Collects every message under `louyu/#` (retained ones included)."""

    def __init__(self, port: int, topic: str = "louyu/#") -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, m, r, p: self.ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def data(self) -> list[tuple[str, bytes]]:
        with self.lock:
            return [(t, p) for t, p, _ in self.messages if not t.endswith("/availability")]

    def availability(self) -> list[tuple[str, bytes, bool]]:
        with self.lock:
            return [m for m in self.messages if m[0].endswith("/availability")]

    def wait_for(self, count: int, timeout: float = 20) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.data()) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)  # and nothing more arrives
        return self.data()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber(mosquitto: Mosquitto) -> Iterator[Subscriber]:
    sub = Subscriber(mosquitto.port)
    yield sub
    sub.close()


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load(None)


def test_rate_mode_delivers_exactly_count_valid_messages_of_every_kind(
    mosquitto: Mosquitto, subscriber: Subscriber, registry: Registry
) -> None:
    simulator = Simulator(
        BrokerTarget("127.0.0.1", mosquitto.port), registry=registry, rate=1_000_000, count=5_000
    )
    simulator.start()
    try:
        assert simulator.wait(30)
    finally:
        simulator.stop()
    received = subscriber.wait_for(5_000)
    assert len(received) == 5_000
    kinds = set()
    now = wall_ms()
    for topic, payload in received:
        result = parse(topic, payload, now)
        assert isinstance(result, Reading), (topic, payload, result)
        kinds.add(result.kind)
    assert kinds == {"parking_space", "parking_lot", "aed", "canteen"}
    online = [m for m in subscriber.availability() if m[1] == b"online"]
    assert len(online) == 625
    snap = simulator.stats.snapshot()
    assert snap.errors == 0
    assert snap.acked == snap.sent == 5_000 + 625 + 2  # and the simulator's own status, online then offline


def test_rate_mode_paces_itself(mosquitto: Mosquitto, subscriber: Subscriber, registry: Registry) -> None:
    simulator = Simulator(
        BrokerTarget("127.0.0.1", mosquitto.port),
        registry=registry,
        rate=500,
        duration_s=2.0,
        availability=False,
    )
    started = time.monotonic()
    simulator.start()
    try:
        assert simulator.wait(10)
    finally:
        simulator.stop()
    assert time.monotonic() - started >= 2.0
    received = subscriber.wait_for(10**9, timeout=1)
    assert 850 <= len(received) <= 1050


def test_day_mode_reports_every_device_then_a_cabinet_opens(
    mosquitto: Mosquitto, subscriber: Subscriber, registry: Registry
) -> None:
    simulator = Simulator(
        BrokerTarget("127.0.0.1", mosquitto.port),
        registry=registry,
        speed=60,
        scenarios=["aed-cabinet-open@1s"],
        scenario_scale=0.005,  # open for 0.2 s, in use for 2.4 s
        duration_s=5.0,
    )
    simulator.start()
    try:
        assert simulator.wait(15)
    finally:
        simulator.stop()
    received = subscriber.wait_for(10**9, timeout=1)
    now = wall_ms()
    devices = set()
    for topic, payload in received:
        result = parse(topic, payload, now)
        assert isinstance(result, Reading), (topic, payload, result)
        devices.add(str(result.key))
    assert len(devices) == 625
    aed = [orjson.loads(p) for t, p in received if t == "louyu/darong-b/aed/aed-b-1f-lobby"]
    steps = [(m["state"], m["cabinet_open"]) for m in aed]
    opened = steps.index(("ready", True))
    in_use = steps.index(("in_use", True))
    assert 0 < opened < in_use < steps.index(("ready", False), in_use)
    availability = {t: p for t, p, retained in subscriber.availability()}
    assert len(availability) == 625 and set(availability.values()) == {b"online"}


def test_sensor_outage_publishes_retained_offline(
    mosquitto: Mosquitto, subscriber: Subscriber, registry: Registry
) -> None:
    simulator = Simulator(
        BrokerTarget("127.0.0.1", mosquitto.port),
        registry=registry,
        scenarios=["sensor-outage"],
        scenario_at_s=0.5,
        duration_s=2.0,
    )
    simulator.start()
    try:
        assert simulator.wait(15)
    finally:
        simulator.stop()
    subscriber.wait_for(10**9, timeout=0.5)
    late = Subscriber(mosquitto.port, "louyu/+/+/+/availability")  # sees what is retained
    try:
        deadline = time.monotonic() + 5
        while len(late.availability()) < 625 and time.monotonic() < deadline:
            time.sleep(0.05)
        retained = {t: p for t, p, flag in late.availability() if flag}
    finally:
        late.close()
    offline = {t for t, p in retained.items() if p == b"offline"}
    assert len(retained) == 625 and len(offline) == 13
    assert "louyu/darong-q/aed/aed-q-1f-lobby/availability" in offline
    for topic in offline:
        result = parse(topic, b"offline", wall_ms())
        assert isinstance(result, Availability) and not result.online


def test_window_follows_the_brokers_receive_maximum(tmp_path: Path, registry: Registry) -> None:
    broker = Mosquitto(tmp_path / "strict", extra={"max_inflight_messages": "20"})
    broker.start()
    try:
        sub = Subscriber(broker.port)
        simulator = Simulator(
            BrokerTarget("127.0.0.1", broker.port),
            registry=registry,
            rate=1_000_000,
            count=3_000,
            availability=False,
        )
        simulator.start()
        try:
            assert simulator.wait(30)
        finally:
            simulator.stop()
        assert simulator.publisher.window == 20
        assert len(sub.wait_for(3_000)) == 3_000
        sub.close()
    finally:
        broker.kill()


def test_starts_before_the_broker_and_delivers_once_it_is_up(tmp_path: Path, registry: Registry) -> None:
    port = free_port()
    simulator = Simulator(
        BrokerTarget("127.0.0.1", port), registry=registry, rate=1_000_000, count=1_000, availability=False
    )
    simulator.start()
    broker = Mosquitto(tmp_path / "late", port=port)
    try:
        time.sleep(1.0)
        assert not simulator.done.is_set()
        assert simulator.stats.snapshot().sent == 0
        broker.start()
        sub = Subscriber(port)
        try:
            assert simulator.wait(30)
            assert len(sub.wait_for(1_000)) == 1_000
        finally:
            sub.close()
    finally:
        simulator.stop()
        broker.kill()


def test_stop_ends_a_run_without_a_broker_quickly(registry: Registry) -> None:
    simulator = Simulator(BrokerTarget("127.0.0.1", free_port()), registry=registry, speed=60)
    simulator.start()
    time.sleep(0.3)
    started = time.monotonic()
    simulator.stop()
    assert time.monotonic() - started < 5
    assert simulator.done.is_set()


def test_in_flight_never_exceeds_the_window(mosquitto: Mosquitto, registry: Registry) -> None:
    simulator = Simulator(
        BrokerTarget("127.0.0.1", mosquitto.port),
        registry=registry,
        rate=1_000_000,
        count=20_000,
        window=64,
        availability=False,
    )
    highest = 0
    simulator.start()
    try:
        while not simulator.done.is_set():
            highest = max(highest, simulator.stats.pending())
            client_queue = len(simulator.publisher.client._out_messages)
            assert client_queue <= 64 + 2
            # Sample, do not spin: a loop without a pause holds the GIL against the publisher and
            # its network thread, and stretched this test to two minutes.
            time.sleep(0.0005)
        assert simulator.wait(30)
    finally:
        simulator.stop()
    snap = simulator.stats.snapshot()
    assert 0 < highest <= 64 + 1  # the window, and the simulator's own status message
    assert snap.waits > 0, "it had to wait for acknowledgements"
    assert snap.acked == snap.sent and snap.errors == 0


def test_tls_with_the_brokers_certificate(tmp_path: Path, registry: Registry) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "broker.crt", tmp_path / "broker.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    key.chmod(0o644)  # mosquitto drops privileges before reading it
    broker = Mosquitto(tmp_path / "tls", extra_lines=[f"certfile {cert}", f"keyfile {key}"])
    broker.start()
    try:
        simulator = Simulator(
            BrokerTarget("127.0.0.1", broker.port, tls=True, ca_file=cert),
            registry=registry,
            rate=1_000_000,
            count=500,
            availability=False,
        )
        simulator.start()
        try:
            assert simulator.wait(30)
        finally:
            simulator.stop()
        snap = simulator.stats.snapshot()
        assert snap.acked == snap.sent == 502 and snap.errors == 0
    finally:
        broker.kill()
