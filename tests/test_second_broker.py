"""A second broker implementation: RabbitMQ's MQTT plugin (3.10, MQTT 3.1.1 only), default settings.

With nothing but the broker's URL set, every part negotiates: its MQTT 5 CONNECT is dropped by
RabbitMQ, the next attempt speaks 3.1.1 and works, and the process says so once, with why. Then
the whole path runs for real on 3.1.1: the simulator publishes, the collector stores every reading
in a real influxd, the rules engine raises the AED alert, the API feed hears the alert event; and
the collector's session (clean session off, what replaces MQTT 5's session expiry) keeps the QoS 1
backlog published while it was stopped.
"""

from __future__ import annotations

import contextlib
import gc
import json
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import structlog
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry

from api.mqtt_feed import MqttFeed
from collector.latest import LatestState
from collector.negotiation import ANSWER_S, negotiated
from collector.registry import Registry
from collector.service import Collector
from louyu.commands import collector as collector_cmd
from louyu.commands import notifier as notifier_cmd
from louyu.commands import rules as rules_cmd
from louyu.settings import Settings
from louyu.simulate.connection import MqttPublisher
from louyu.testing.clients import influx_count, influx_query
from louyu.testing.rabbitmq import RabbitMq
from louyu.testing.services import Influxd, Mosquitto, ServiceError, free_port

pytestmark = pytest.mark.integration

NEGOTIATED = "mqtt protocol negotiated"
READINGS = 100
AED_TOPIC = "louyu/darong-b/aed/aed-b-1f-lobby"
ROUTING = "receivers: [{name: patrol, mqtt: {}}]\nroutes: [{receivers: [patrol]}]\n"


@dataclass
class Site:
    rabbitmq: RabbitMq
    influxd: Influxd
    started_s: float  # RabbitMQ's start-up, for the report


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("second-broker")
    try:
        rabbitmq = RabbitMq(root / "rabbitmq")
    except ServiceError as error:
        pytest.skip(f"RabbitMQ is not installed (Debian package rabbitmq-server): {error}")
    influxd = Influxd(root / "influxd")
    began = time.monotonic()
    rabbitmq.start()
    started_s = time.monotonic() - began
    influxd.start()
    yield Site(rabbitmq, influxd, started_s)
    influxd.kill()
    rabbitmq.kill()


def default_settings(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """An installation's settings with only where things are: the protocol is left to its default."""
    for name, value in {
        "LOUYU_MQTT_URL": site.rabbitmq.url,
        "LOUYU_INFLUX_URL": site.influxd.url,
        "LOUYU_STATE_DIR": str(tmp_path / "state"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("LOUYU_MQTT_PROTOCOL", raising=False)
    (tmp_path / "state").mkdir(exist_ok=True)
    settings = Settings()
    assert settings.mqtt.protocol == "auto"
    return settings


def wait_for(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def readings(count: int, offset: int = 0) -> list[tuple[str, bytes]]:
    now = int(time.time() * 1000)
    return [
        (
            f"louyu/darong-a/parking_space/b1-{(n + offset) % 300 + 1:03d}",
            json.dumps({"ts": now - 60_000 - (n + offset), "occupied": n % 2 == 0}).encode(),
        )
        for n in range(count)
    ]


class Handset:
    """A patrol handset: a plain MQTT 3.1.1 client on the notifier's topic for the patrol."""

    def __init__(self, port: int) -> None:
        self.heard: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, "handset-rabbitmq", protocol=mqtt.MQTTv311)
        self.client.on_connect = lambda c, *_: c.subscribe("louyu/notify/patrol", qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = lambda _c, _u, m: self.heard.put((time.monotonic(), json.loads(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert subscribed.wait(10), "the handset did not subscribe"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stored(site: Site) -> int:
    return influx_count(site.influxd.url, "parking_space", "occupied")


def publish(publisher: MqttPublisher, messages: list[tuple[str, bytes]]) -> None:
    for topic, payload in messages:
        assert publisher.publish(topic, payload)
    assert wait_for(lambda: publisher.stats.pending() == 0, 30), "the broker did not acknowledge them all"


def test_every_part_works_on_rabbitmq_with_default_settings(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    routes = tmp_path / "routes.yaml"
    routes.write_text(ROUTING)
    monkeypatch.setenv("LOUYU_NOTIFY_FILE", str(routes))
    settings = default_settings(site, tmp_path, monkeypatch)
    registry = Registry.load()
    assert negotiated(settings.broker) is None  # nothing in this process has reached it yet
    alert_events = threading.Event()
    handset = Handset(site.rabbitmq.port)
    with structlog.testing.capture_logs() as logs:
        began = time.monotonic()
        collector = Collector(collector_cmd.build(settings, registry).config, registry, CollectorRegistry())
        runner = rules_cmd.build(settings, registry)
        notifier = notifier_cmd.build(settings, registry)
        feed = MqttFeed(settings.broker, LatestState(registry), alert_events.set)
        publisher = MqttPublisher(settings.broker, client_id="louyu-simulate-rabbitmq")
        try:
            collector.start(wait_s=0)
            feed.start()
            publisher.start()
            notifier.start()
            runner.start(timeout=20)  # returns once subscribed
            assert wait_for(lambda: collector.source.connected and feed.connected, 20), (
                site.rabbitmq.log_tail()
            )
            assert publisher.wait_connected(10) and notifier.connected.wait(10)
            connected_s = time.monotonic() - began
            assert notifier.client is not None
            parts = (collector.source.client, runner.client, notifier.client, feed.client, publisher.client)
            for client in parts:
                assert client.protocol == mqtt.MQTTv311

            publish(publisher, readings(READINGS))
            alert_events.clear()
            opened = time.monotonic()
            publish(publisher, [(AED_TOPIC, json.dumps({"state": "ready", "cabinet_open": True}).encode())])

            heard_at, page = handset.heard.get(timeout=10)
            assert page["event"] == "raised"
            assert page["alert"]["rule"] == "aed-cabinet-open"
            assert wait_for(lambda: stored(site) >= READINGS, 30)
            assert alert_events.wait(10), "the API feed heard no alert event"
            assert wait_for(lambda: feed.messages >= READINGS + 1, 10)
            active = runner.engine.store.open_alerts()
            assert [a.rule for a in active if a.device == "aed-b-1f-lobby"] == ["aed-cabinet-open"]
            before_stop = len(logs)
        finally:
            publisher.stop()
            feed.stop()
            notifier.stop()
            runner.stop()
            collector.stop()
            handset.close()
            gc.collect()
    assert stored(site) == READINGS
    [aed] = influx_query(site.influxd.url, 'SELECT "cabinet_open" FROM "aed"')
    assert aed["values"][0][1] is True

    # Several parts negotiated at once; the process says what it chose, once, with why.
    lines = [entry for entry in logs if entry["event"] == NEGOTIATED]
    assert len(lines) == 1, lines
    [line] = lines
    assert line["protocol"] == "3.1.1" and line["log_level"] == "warning"
    assert line["reason"] == "the broker closed the connection on the MQTT 5 CONNECT"
    assert any("shared subscriptions" in limit for limit in line["unavailable"])
    assert "password" not in json.dumps(line, default=str).lower()
    # Nothing complained while running: the dropped MQTT 5 attempts are the negotiation's, not failures.
    running = logs[:before_stop]
    assert not [e for e in running if "disconnected" in e["event"] or "refused" in e["event"]], running
    print(
        f"\nRabbitMQ start-up {site.started_s:.1f} s; all parts connected over 3.1.1 in {connected_s:.2f} s;"
        f" AED cabinet opened to patrol page {heard_at - opened:.3f} s"
    )


def test_the_collector_session_keeps_what_was_published_while_it_was_away(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MQTT 3.1.1 has no session expiry: clean session off keeps the collector's queue instead."""
    settings = default_settings(site, tmp_path, monkeypatch)
    registry = Registry.load()
    before = stored(site)
    with structlog.testing.capture_logs() as logs:
        collector = Collector(collector_cmd.build(settings, registry).config, registry, CollectorRegistry())
        assert collector.start(wait_s=15)  # the process remembers 3.1.1: no MQTT 5 attempt again
        collector.stop()
        publisher = MqttPublisher(settings.broker, client_id="louyu-simulate-rabbitmq-2")
        publisher.start()
        try:
            assert publisher.wait_connected(10)
            publish(publisher, readings(40, offset=1000))
        finally:
            publisher.stop()
        assert stored(site) == before  # nobody was there to take them
        again = Collector(collector_cmd.build(settings, registry).config, registry, CollectorRegistry())
        try:
            assert again.start(wait_s=15)
            assert wait_for(lambda: stored(site) >= before + 40, 30)
        finally:
            again.stop()
    assert stored(site) == before + 40
    assert not [e for e in logs if e["event"] == NEGOTIATED]


def test_explicit_mqtt_5_is_still_obeyed(site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`LOUYU_MQTT_PROTOCOL=5` means 5: against a 3.1.1-only broker the part stays unconnected."""
    settings = default_settings(site, tmp_path, monkeypatch)
    monkeypatch.setenv("LOUYU_MQTT_PROTOCOL", "5")
    settings = Settings()
    feed = MqttFeed(settings.broker, LatestState(None), lambda: None)
    feed.start()
    try:
        assert not wait_for(lambda: feed.connected, ANSWER_S / 2)
        assert feed.client.protocol == mqtt.MQTTv5
    finally:
        feed.stop()
        gc.collect()


class Mqtt311Front:
    """A loopback front for the broker that does not take MQTT 5 CONNECTs, in one of the ways
    3.1.1-only brokers have: `silent` holds them and never answers (amqtt), `refuse` answers
    with the 3.1.1 CONNACK "unacceptable protocol version" (0x01) as the 3.1.1 specification asks.
    Every other connection goes through to the broker unchanged."""

    def __init__(self, upstream_port: int, mode: str) -> None:
        self.upstream_port = upstream_port
        self.mode = mode
        self.port = free_port()
        self.server = socket.create_server(("127.0.0.1", self.port))
        self.levels: list[int] = []  # the protocol level of each CONNECT, in order
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="test-silent-front", daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.server.accept()
                self.sockets.append(conn)
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            first = self._read_packet(conn)
            level = self._level(first)
            self.levels.append(level)
            if level == 5:
                if self.mode == "refuse":
                    conn.sendall(bytes([0x20, 0x02, 0x00, 0x01]))
                while conn.recv(4096):  # nothing more until the client gives up
                    pass
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self.sockets.append(upstream)
            upstream.sendall(first)
            threading.Thread(target=self._pump, args=(upstream, conn), daemon=True).start()
            self._pump(conn, upstream)

    @staticmethod
    def _read_packet(conn: socket.socket) -> bytes:
        header = conn.recv(1)
        length, shift, encoded = 0, 0, b""
        while True:
            byte = conn.recv(1)
            encoded += byte
            length |= (byte[0] & 0x7F) << shift
            shift += 7
            if not byte[0] & 0x80:
                break
        body = b""
        while len(body) < length:
            body += conn.recv(length - len(body))
        return header + encoded + body

    @staticmethod
    def _level(packet: bytes) -> int:
        # fixed header, remaining length, then the protocol name (2 + 4 bytes) and its level
        index = 1
        while packet[index] & 0x80:
            index += 1
        return packet[index + 1 + 6]

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.server.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.mark.parametrize(
    ("mode", "reason", "window_s"),
    [
        ("silent", f"no answer to the MQTT 5 CONNECT within {ANSWER_S:g} s", ANSWER_S),
        ("refuse", "the broker answered the MQTT 5 CONNECT with 'Unsupported protocol version'", 0.0),
    ],
)
def test_a_broker_that_does_not_take_mqtt_5_is_given_up_on_in_bounded_time(
    mode: str, reason: str, window_s: float, site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    front = Mqtt311Front(site.rabbitmq.port, mode)
    default_settings(site, tmp_path, monkeypatch)
    monkeypatch.setenv("LOUYU_MQTT_URL", f"mqtt://127.0.0.1:{front.port}")
    settings = Settings()
    feed = MqttFeed(settings.broker, LatestState(None), lambda: None)
    try:
        with structlog.testing.capture_logs() as logs:
            began = time.monotonic()
            feed.start()
            assert wait_for(lambda: feed.connected, ANSWER_S + 10), site.rabbitmq.log_tail()
            connected_s = time.monotonic() - began
    finally:
        feed.stop()
        front.close()
        gc.collect()
    assert front.levels[:2] == [5, 4]
    # The answer window (if the broker is silent), paho's reconnect delay (1 s), a 3.1.1 CONNACK.
    assert window_s <= connected_s < window_s + 3, connected_s
    [line] = [entry for entry in logs if entry["event"] == NEGOTIATED]
    assert line["protocol"] == "3.1.1" and line["reason"] == reason
    # The refusal of MQTT 5 was the negotiation's to handle, not the feed's to report.
    assert not [e for e in logs if e["event"] in ("mqtt_connect_refused", "mqtt_disconnected")], logs
    print(f"\n{mode} to MQTT 5: connected over 3.1.1 after {connected_s:.2f} s")


def test_an_mqtt_5_broker_is_spoken_to_in_mqtt_5_and_said_so_once(
    mosquitto: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOUYU_MQTT_URL", mosquitto.url)
    monkeypatch.setenv("LOUYU_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("LOUYU_MQTT_PROTOCOL", raising=False)
    settings = Settings()
    feeds = [MqttFeed(settings.broker, LatestState(None), lambda: None) for _ in range(2)]
    try:
        with structlog.testing.capture_logs() as logs:
            for feed in feeds:
                feed.start()
            assert wait_for(lambda: all(feed.connected for feed in feeds), 10), mosquitto.log_tail()
    finally:
        for feed in feeds:
            feed.stop()
    assert [feed.client.protocol for feed in feeds] == [mqtt.MQTTv5, mqtt.MQTTv5]
    [line] = [entry for entry in logs if entry["event"] == NEGOTIATED]
    assert line["protocol"] == "5" and line["reason"] == "the broker accepted MQTT 5"
    assert line["log_level"] == "info"
