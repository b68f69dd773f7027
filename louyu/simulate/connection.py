"""The broker connection: a paho MQTT v5 client that publishes inside a bounded window.

paho keeps every unacknowledged QoS 1/2 message in memory and numbers them with 16-bit
message ids, so a publisher that never waits would grow without bound and, past 65,535
messages in flight, have `publish()` refused. `MqttPublisher` therefore holds a window: it
waits while `window` messages are unacknowledged, and waits again whenever paho answers
MQTT_ERR_QUEUE_SIZE. Messages published while the broker is away stay queued in paho (QoS
1/2) and go out on reconnection, still inside the window.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Final

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from collector.broker import BrokerTarget, connect_async, make_client
from louyu.simulate.progress import Stats

log = logging.getLogger("louyu.simulate")

DEFAULT_WINDOW: Final = 1_000
MAX_WINDOW: Final = 60_000  # below paho's 65,535 message ids


class MqttPublisher:
    """One MQTT connection that publishes with a bounded in-flight window and counts what happens."""

    def __init__(
        self,
        broker: BrokerTarget,
        client_id: str = "louyu-simulate",
        qos: int = 1,
        window: int = DEFAULT_WINDOW,
        stats: Stats | None = None,
    ) -> None:
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        self.broker, self.host, self.port, self.qos = broker, broker.host, broker.port, qos
        self.window = max(1, min(window, MAX_WINDOW))
        self.stats = stats or Stats()
        self.status_topic = f"louyu-simulate/{client_id}/availability"
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._connected = threading.Event()
        # Not a daemon: the last readings go out before the process ends.
        client = make_client(
            broker, client_id, reconnect_max_s=15, loop_name="louyu-simulate-mqtt", loop_daemon=False
        )
        # The window is ours, not paho's in-flight limit: with a limit set, paho rescans every
        # unacknowledged message on each PUBACK (1,700 msg/s at 10,000 in flight, against
        # 18,000 msg/s here on loopback). Its queue limit stays as a hard backstop: beyond it
        # publish() answers MQTT_ERR_QUEUE_SIZE and we wait.
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(self.window + 16)  # room for the status messages
        # If this process dies, the broker says so for it (the devices keep their own state).
        client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        # A fault in a callback must never end paho's network thread (ours log their own).
        client.suppress_exceptions = True
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self.client = client

    # -- paho callbacks (network thread) ----------------------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, props: Properties | None
    ) -> None:
        try:
            self._connected_to_broker(client, reason, props)
        except Exception:
            log.exception("on_connect failed")

    def _connected_to_broker(
        self, client: mqtt.Client, reason: ReasonCode, properties: Properties | None
    ) -> None:
        if reason.is_failure:
            log.warning("broker %s:%s refused the connection: %s", self.host, self.port, reason)
            return
        receive_max = getattr(properties, "ReceiveMaximum", None)
        if isinstance(receive_max, int) and 0 < receive_max < self.window:
            # The broker takes no more than this many unacknowledged messages from us (MQTT 5
            # Receive Maximum; mosquitto says 20 unless configured otherwise).
            with self._cond:
                self.window = receive_max
            log.info("broker accepts %d messages in flight; window narrowed to it", receive_max)
        self.stats.add_sent()
        client.publish(self.status_topic, b"online", qos=1, retain=True)
        self.stats.connected = True
        self._connected.set()
        log.info("connected to %s:%s", self.host, self.port)

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Properties | None
    ) -> None:
        self.stats.connected = False
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning("connection to %s:%s lost (%s); reconnecting", self.host, self.port, reason)

    def _on_publish(
        self, client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, properties: Properties | None
    ) -> None:
        # Reason 0x10 "no matching subscribers" is a success for QoS 1.
        self.stats.add_acked(not reason.is_failure)
        with self._cond:
            self._cond.notify()

    # -- the caller's side ---------------------------------------------------------------------

    def start(self) -> None:
        connect_async(self.client, self.broker)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def publish(
        self, topic: str, payload: bytes, retain: bool = False, cancel: Callable[[], bool] | None = None
    ) -> bool:
        """Hand one message to paho, waiting while the window is full.

        False if paho refused it, or if `cancel()` turned true (or the publisher stopped) while
        waiting for room.
        """

        def cancelled() -> bool:
            return self._stopping.is_set() or (cancel is not None and cancel())

        while True:
            with self._cond:
                while self.stats.pending() >= self.window:
                    if cancelled():
                        return False
                    self.stats.add_wait()
                    self._cond.wait(0.2)
            # Never call paho while holding our lock: its network thread holds its own lock
            # when it calls `_on_publish`, which takes ours.
            try:
                info = self.client.publish(topic, payload, qos=self.qos, retain=retain)
            except ValueError:  # a topic or payload paho refuses outright
                self.stats.add_error()
                return False
            if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
                self.stats.add_wait()
                with self._cond:
                    self._cond.wait(0.05)
                if cancelled():
                    return False
                continue
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (
                info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and self.qos > 0  # queued for reconnection
            ):
                self.stats.add_sent()
                return True
            self.stats.add_error()
            return False

    def drain(self, timeout: float) -> bool:
        """Wait until every message handed over is acknowledged (or written, at QoS 0)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.stats.pending() > 0:
                left = deadline - time.monotonic()
                if left <= 0 or not self._connected.is_set():
                    return False
                self._cond.wait(min(left, 0.2))
        return True

    def stop(self, drain_s: float = 5.0) -> None:
        """Say goodbye on the status topic, wait a little for acknowledgements, disconnect, join."""
        if self._connected.is_set():
            self.stats.add_sent()
            self.client.publish(self.status_topic, b"offline", qos=1, retain=True)
            self.drain(drain_s)
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        self.client.disconnect()
        self.client.loop_stop()
        self.stats.connected = False
        self.stats.closed = True
