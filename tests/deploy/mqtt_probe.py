"""A small synchronous wrapper around a real paho client, for asking a broker what it allows.

Mosquitto does not tell a client much when it refuses: a refused publish is dropped (MQTT 5 may
answer with a PUBACK reason code), a refused subscription delivers nothing (MQTT 5 may answer
with a SUBACK reason code). So every method here waits for the broker's answer and returns it,
and the tests judge delivery by what actually arrives at a subscriber that may read it.
"""

from __future__ import annotations

import queue
import ssl
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

NOT_AUTHORIZED = 0x87  # MQTT 5 reason code 135, on CONNACK, SUBACK and PUBACK


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes


class Probe:
    def __init__(
        self,
        port: int,
        username: str | None,
        password: str | None,
        client_id: str | None = None,
        clean_start: bool = True,
        session_expiry_s: int = 0,
        tls_ca: str | None = None,
    ) -> None:
        self.port = port
        self.username = username
        # plain: default session settings, so one of the account's interchangeable clients
        self.plain = client_id is None and clean_start and session_expiry_s == 0 and tls_ca is None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"probe-{uuid.uuid4().hex[:10]}",
            protocol=mqtt.MQTTv5,
        )
        # paho reconnects a dropped connection by itself: a probe the broker drops stays dropped
        # (within a test), so that the test sees it and two clients never take turns.
        self.client.reconnect_delay_set(min_delay=3600, max_delay=3600)
        if username is not None:
            self.client.username_pw_set(username, password)
        if tls_ca is not None:
            self.client.tls_set(ca_certs=tls_ca, cert_reqs=ssl.CERT_REQUIRED)
        self.clean_start = clean_start
        self.session_expiry_s = session_expiry_s
        self.messages: queue.Queue[Received] = queue.Queue()
        self._connack: queue.Queue[ReasonCode] = queue.Queue()
        self._lock = threading.Lock()
        self._acks: dict[int, queue.Queue[list[ReasonCode]]] = {}
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.on_publish = self._on_publish
        self._started = False

    # paho callbacks (on its network thread)
    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self._connack.put(rc)

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.messages.put(Received(msg.topic, bytes(msg.payload)))

    def _ack_queue(self, mid: int) -> queue.Queue[list[ReasonCode]]:
        with self._lock:
            return self._acks.setdefault(mid, queue.Queue())

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, rcs: list[ReasonCode], _p: Any) -> None:
        self._ack_queue(mid).put(list(rcs))

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: ReasonCode, _p: Any) -> None:
        self._ack_queue(mid).put([rc])

    def connect(self, timeout: float = 5.0) -> ReasonCode | None:
        """CONNACK's reason code, or None when the broker closed the connection without one."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.session_expiry_s
        self.client.connect(
            "127.0.0.1", self.port, keepalive=30, clean_start=self.clean_start, properties=props
        )
        self.client.loop_start()
        self._started = True
        try:
            return self._connack.get(timeout=timeout)
        except queue.Empty:
            return None

    def is_open(self) -> bool:
        """Connected, and not closed by the test."""
        return self._started and self.client.is_connected()

    def connected_ok(self) -> bool:
        rc = self.connect()
        return rc is not None and not rc.is_failure

    def subscribe(self, topic: str, qos: int = 1, timeout: float = 5.0) -> ReasonCode:
        result, mid = self.client.subscribe(topic, qos)
        assert result == mqtt.MQTT_ERR_SUCCESS, result
        assert mid is not None
        return self._ack_queue(mid).get(timeout=timeout)[0]

    def publish(self, topic: str, payload: str | bytes, qos: int = 1, timeout: float = 5.0) -> ReasonCode:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        rc = self.try_publish(topic, payload, qos, timeout)
        assert rc is not None, f"connection closed by the broker on publishing to {topic}"
        return rc

    def try_publish(
        self, topic: str, payload: str | bytes, qos: int = 1, timeout: float = 5.0
    ) -> ReasonCode | None:
        """The PUBACK's reason code, or None if the broker closed the connection instead.

        MQTT 3.1.1 lets a broker answer an unauthorised PUBLISH by closing the connection
        [MQTT-3.3.5-2]; mosquitto 2.0.11 (Debian 12) does so after a PUBACK "Not authorized".
        """
        info = self.client.publish(topic, payload, qos=qos)
        if info.rc == mqtt.MQTT_ERR_NO_CONN:
            return None
        assert info.rc == mqtt.MQTT_ERR_SUCCESS, info.rc
        acks = self._ack_queue(info.mid)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                return acks.get(timeout=0.05)[0]
            except queue.Empty:
                if not self.client.is_connected():
                    try:  # the PUBACK may have come in just before the connection closed
                        return acks.get_nowait()[0]
                    except queue.Empty:
                        return None
        raise AssertionError(f"no PUBACK for {topic} in {timeout} s")

    def expect(self, topic: str, payload: bytes | None = None, timeout: float = 5.0) -> Received:
        """Wait for a message on `topic` (and with `payload`, when given); others are kept."""
        deadline = time.monotonic() + timeout
        skipped: list[Received] = []
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"nothing arrived on {topic} in {timeout} s; got {skipped}")
                msg = self.messages.get(timeout=remaining)
                if msg.topic == topic and (payload is None or msg.payload == payload):
                    return msg
                skipped.append(msg)
        except queue.Empty:
            raise AssertionError(f"nothing arrived on {topic} in {timeout} s; got {skipped}") from None
        finally:
            for msg in skipped:
                self.messages.put(msg)

    def drain(self) -> list[Received]:
        out: list[Received] = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        if self._started:
            self.client.disconnect()
            self.client.loop_stop()
            self._started = False
