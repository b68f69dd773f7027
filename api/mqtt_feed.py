"""The API's own MQTT subscription: telemetry into the latest-state table, alert events into
a wake-up for the event streams.

A clean, non-persistent session: the API needs the present, not a backlog, and must never
make the broker queue messages for it while it is down. paho reconnects by itself; the
readiness check reports whether we are connected right now.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
import structlog

from collector.broker import BrokerTarget, connect_async, make_client
from collector.latest import LatestState
from collector.models import Rejection
from collector.parsing import parse

log = structlog.get_logger("louyu.api.mqtt")

TELEMETRY_TOPICS = ("louyu/+/+/+", "louyu/+/+/+/availability")
ALERT_TOPIC = "louyu/alerts/#"
ALERT_PREFIX = "louyu/alerts/"


class MqttFeed:
    def __init__(
        self,
        target: BrokerTarget,
        table: LatestState,
        on_alert_event: Callable[[], None],
        client_id: str | None = None,
    ) -> None:
        self.target = target
        self.table = table
        self.on_alert_event = on_alert_event
        self.connected = False
        self.messages = 0
        self.rejected = 0
        # Unique per process by default: two API processes on one broker must not take each
        # other's connection over.
        self.client_id = client_id or f"louyu-api-{os.getpid()}-{secrets.token_hex(3)}"
        self._client = make_client(target, self.client_id, reconnect_max_s=10, loop_name="louyu-api-mqtt")
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    @property
    def client(self) -> mqtt.Client:
        """The connection, for publishing alert events of this process's own acks and resolves."""
        return self._client

    def start(self) -> None:
        # connect_async: a broker that is down at start-up must not stop the API from serving.
        connect_async(self._client, self.target)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self.connected = False

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.warning("mqtt_connect_refused", reason=str(reason))
            return
        self.connected = True
        client.subscribe([(topic, 0) for topic in (*TELEMETRY_TOPICS, ALERT_TOPIC)])
        log.info("mqtt_connected", broker=repr(self.target))
        # Events may have happened while we were away: let the streams look.
        self.on_alert_event()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if self.connected:
            log.warning("mqtt_disconnected", reason=str(reason))
        self.connected = False

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        # Never let one message take paho's thread down.
        try:
            topic = message.topic
            if topic.startswith(ALERT_PREFIX):
                self.on_alert_event()
                return
            result = parse(topic, bytes(message.payload), int(time.time() * 1000))
            if isinstance(result, Rejection):
                self.rejected += 1
                return
            self.messages += 1
            self.table.apply(result)
        except Exception:
            log.exception("mqtt_message_failed", topic=message.topic[:200])
