"""Two lanes between the broker connection and the engine: what a critical rule watches goes first.

One MQTT session delivers everything in one order. After a restart, a broker restart or any
stretch where the engine fell behind, the broker's queue for the session holds thousands of
parking readings, and an AED cabinet opening published now waits behind all of them: at the
district's 1,700 readings/s, seconds to minutes. So the network thread only takes each message off
the connection and files it in a lane: `urgent` for the kinds a critical rule watches (and building
availability, which such a rule's alerts depend on), `bulk` for the rest. One worker evaluates
urgent messages whenever there are any, bulk ones otherwise. Per device the order stays as
published (a device's messages all go to one lane, first in first out).

Acknowledgements: a QoS 1 message is acknowledged only once it and every message that arrived
before it on the same connection have been evaluated, and in arrival order (MQTT 3.1.1 §4.6 asks
for PUBACKs in the order of the PUBLISHes). A crash therefore loses nothing: whatever was not
acknowledged is delivered again, and the engine takes a repeated reading as stale or as no change.
Acknowledgements owed on a connection that has since dropped are never sent on the next one (the
ids would name other messages there); the broker delivers those messages again. They go out in
batches (`ACK_BATCH`, and whenever the lanes run empty), one buffer each: the network thread,
which writes them, is also the one that must read ahead of the worker.

How far the lanes see ahead is bounded: by the broker's in-flight window (MQTT 5 receive maximum,
65,535, or the broker's `max_inflight_messages`, unlimited in louyu's broker settings; RabbitMQ's
`mqtt.prefetch`), and by how fast the network thread reads while the worker evaluates: about twice
as fast, measured here. So an urgent message behind a long backlog comes forward about half-way,
not at once; see docs/rules.md.

The lanes hold at most `limit` messages: past that the network thread waits for the worker, and the
broker keeps the rest (TCP and the in-flight window push back), so a long backlog never moves into
this process's memory.
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

Lane = Literal["urgent", "bulk"]
# As many as the broker may have in flight to an MQTT 5 session (receive maximum 65,535): the lanes
# then never stop reading before the broker stops sending, so an urgent message reaches its lane
# as soon as the network thread gets to it. About 25 MB at the district's message sizes.
DEFAULT_LIMIT: Final = 65_535
# Evaluated messages acknowledged together. Whenever the lanes run empty, whatever is owed goes at
# once: a broker that allows only a few messages in flight (mosquitto's default is 20) is never
# kept waiting for acknowledgements that sit here.
ACK_BATCH: Final = 100


@dataclass(slots=True)
class _Entry:
    mid: int
    qos: int
    connection: int
    done: bool = False


@dataclass(slots=True)
class _Message:
    topic: str
    payload: bytes
    retained: bool
    entry: _Entry


class Lanes:
    """Messages in from the network thread (`put`), evaluated by one worker, urgent first."""

    def __init__(
        self,
        evaluate: Callable[[str, bytes, bool], None],
        acknowledge: Callable[[Sequence[int], int], object],
        urgent_kinds: frozenset[str],
        *,
        limit: int = DEFAULT_LIMIT,
        name: str = "louyu-rules-lanes",
    ) -> None:
        self.evaluate, self.acknowledge = evaluate, acknowledge
        self.urgent_kinds = urgent_kinds
        self.limit = limit
        self._urgent: collections.deque[_Message] = collections.deque()
        self._bulk: collections.deque[_Message] = collections.deque()
        self._arrived: collections.deque[_Entry] = collections.deque()  # this connection's, in order
        self._owed: list[_Entry] = []  # evaluated, in arrival order, their acknowledgement not yet sent
        self._connection = 0
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # the worker waits for messages
        self._room = threading.Condition(self._lock)  # the network thread waits for room
        self._stopping = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)

    def lane(self, topic: str) -> Lane:
        """`louyu/<building>/availability` and `louyu/<building>/<kind>/<device>[/availability]`."""
        parts = topic.split("/", 3)
        if len(parts) == 3 or (len(parts) > 2 and parts[2] in self.urgent_kinds):
            return "urgent"
        return "bulk"

    def depth(self) -> dict[Lane, int]:
        with self._lock:
            return {"urgent": len(self._urgent), "bulk": len(self._bulk)}

    # -- the network thread ----------------------------------------------------------------------
    def new_connection(self) -> None:
        """A new connection: what was owed to the last one is not acknowledged on this one."""
        with self._lock:
            self._connection += 1
            self._arrived.clear()
            self._owed.clear()

    def put(self, topic: str, payload: bytes, retained: bool, mid: int, qos: int) -> None:
        with self._lock:
            while len(self._urgent) + len(self._bulk) >= self.limit and not self._stopping:
                self._room.wait(1.0)
            entry = _Entry(mid, qos, self._connection)
            if qos > 0:
                self._arrived.append(entry)
            message = _Message(topic, payload, retained, entry)
            (self._urgent if self.lane(topic) == "urgent" else self._bulk).append(message)
            self._ready.notify()

    # -- the worker ------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the message in hand; the rest stay unacknowledged, for the broker to send
        again to the next run."""
        with self._lock:
            self._stopping = True
            self._ready.notify_all()
            self._room.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)
        with self._lock:
            self._acknowledge_owed()  # what was evaluated is not sent to the next run again

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._urgent and not self._bulk and not self._stopping:
                    self._ready.wait()
                if self._stopping:
                    return
                message = self._urgent.popleft() if self._urgent else self._bulk.popleft()
                self._room.notify()
            try:
                self.evaluate(message.topic, message.payload, message.retained)
            finally:
                self._done(message.entry)
            # Hand the interpreter's lock to the network thread, which waits for it after each
            # read from the socket: without this it reads a message per switch interval (5 ms)
            # while the worker is busy, and an urgent message stays in the socket behind the rest.
            time.sleep(0)

    def _done(self, entry: _Entry) -> None:
        # Under the lock, so that a reconnection cannot come between the check of the connection
        # and the acknowledgement (paho queues it; it takes none of the locks this one is held
        # under by the network thread).
        with self._lock:
            entry.done = True
            while self._arrived and self._arrived[0].done:
                first = self._arrived.popleft()
                if first.connection == self._connection:
                    self._owed.append(first)
            if len(self._owed) >= ACK_BATCH or not (self._urgent or self._bulk):
                self._acknowledge_owed()

    def _acknowledge_owed(self) -> None:
        # Under the lock, like `_done`. A connection's messages all have the QoS of its subscription
        # as a rule; a mixed run is acknowledged in order, one batch per QoS in a row.
        for qos, entries in itertools.groupby(self._owed, key=lambda e: e.qos):
            self.acknowledge([e.mid for e in entries], qos)
        self._owed.clear()
