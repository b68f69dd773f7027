"""The broker connection every louyu part uses: one target, one client factory, one way to connect.

The collector, the rules engine, the notifier, the API feed and the simulator all reach the broker
through `make_client` and `connect_async`, so the TLS options, the credentials, the protocol and
the keep-alive mean the same thing in each of them (docs/configuration.md, the `mqtt` section).
What differs between the parts is said here as arguments: the client id, whether the broker keeps
a session for it (`persistent`), paho's reconnection cap.

The protocol is negotiated by default (`auto`, collector/negotiation.py): MQTT 5 first, MQTT 3.1.1
when the broker refuses, drops or ignores the MQTT 5 CONNECT. `5` and `3.1.1` fix it instead.

`tls_insecure` turns certificate checking off altogether (no chain, no host name check): for a
test broker with a self-signed certificate, never for production. Without it the broker's
certificate must chain to `ca_file`, or to the system's trust store when no CA file is given.
"""

from __future__ import annotations

import ssl
import sys
import threading
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
import structlog
from paho.mqtt import __version__ as paho_version
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from collector.negotiation import Negotiation, negotiated

log = structlog.get_logger("louyu.broker")

PUBACK: Final = 0x40
# A PUBACK without reason code (MQTT 3.1.1 and 5: success): 0x40, length 2, then the id.
PUBACK_WORD: Final = 0x4002_0000
# paho's own out queue (`_packet_queue`), used by `LoopClient.ack_all`, is as in paho 2.x.
QUEUE_OF_PAHO_2: Final = paho_version.startswith("2.")

Protocol = Literal["auto", "5", "3.1.1"]
URL_SCHEMES = ("mqtt", "mqtts", "tcp", "ssl")
TLS_SCHEMES = ("mqtts", "ssl")


class BrokerUrlError(ValueError):
    """A broker URL louyu cannot use."""


@dataclass(frozen=True, slots=True)
class BrokerTarget:
    """Where the broker is and how to talk to it: the same for every part of one installation."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls_insecure: bool = False
    protocol: Protocol = "auto"
    keepalive_s: int = 30

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        ca_file: Path | None = None,
        cert_file: Path | None = None,
        key_file: Path | None = None,
        tls_insecure: bool = False,
        protocol: Protocol = "auto",
        keepalive_s: int = 30,
    ) -> BrokerTarget:
        """`mqtt://host:1883` or `mqtts://host:8883`; credentials in the URL win over the separate ones."""
        parts = urlsplit(url)
        if parts.scheme not in URL_SCHEMES:
            raise BrokerUrlError("must start with mqtt:// or mqtts://")
        if not parts.hostname:
            raise BrokerUrlError("has no host")
        try:
            port = parts.port
        except ValueError as error:
            raise BrokerUrlError(f"has a bad port: {error}") from error
        tls = parts.scheme in TLS_SCHEMES
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            tls=tls,
            username=unquote(parts.username) if parts.username else username,
            password=unquote(parts.password) if parts.password else password,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            tls_insecure=tls_insecure,
            protocol=protocol,
            keepalive_s=keepalive_s,
        )

    def __repr__(self) -> str:  # never the password
        return (
            f"BrokerTarget({self.host}:{self.port}, tls={self.tls}, user={self.username!r},"
            f" mqtt={self.protocol})"
        )


class LoopClient(mqtt.Client):
    """paho's client, whose network thread (`loop_start`) carries a louyu name.

    Every louyu part runs paho's network loop through `loop_start()`, never `loop_forever()` on a
    thread of its own. paho tells the two apart by `_thread`, which only `loop_start` sets: with it,
    a `publish()` or `ack()` from another thread only queues the packet and wakes the network
    thread, which writes it; without it, the calling thread writes to the socket itself. The rules
    engine once ran `loop_forever` on its own thread, so its worker acknowledged readings by writing
    to the socket next to the network thread. When such a write met the connection lost in a broker
    restart, the worker (holding the lanes' lock) waited for paho's callback lock, held by the
    network thread, which waited inside `on_message` for the lanes' lock: the engine never read,
    acknowledged or reconnected again (tests/rules/test_broker_restarts.py).
    """

    loop_name = "louyu-mqtt"
    # A daemon, as paho's own: a part that exits without stopping is not held alive by it.
    loop_daemon = True

    def loop_start(self) -> MQTTErrorCode:
        # paho's loop_start, step by step, with the thread's name and daemon flag ours.
        if self._thread is not None:
            return MQTTErrorCode.MQTT_ERR_INVAL
        self._sockpairR, self._sockpairW = mqtt._socketpair_compat()
        self._thread_terminate = False
        self._thread = threading.Thread(target=self._run_loop, name=self.loop_name, daemon=self.loop_daemon)
        self._thread.start()
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_all(self, mids: Sequence[int], qos: int) -> None:
        """Acknowledge these messages (manual acks), in this order: the order they arrived.

        QoS 1: their PUBACKs go to paho's out queue as one buffer, one socket write and one wake-up
        of the network thread, instead of one queued packet, one wake-up byte and one `send()`
        each (what `Client.ack` does). That thread also reads every message, so what it saves
        there is what lets it read ahead of the part evaluating or storing them. paho writes a
        queued buffer as it is, resuming after partial writes, so a buffer of many packets goes out
        intact and in order.
        """
        if not mids:
            return
        if qos == 1 and QUEUE_OF_PAHO_2:
            words = array("I", [PUBACK_WORD | mid for mid in mids])
            if sys.byteorder == "little":
                words.byteswap()  # network order: 0x40 0x02 mid-high mid-low
            self._packet_queue(PUBACK, words.tobytes(), mids[-1], 1)
            return
        for mid in mids:
            self.ack(mid, qos)

    def _run_loop(self) -> None:
        try:
            self._thread_main()
        except Exception:
            # A callback that raises ends paho's loop, and the part would go on deaf to the broker
            # with only a traceback on stderr to say so: say it in the part's own log.
            log.exception("MQTT network loop ended", thread=self.loop_name)


def make_client(
    target: BrokerTarget,
    client_id: str,
    *,
    persistent: bool = False,
    manual_ack: bool = False,
    reconnect_max_s: int = 30,
    loop_name: str = LoopClient.loop_name,
    loop_daemon: bool = LoopClient.loop_daemon,
) -> LoopClient:
    """A paho client for `target`: protocol, credentials and TLS applied, callbacks left to the caller.

    `persistent`: the broker keeps the session (subscriptions, queued QoS 1 messages) across
    reconnections and restarts, so the client id must be stable. On MQTT 5 that is said at
    connection time (`connect_async`); on 3.1.1 by the clean-session flag, set here.
    With `auto`, the client starts with what this process already settled on for the broker,
    else with MQTT 5; `client.protocol` says what it speaks now (`speaks_v5`).
    Start its network loop with `client.loop_start()` (see `LoopClient`); `loop_name` names that thread.
    """
    protocol = (negotiated(target) or "5") if target.protocol == "auto" else target.protocol
    v5 = protocol == "5"
    client = LoopClient(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
        clean_session=None if v5 else not persistent,
        manual_ack=manual_ack,
    )
    client.loop_name, client.loop_daemon = loop_name, loop_daemon
    if target.username:
        client.username_pw_set(target.username, target.password)
    if target.tls:
        client.tls_set(
            ca_certs=str(target.ca_file) if target.ca_file else None,
            certfile=str(target.cert_file) if target.cert_file else None,
            keyfile=str(target.key_file) if target.key_file else None,
            cert_reqs=ssl.CERT_NONE if target.tls_insecure else ssl.CERT_REQUIRED,
        )
        client.tls_insecure_set(target.tls_insecure)
    client.reconnect_delay_set(min_delay=1, max_delay=reconnect_max_s)
    return client


def speaks_v5(client: mqtt.Client) -> bool:
    """Whether this connection speaks MQTT 5 (read in `on_connect`: negotiation may change it)."""
    return client.protocol == mqtt.MQTTv5


def connect_async(
    client: mqtt.Client,
    target: BrokerTarget,
    *,
    persistent: bool = False,
    session_expiry_s: int = 0,
    receive_maximum: int | None = None,
) -> None:
    """Start connecting (paho's loop does the rest and reconnects by itself).

    On MQTT 5 a persistent session asks for clean start off and `session_expiry_s`;
    `receive_maximum` bounds how many unacknowledged QoS 1 messages the broker sends us.
    On 3.1.1 neither exists: the session lasts as long as the broker's own expiry allows.
    With `auto` not yet settled, the negotiation hooks the client's connection callbacks here,
    so the caller sets its own (`on_connect`, `on_disconnect`) before calling this.
    """
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    if persistent:
        properties.SessionExpiryInterval = session_expiry_s
    if receive_maximum is not None:
        properties.ReceiveMaximum = receive_maximum
    if target.protocol == "auto" and negotiated(target) is None:
        Negotiation(client, target, persistent=persistent).install(properties)
    if not speaks_v5(client):
        client.connect_async(target.host, target.port, keepalive=target.keepalive_s)
        return
    client.connect_async(
        target.host,
        target.port,
        keepalive=target.keepalive_s,
        clean_start=not persistent,
        properties=properties,
    )
