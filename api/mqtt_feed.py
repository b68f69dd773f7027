"""The API's own MQTT subscription: telemetry into the latest-state table, alert events into
a wake-up for the event streams.

A clean, non-persistent session: the API needs the present, not a backlog, and must never
make the broker queue messages for it while it is down. paho reconnects by itself; the
readiness check reports whether we are connected right now.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.enums import CallbackAPIVersion

from collector.latest import LatestState
from collector.models import Rejection
from collector.parsing import parse

log = structlog.get_logger("louyu.api.mqtt")

TELEMETRY_TOPICS = ("louyu/+/+/+", "louyu/+/+/+/availability")
ALERT_TOPIC = "louyu/alerts/#"
ALERT_PREFIX = "louyu/alerts/"


@dataclass(frozen=True, slots=True)
class MqttConfig:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    client_id: str = "louyu-api"
    keepalive_s: int = 30
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls_insecure: bool = False


class MqttFeed:
    def __init__(self, config: MqttConfig, table: LatestState, on_alert_event: Callable[[], None]) -> None:
        self.config = config
        self.table = table
        self.on_alert_event = on_alert_event
        self.connected = False
        self.messages = 0
        self.rejected = 0
        self._client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            clean_session=True,
            protocol=mqtt.MQTTv311,
        )
        if config.username:
            self._client.username_pw_set(config.username, config.password)
        if config.tls:
            self._client.tls_set(
                ca_certs=str(config.ca_file) if config.ca_file else None,
                certfile=str(config.cert_file) if config.cert_file else None,
                keyfile=str(config.key_file) if config.key_file else None,
                cert_reqs=ssl.CERT_NONE if config.tls_insecure else ssl.CERT_REQUIRED,
            )
            self._client.tls_insecure_set(config.tls_insecure)
        self._client.reconnect_delay_set(min_delay=1, max_delay=10)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message

    @property
    def client(self) -> mqtt.Client:
        """The connection, for publishing alert events of this process's own acks and resolves."""
        return self._client

    def start(self) -> None:
        # connect_async: a broker that is down at start-up must not stop the API from serving.
        self._client.connect_async(self.config.host, self.config.port, self.config.keepalive_s)
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
        log.info("mqtt_connected", host=self.config.host, port=self.config.port)
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
