"""Where alert events go once stored: MQTT `louyu/alerts/{building}/{severity}/{rule}`, QoS 1.

`EventPublisher` is the seam: the engine and `AlertService` publish through it; tests use
`MemoryPublisher`, processes without a broker `NullPublisher`.
"""

from __future__ import annotations

import threading
from typing import Protocol

import orjson
import paho.mqtt.client as mqtt
import structlog

from rules.records import EventRecord

log = structlog.get_logger("louyu.rules.publisher")


class EventPublisher(Protocol):
    def publish(self, event: EventRecord) -> None:
        """Send one stored event on. Must not raise for a broker that is away."""


def event_payload(event: EventRecord) -> bytes:
    return orjson.dumps(event.to_json())


class MqttEventPublisher:
    """Publishes on a paho client that someone else connects and runs (the engine's, or one of its own).

    paho queues QoS 1 messages while disconnected and sends them after reconnecting, so an
    event raised during a broker outage still arrives (with the session's limits).
    """

    def __init__(self, client: mqtt.Client) -> None:
        self.client = client

    def publish(self, event: EventRecord) -> None:
        info = self.client.publish(event.topic, event_payload(event), qos=1, retain=False)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("alert event not queued", event_id=event.id, topic=event.topic, rc=info.rc)


class MemoryPublisher:
    """Keeps what was published, in order: for tests and for in-process consumers."""

    def __init__(self) -> None:
        self.events: list[EventRecord] = []
        self._lock = threading.Lock()

    def publish(self, event: EventRecord) -> None:
        with self._lock:
            self.events.append(event)

    def kinds(self) -> list[str]:
        with self._lock:
            return [e.event for e in self.events]


class NullPublisher:
    def publish(self, event: EventRecord) -> None:
        return None
