"""Small real clients for tests and benchmarks: publish over MQTT, query InfluxDB."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def publish_all(
    port: int,
    messages: Iterable[tuple[str, bytes]],
    qos: int = 1,
    client_id: str = "",
    host: str = "127.0.0.1",
    max_inflight: int = 1000,
    timeout: float = 120.0,
    username: str | None = None,
    password: str | None = None,
    tls_ca: str | None = None,
) -> int:
    """Publish every message and wait until the broker has acknowledged all of them."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if username:
        client.username_pw_set(username, password)
    if tls_ca:
        client.tls_set(ca_certs=tls_ca)
    client.max_inflight_messages_set(max_inflight)
    # Bound the client's own queue: paho cannot hold more than 65,535 unacknowledged messages.
    client.max_queued_messages_set(20_000)
    client.connect(host, port)
    client.loop_start()
    infos = []
    count = 0
    try:
        for topic, payload in messages:
            while True:
                info = client.publish(topic, payload, qos=qos)
                if info.rc == mqtt.MQTT_ERR_SUCCESS:
                    break
                if info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
                    raise RuntimeError(f"publish failed: {mqtt.error_string(info.rc)}")
                time.sleep(0.001)
            infos.append(info)
            count += 1
            if len(infos) >= 10_000:
                for pending in infos:
                    pending.wait_for_publish(timeout)
                infos.clear()
        for pending in infos:
            pending.wait_for_publish(timeout)
    finally:
        client.disconnect()
        client.loop_stop()
    return count


class Subscriber:
    """Collects messages on a topic filter in a background paho thread."""

    def __init__(self, port: int, topic: str, qos: int = 1, host: str = "127.0.0.1") -> None:
        self.messages: list[tuple[str, bytes, float]] = []
        self._cond = threading.Condition()
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos)
        self.client.connect(host, port)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise TimeoutError("subscription not confirmed")

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((message.topic, bytes(message.payload), time.monotonic()))
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, bytes, float]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def influx_query(
    url: str, query: str, db: str = "louyu", token: str | None = None, timeout: float = 30
) -> list[dict[str, Any]]:
    """Run InfluxQL through `/query` and return the series of the first statement."""
    params = urllib.parse.urlencode({"db": db, "q": query, "epoch": "ms"})
    request = urllib.request.Request(f"{url}/query?{params}")
    if token:
        request.add_header("Authorization", f"Token {token}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = json.loads(response.read())
    result = body["results"][0]
    if "error" in result:
        raise RuntimeError(result["error"])
    series: list[dict[str, Any]] = result.get("series", [])
    return series


def influx_count(
    url: str, measurement: str, field: str, where: str = "", db: str = "louyu", timeout: float = 30
) -> int:
    """count(field) over all time; 0 when the measurement does not exist yet."""
    clause = f" WHERE {where}" if where else ""
    try:
        series = influx_query(
            url, f'SELECT count("{field}") FROM "{measurement}"{clause}', db, timeout=timeout
        )
    except RuntimeError as error:
        if "database not found" in str(error):
            return 0
        raise
    return int(series[0]["values"][0][1]) if series else 0
