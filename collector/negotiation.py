"""MQTT protocol negotiation (`LOUYU_MQTT_PROTOCOL=auto`, the default): MQTT 5 first, else 3.1.1.

A broker that speaks only MQTT 3.1.1 answers an MQTT 5 CONNECT in one of three ways: a CONNACK
"unacceptable protocol version" (what the 3.1.1 specification asks), closing the connection
without a word (RabbitMQ 3.10), or nothing at all until the keep-alive runs out (amqtt). Each is
taken as a refusal of MQTT 5: the next attempt of paho's own reconnection loop (one reconnect
delay later) speaks 3.1.1. The first CONNACK that accepts a connection decides, for that broker
and the rest of the process: later reconnections and every other client of the process start
with the protocol that worked, and the choice is logged once, with why.

A failure that says nothing about the protocol (no route, TLS, a wrong password) leaves the
attempt's protocol as it was; a 3.1.1 attempt that fails too sends the next one back to MQTT 5,
so a network hiccup during the first MQTT 5 attempt cannot pin a process to 3.1.1 unless 3.1.1
then actually works.

All of this happens on the connection's callbacks (`Negotiation.install`), never per message.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import TYPE_CHECKING, Any, Final, Literal

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

if TYPE_CHECKING:
    from collector.broker import BrokerTarget

log = structlog.get_logger("louyu.mqtt.protocol")

Negotiated = Literal["5", "3.1.1"]
# How long a broker may take to answer an MQTT 5 CONNECT (the TCP and TLS set-up already done)
# before it counts as ignoring it: a CONNACK on a loaded LAN takes milliseconds.
ANSWER_S: Final = 5.0
# 0x84, and 0x01 as paho reads a 3.1.1 CONNACK "unacceptable protocol version" on an MQTT 5 client.
UNSUPPORTED: Final = "Unsupported protocol version"
# What an MQTT 3.1.1 connection cannot do, and what louyu does instead: said in the negotiation
# log and in docs/interface.md ("MQTT 3.1.1 brokers").
V311_LIMITS: Final = (
    "session expiry interval: the collector's and the rules engine's sessions (clean session off)"
    " last as long as the broker keeps sessions (mosquitto persistent_client_expiration)",
    "receive maximum: the broker's own in-flight limit bounds unacknowledged messages"
    " (mosquitto max_inflight_messages, RabbitMQ mqtt.prefetch)",
    "shared subscriptions: LOUYU_MQTT_SHARED_GROUP is MQTT 5; split collectors by broker instead",
    "retain handling: the rules engine does not subscribe again to a kept session",
    "reason codes and user properties: refusals are reported as 3.1.1 return codes",
)

_decided: dict[tuple[str, int, bool], Negotiated] = {}
_decided_lock = threading.Lock()


def _key(target: BrokerTarget) -> tuple[str, int, bool]:
    return (target.host, target.port, target.tls)


def negotiated(target: BrokerTarget) -> Negotiated | None:
    """The protocol this process settled on for `target`'s broker, None before the first connection."""
    with _decided_lock:
        return _decided.get(_key(target))


def forget() -> None:
    """Forget every protocol settled on: the next connection to each broker negotiates again. For
    a process whose brokers may have been replaced at the same address, such as the test suite,
    whose brokers come and go on ports the system hands out again."""
    with _decided_lock:
        _decided.clear()


def _decide(target: BrokerTarget, protocol: Negotiated, reason: str) -> None:
    with _decided_lock:
        if _key(target) in _decided:
            return
        _decided[_key(target)] = protocol
    if protocol == "5":
        log.info("mqtt protocol negotiated", protocol="5", reason=reason, broker=repr(target))
        return
    log.warning(
        "mqtt protocol negotiated",
        protocol="3.1.1",
        reason=reason,
        broker=repr(target),
        unavailable=list(V311_LIMITS),
        hint="LOUYU_MQTT_PROTOCOL=3.1.1 skips the MQTT 5 attempt",
    )


class Negotiation:
    """Switches one paho client between MQTT 5 and 3.1.1 until a connection is accepted."""

    def __init__(self, client: mqtt.Client, target: BrokerTarget, *, persistent: bool) -> None:
        self.client = client
        self.target = target
        self.persistent = persistent
        self.v5_properties: Properties | None = None
        self.attempt: Negotiated = "5"
        self.answered = True
        self.timed_out = False
        self.refusal: str | None = None  # why the broker would not take MQTT 5, while unconfirmed
        self.quiet = False  # the disconnection that follows a refusal already handled here
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._on_connect: Any = None
        self._on_disconnect: Any = None

    def install(self, v5_properties: Properties | None) -> None:
        """Hook the client's connection callbacks; the caller's own callbacks must be set already."""
        self.v5_properties = v5_properties
        self._on_connect = self.client.on_connect
        self._on_disconnect = self.client.on_disconnect
        self.client.on_pre_connect = self._pre_connect
        self.client.on_socket_open = self._socket_open
        self.client.on_connect = self._connected
        self.client.on_disconnect = self._disconnected

    # paho's thread ----------------------------------------------------------------------------

    def _pre_connect(self, client: mqtt.Client, userdata: Any) -> None:
        if client.protocol == mqtt.MQTTv31:
            return  # paho itself steps down to 3.1 after a 3.1.1 "unacceptable protocol version"
        decided = negotiated(self.target)
        if decided is not None:
            self._use(decided)
            return
        self._use("3.1.1" if self.refusal is not None else "5")
        with self._lock:
            self.answered = False
            self.timed_out = False

    def _use(self, protocol: Negotiated) -> None:
        """Set the protocol of the next CONNECT: what paho reads when it builds the packet.

        paho 2.x has no public setter for these; `_protocol`, `_clean_session` and
        `_connect_properties` are what its `reconnect()` reads after `on_pre_connect` (paho
        itself rewrites `_protocol` the same way to step down to 3.1). tests/test_second_broker.py
        catches a paho that stops reading them."""
        self.attempt = protocol
        client: Any = self.client
        if protocol == "5":
            client._protocol = mqtt.MQTTv5
            client._connect_properties = self.v5_properties
        else:
            client._protocol = mqtt.MQTTv311
            client._clean_session = not self.persistent
            client._connect_properties = None

    def _socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        with self._lock:
            if self.answered:
                return
            self._timer = threading.Timer(ANSWER_S, self._no_answer, args=(sock,))
            self._timer.daemon = True
            self._timer.name = "louyu-mqtt-negotiation"
            self._timer.start()

    def _no_answer(self, sock: socket.socket) -> None:
        with self._lock:
            if self.answered:
                return
            self.timed_out = True
        # paho's loop reads the end of the stream and treats it as a lost connection.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def _answer(self) -> bool:
        """Mark this attempt answered; True if it was still waiting (the first answer counts)."""
        with self._lock:
            waiting = not self.answered
            self.answered = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        return waiting

    def _connected(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        waiting = self._answer()
        if waiting and negotiated(self.target) is None:
            if not reason.is_failure:
                why = self.refusal or "the broker accepted MQTT 5"
                _decide(self.target, self.attempt, why)
                self.refusal = None
            elif self.attempt == "5" and str(reason) == UNSUPPORTED:
                self.refusal = f"the broker answered the MQTT 5 CONNECT with {UNSUPPORTED!r}"
                log.debug("mqtt 5 refused; trying 3.1.1", broker=repr(self.target))
                self.quiet = True
                return  # not the caller's failure: the next attempt speaks 3.1.1
            elif self.attempt == "3.1.1":
                self.refusal = None
        if self._on_connect is not None:
            self._on_connect(client, userdata, flags, reason, properties)

    def _disconnected(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        waiting = self._answer()
        if self.quiet:
            self.quiet = False
            return
        # reason 0: our own disconnect() (a part stopping), not the broker's doing.
        if waiting and reason.value != 0 and negotiated(self.target) is None:
            if self.attempt == "5":
                self.refusal = (
                    f"no answer to the MQTT 5 CONNECT within {ANSWER_S:g} s"
                    if self.timed_out
                    else "the broker closed the connection on the MQTT 5 CONNECT"
                )
                log.debug("mqtt 5 dropped; trying 3.1.1", broker=repr(self.target), why=self.refusal)
                return
            self.refusal = None  # 3.1.1 failed as well: the next attempt is MQTT 5 again
        if self._on_disconnect is not None:
            self._on_disconnect(client, userdata, flags, reason, properties)
