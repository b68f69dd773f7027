"""The district's readings at a fixed rate, over one QoS 1 connection, with a log of every
reading the broker acknowledged: what the verification counts in InfluxDB.

Each device reports in turn (with ~100,000 devices at 1,700 msg/s, about once a minute, well inside
every liveness window). Readings are stamped when they are made. While the broker is away they are
kept, as a gateway keeps them, and sent in a burst on reconnection; `hold()` makes such a burst
on purpose. One building's clock can be set off (`skew`): its readings are then ahead of the
contract's window, and are kept apart (`skewed_made`): whether the collector refuses one depends
on when it gets there, since one that arrives more than five minutes after it was made is no
longer ahead, and is rightly stored.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from bench.soak.district import Device

# Readings the walk has at the broker unacknowledged at most (paho's limit is off, see `_connect`).
WINDOW = 2000


def wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class AedState:
    state: str = "ready"
    cabinet_open: bool = False


SkewKey = tuple[str, int]  # (topic, ts) of a reading stamped by a skewed clock


@dataclass(frozen=True, slots=True)
class Made:
    """A reading as made: the measurement it counts in, when (wall seconds), and for a reading
    stamped by a skewed clock its topic and ts, by which it is found again in InfluxDB and among
    the collector's dead letters."""

    what: str
    at: float
    skew_key: SkewKey | None = None


@dataclass
class Counts:
    """Acknowledged valid readings by measurement (skewed ones: `Load.skewed_acked`)."""

    valid: collections.Counter[str] = field(default_factory=collections.Counter)
    made: int = 0

    @property
    def valid_total(self) -> int:
        return sum(self.valid.values())


class Acks:
    """One connection's QoS 1 readings between publish() and the broker's acknowledgement, which
    may come first: paho's thread can see the PUBACK before publish() has returned the mid.
    Callers hold the load's lock."""

    def __init__(self, count: Callable[[Made], None]) -> None:
        self.count = count
        self.pending: dict[int, Made] = {}  # mid -> the reading
        self.early: set[int] = set()

    def sent(self, mid: int, what: Made) -> None:
        if mid in self.early:
            self.early.discard(mid)
            self.count(what)
        else:
            self.pending[mid] = what

    def acknowledged(self, mid: int) -> None:
        what = self.pending.pop(mid, None)
        if what is None:
            self.early.add(mid)
        else:
            self.count(what)


class Load:
    def __init__(self, host: str, port: int, devices: list[Device], rate: float) -> None:
        self.devices, self.rate = devices, rate
        self.counts = Counts()
        self.aed: dict[str, AedState] = {}
        self.skew: dict[str, int] = {}  # building -> ms added to its clock
        self.held: set[str] = set()  # buildings whose gateway holds its readings (a burst to come)
        self._held_out: list[tuple[str, bytes, Made]] = []
        self._backlog: collections.deque[tuple[str, bytes, Made]] = collections.deque()
        # Every reading stamped by a skewed clock, and when it was made (wall seconds).
        self.skewed_made: dict[SkewKey, float] = {}
        # Each acknowledged one: seconds from made to acknowledged by the broker.
        self.skewed_acked: dict[SkewKey, float] = {}
        # How far behind the load generator is: for each wall second, the oldest reading the
        # broker acknowledged in it, in seconds since it was made.
        self.ack_lag: list[tuple[int, float]] = []
        self._lag_second, self._lag_max = 0, 0.0
        self._walk_acks = Acks(self._count)
        self.lock = threading.Lock()
        self._last_ts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-load", daemon=True)
        self.per_second: list[tuple[float, int]] = []  # (wall seconds, readings made that second)
        self.client = self._connect(host, port, "soak-load", self._walk_acks)
        # The incident steps leave on a connection of their own, as a cabinet has its own (a
        # sensor account each): on the walk's connection they would queue in this process behind
        # whatever the walk has not sent yet, and the latency measured would be the load
        # generator's, not louyu's.
        self._cabinet_acks = Acks(self._count)
        self.cabinets = self._connect(host, port, "soak-cabinets", self._cabinet_acks)

    def _connect(self, host: str, port: int, client_id: str, acks: Acks) -> mqtt.Client:
        """A persistent QoS 1 publisher whose acknowledgements `acks` counts; it reconnects within
        2 s. Paho's in-flight limit is off: with one set, paho rescans every unacknowledged
        message on each PUBACK, and once a broker restart has left a few thousand queued, the load
        generator spent its time rescanning and never caught up again (it fell minutes behind in
        the 30-minute soak). The walk keeps its own window instead (`WINDOW`), as the simulator
        does (louyu/simulate/connection.py)."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
            protocol=mqtt.MQTTv311,
            userdata=acks,
        )
        client.max_inflight_messages_set(0)
        client.max_queued_messages_set(0)
        client.on_publish = self._on_publish
        client.reconnect_delay_set(1, 2)
        client.connect(host, port, keepalive=10)
        return client

    # -- the thread --------------------------------------------------------------------------
    def start(self) -> None:
        self.client.loop_start()
        self.cabinets.loop_start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def close(self) -> None:
        for client in (self.client, self.cabinets):
            client.loop_stop()
            client.disconnect()

    def unacknowledged(self) -> int:
        with self.lock:
            return (
                len(self._walk_acks.pending)
                + len(self._backlog)
                + len(self._held_out)
                + len(self._cabinet_acks.pending)
            )

    def _run(self) -> None:
        started = time.monotonic()
        made = 0
        index = 0
        second, in_second = int(time.time()), 0
        while not self._stop.is_set():
            due = int((time.monotonic() - started) * self.rate)
            while made < due:
                device = self.devices[index % len(self.devices)]
                index += 1
                made += 1
                in_second += 1
                self._emit(device)
            self._flush()
            now_s = int(time.time())
            if now_s != second:
                self.per_second.append((second, in_second))
                second, in_second = now_s, 0
            time.sleep(0.005)

    # -- readings ----------------------------------------------------------------------------
    def payload(self, device: Device, ts: int) -> bytes:
        if device.kind == "aed":
            aed = self.aed.get(device.building, AedState())
            body: dict[str, object] = {
                "state": aed.state,
                "cabinet_open": aed.cabinet_open,
                "battery_pct": 90,
            }
        elif device.kind == "parking_lot":
            body = {"occupied": (ts // 1000) % 600, "capacity": 700}
        elif device.kind == "canteen":
            body = {"occupancy": (ts // 1000) % 300, "queue_length": (ts // 1000) % 20}
        else:
            body = {"occupied": bool((ts // 1000) % 2)}
        body["ts"] = ts
        return orjson.dumps(body)

    def _stamp(self, device: Device) -> tuple[int, Made]:
        """A reading's ts, under the lock: strictly increasing per device, and never the ts of an
        earlier skewed reading of the device (two readings of one device in one millisecond
        would be one point in InfluxDB)."""
        ts = max(wall_ms(), self._last_ts.get(device.topic, 0) + 1)
        skew = self.skew.get(device.building, 0)
        while not skew and (device.topic, ts) in self.skewed_made:
            ts += 1
        self._last_ts[device.topic] = ts
        now = time.time()
        if not skew:
            return ts, Made(device.kind, now)
        key = (device.topic, ts + skew)
        self.skewed_made[key] = now
        return ts + skew, Made("skewed", now, key)

    def _emit(self, device: Device) -> None:
        with self.lock:  # the incidents' thread stamps too: one order of stamps per device
            ts, made = self._stamp(device)
        message = (device.topic, self.payload(device, ts), made)
        with self.lock:
            self.counts.made += 1
            if device.building in self.held:
                self._held_out.append(message)
            else:
                self._backlog.append(message)

    def send_now(self, device: Device) -> None:
        """An incident step: out at once, on the cabinets' own connection."""
        with self.lock:
            ts, made = self._stamp(device)
            self.counts.made += 1
        # Outside the lock: paho calls on_publish holding its own lock, and that callback takes ours.
        info = self.cabinets.publish(device.topic, self.payload(device, ts), qos=1)
        with self.lock:
            self._cabinet_acks.sent(info.mid, made)

    def hold(self, buildings: set[str]) -> None:
        with self.lock:
            self.held = set(buildings)

    def release(self) -> None:
        """The gateways come back: everything they held goes out at once."""
        with self.lock:
            self.held = set()
            self._backlog.extend(self._held_out)
            self._held_out = []

    def _flush(self) -> None:
        while self.client.is_connected():
            with self.lock:
                if not self._backlog or len(self._walk_acks.pending) >= WINDOW:
                    return
                topic, payload, what = self._backlog.popleft()
            info = self.client.publish(topic, payload, qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                # Not taken: keep it for later.
                with self.lock:
                    self._backlog.appendleft((topic, payload, what))
                return
            # MQTT_ERR_NO_CONN: the connection just dropped, and paho keeps the QoS 1 message to
            # send on reconnection; it is pending like the others.
            with self.lock:
                self._walk_acks.sent(info.mid, what)
            if info.rc == mqtt.MQTT_ERR_NO_CONN:
                return

    def _on_publish(
        self,
        client: mqtt.Client,
        acks: Acks,
        mid: int,
        reason: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self.lock:
            acks.acknowledged(mid)

    def _count(self, made: Made) -> None:
        now = time.time()
        if made.skew_key is not None:
            self.skewed_acked[made.skew_key] = now - made.at
        else:
            self.counts.valid[made.what] += 1
        second = int(now)
        if second != self._lag_second:
            if self._lag_second:
                self.ack_lag.append((self._lag_second, self._lag_max))
            self._lag_second, self._lag_max = second, 0.0
        self._lag_max = max(self._lag_max, now - made.at)

    def wait_acknowledged(self, timeout: float, tick: Callable[[], None] | None = None) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._flush()
            if self.unacknowledged() == 0:
                return True
            if tick is not None:
                tick()
            time.sleep(0.1)
        return False
