"""What the soak watches from outside: alert events and patrol notices on MQTT, a webhook receiver
that can be made to fail, the broker's stored messages, and the parts' metrics and memory."""

from __future__ import annotations

import http.server
import re
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from louyu.testing.services import free_port


@dataclass(frozen=True, slots=True)
class Seen:
    at: float  # wall seconds
    source: str  # "alert", "handset", "webhook"
    event: str
    rule: str
    device: str
    building: str
    alert_id: int
    delivery_id: str | None


def _seen(source: str, at: float, message: dict[str, Any]) -> Seen:
    alert = message.get("alert", message.get("data", {}).get("alert", {}))
    data = message.get("data", message)
    return Seen(
        at,
        source,
        str(data.get("event")),
        str(alert.get("rule")),
        str(alert.get("device")),
        str(alert.get("building")),
        int(alert.get("id", -1)),
        data.get("delivery_id"),
    )


class Watcher:
    """A persistent QoS 1 subscription to alert events and notices: nothing is missed across a
    broker restart."""

    def __init__(self, host: str, port: int) -> None:
        self.seen: list[Seen] = []
        self.stored_messages: list[tuple[float, int]] = []
        self.retained_messages: list[tuple[float, int]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="soak-watcher", clean_session=False, protocol=mqtt.MQTTv311
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 2)
        self.client.connect(host, port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(
            [
                ("louyu/alerts/#", 1),
                ("louyu/notify/#", 1),
                ("$SYS/broker/store/messages/count", 0),
                ("$SYS/broker/retained messages/count", 0),
            ]
        )

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.time()
        if message.topic.startswith("$SYS/"):
            series = self.stored_messages if "store" in message.topic else self.retained_messages
            series.append((now, int(message.payload)))
            return
        source = "alert" if message.topic.startswith("louyu/alerts/") else "handset"
        with self._lock:
            self.seen.append(_seen(source, now, orjson.loads(message.payload)))

    def queued(self, over_s: float = 5.0) -> int | None:
        """Messages the broker holds beyond its retained ones: queued for some subscriber. The
        fewest over the last `over_s` seconds of samples: `$SYS` counts each second, so one
        sample can catch a message on its way to a subscriber (an alert event to this watcher),
        while a queue that stays is in every sample."""
        if not self.stored_messages or not self.retained_messages:
            return None
        since = self.stored_messages[-1][0] - over_s
        found: list[int] = []
        for at, stored in self.stored_messages:
            retained = [count for when, count in self.retained_messages if when <= at + 0.5]
            if at >= since and retained:
                found.append(stored - retained[-1])
        return min(found) if found else self.stored_messages[-1][1] - self.retained_messages[-1][1]

    def snapshot(self) -> list[Seen]:
        with self._lock:
            return list(self.seen)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class WebhookReceiver:
    """A city platform's endpoint: records every delivery; answers 503 while `failing` is set."""

    def __init__(self) -> None:
        self.port = free_port()
        self.failing = threading.Event()
        self.seen: list[Seen] = []
        self.refused = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if receiver.failing.is_set():
                    receiver.refused += 1
                    self.send_response(503)
                    self.send_header("retry-after", "1")
                    self.end_headers()
                    return
                message = orjson.loads(body)
                message.setdefault("data", {})["delivery_id"] = self.headers.get("webhook-id")
                receiver.seen.append(_seen("webhook", time.time(), message))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, name="soak-webhook", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# mosquitto's persistence file (format 6, mosquitto 2.0): a header, then chunks of
# (type: u32, length: u32, body). A CLIENT_MSG chunk is one message queued or in flight for one
# client's session: body = store id (u64), mid (u16), client id length (u16), qos, state, retain
# and dup, direction (u8 each), then the client id.
_DB_MAGIC = b"\x00\xb5\x00mosquitto db"
_CHUNK_CLIENT_MSG = 3


def broker_session_queues(db: Path) -> dict[str, int]:
    """Per client id, the messages the broker saved as queued or in flight for its session, read
    from the persistence file a stopped mosquitto wrote: the exact queues, where `$SYS` counts can
    only be sampled (and count the `$SYS` messages on their way to whoever watches them)."""
    data = db.read_bytes()
    if not data.startswith(_DB_MAGIC):
        raise ValueError(f"{db}: not a mosquitto persistence file")
    (version,) = struct.unpack(">I", data[19:23])
    if version != 6:
        raise ValueError(f"{db}: persistence format {version}, only 6 (mosquitto 2.0) is read")
    queues: dict[str, int] = {}
    at = 23
    while at + 8 <= len(data):
        kind, length = struct.unpack(">II", data[at : at + 8])
        body = data[at + 8 : at + 8 + length]
        at += 8 + length
        if kind == _CHUNK_CLIENT_MSG:
            (id_length,) = struct.unpack(">H", body[10:12])
            client = body[16 : 16 + id_length].decode(errors="replace")
            queues[client] = queues.get(client, 0) + 1
    return queues


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? ([0-9.eE+-]+|NaN|\+Inf|-Inf)$", re.MULTILINE)


def scrape(url: str) -> dict[str, float]:
    """A metrics endpoint as {series: value}; empty when it does not answer (a part restarting)."""
    try:
        text = httpx.get(url, timeout=2).text
    except httpx.HTTPError:
        return {}
    return {name + (labels or ""): float(value) for name, labels, value in _SAMPLE.findall(text)}
