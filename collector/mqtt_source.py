"""The broker connection: connect, reconnect, subscribe, hand messages over, acknowledge.

paho-mqtt 2.x with MQTT 5 by default: a stable client id, clean start off and a session expiry
that outlives a restart, so the broker queues messages while the collector is away (on MQTT
3.1.1, clean session off: the broker keeps the session as long as its own settings say). Acks are
manual: the pipeline sends them once a reading is durable. The broker must let enough
unacknowledged messages be in flight for that (Receive Maximum here, `max_inflight_messages` on
Mosquitto): see docs/operations.md.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from collector.broker import BrokerTarget, connect_async, make_client, speaks_v5

log = structlog.get_logger("louyu.mqtt")

TELEMETRY_TOPICS = ("louyu/+/+/+", "louyu/+/+/+/availability")
MessageHandler = Callable[[str, bytes, int, int], None]


class MqttSource:
    """Subscribes to the telemetry at QoS 1 and passes each message to `on_message` in paho's thread."""

    def __init__(
        self,
        target: BrokerTarget,
        on_message: MessageHandler | None,
        *,
        client_id: str = "louyu-collector",
        topics: Sequence[str] = TELEMETRY_TOPICS,
        shared_group: str | None = None,
        session_expiry_s: int = 7 * 24 * 3600,
        receive_maximum: int = 20_000,
        on_connection_change: Callable[[bool], None] | None = None,
    ) -> None:
        self.target = target
        self.shared_group = shared_group
        self.topics = [f"$share/{shared_group}/{t}" if shared_group else t for t in topics]
        self.session_expiry_s = session_expiry_s
        self.receive_maximum = receive_maximum
        self.handler: MessageHandler | None = on_message
        self._on_connection_change = on_connection_change
        self._subscribed = threading.Event()
        self.connected = False
        self.client = make_client(
            target, client_id, persistent=True, manual_ack=True, loop_name="louyu-collector-mqtt"
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # paho's thread ---------------------------------------------------------------------------

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Runs for every message, so no check: the collector sets the handler before it connects.
        self.handler(message.topic, message.payload, message.mid, message.qos)  # type: ignore[misc, arg-type]

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection", reason=str(reason), broker=repr(self.target))
            return
        self._set_connected(True)
        log.info("connected to broker", broker=repr(self.target), session_present=flags.session_present)
        if flags.session_present:
            # The broker kept our subscriptions; subscribing again would replay retained messages.
            self._subscribed.set()
            return
        v5 = speaks_v5(client)
        if self.shared_group and not v5:
            # Some 3.1.1 brokers (mosquitto) know `$share/`; others (RabbitMQ) take it as a plain
            # filter that no device publishes to, and the collector then receives nothing.
            log.warning(
                "shared subscription over MQTT 3.1.1: the broker may not support it", topics=self.topics
            )
        options = SubscribeOptions(qos=1) if v5 else None
        topics: list[tuple[str, Any]] = [(t, options if options is not None else 1) for t in self.topics]
        client.subscribe(topics)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        failed = [str(r) for r in reasons if r.is_failure]
        if failed:
            log.error("subscription refused", topics=self.topics, reasons=failed)
            return
        self._subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._set_connected(False)
        log.warning("disconnected from broker", reason=str(reason))

    def _set_connected(self, connected: bool) -> None:
        self.connected = connected
        if self._on_connection_change is not None:
            self._on_connection_change(connected)

    # control ----------------------------------------------------------------------------------

    def start(self, wait_s: float = 15.0) -> bool:
        """Connect in the background; True once subscribed (False if not within `wait_s`)."""
        connect_async(
            self.client,
            self.target,
            persistent=True,
            session_expiry_s=self.session_expiry_s,
            receive_maximum=self.receive_maximum,
        )
        self.client.loop_start()
        return self._subscribed.wait(wait_s)

    def ack(self, mids: list[int], qos: int) -> None:
        """Acknowledge these messages, in this order (the order they arrived): one buffer for a
        whole batch (`LoopClient.ack_all`)."""
        self.client.ack_all(mids, qos)

    def stop(self) -> None:
        # A plain DISCONNECT keeps the session (and its queue) on the broker for the expiry interval.
        self.client.disconnect()
        self.client.loop_stop()
        self._set_connected(False)
