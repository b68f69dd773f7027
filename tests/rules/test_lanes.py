"""The engine's two lanes: an AED reading is evaluated ahead of any parking backlog, and every
message is acknowledged in arrival order once evaluated, never on a later connection.

The lanes' bookkeeping is tested alone with a recorded acknowledgement; the claim that matters (a
cabinet opening is not stuck behind a broker's backlog) on a real mosquitto with the real engine."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from collector.registry import Registry
from louyu.testing.clients import publish_all
from louyu.testing.services import Mosquitto
from rules.lanes import ACK_BATCH, Lanes
from tests.rules.test_session import Listener, Running, listener, running, settings_for

__all__ = ["listener", "running"]  # the fixtures, shared with the session tests

# --------------------------------------------------------------------------- bookkeeping


class Recorder:
    def __init__(self, gate: threading.Event | None = None) -> None:
        self.evaluated: list[str] = []
        self.acks: list[int] = []
        self.batches: list[list[int]] = []
        self.gate = gate

    def evaluate(self, topic: str, payload: bytes, retained: bool) -> None:
        if self.gate is not None:
            self.gate.wait(5)
        self.evaluated.append(topic)

    def ack(self, mids: Sequence[int], qos: int) -> None:
        self.batches.append(list(mids))
        self.acks.extend(mids)


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.005)
    assert condition(), "not within the time"  # type: ignore[operator]


@pytest.fixture
def held() -> Iterator[tuple[Lanes, Recorder, threading.Event]]:
    gate = threading.Event()
    recorder = Recorder(gate)
    lanes = Lanes(recorder.evaluate, recorder.ack, frozenset({"aed"}))
    lanes.start()
    yield lanes, recorder, gate
    gate.set()
    lanes.stop()


def test_urgent_messages_jump_the_queue_but_acknowledgements_keep_arrival_order(
    held: tuple[Lanes, Recorder, threading.Event],
) -> None:
    lanes, recorder, gate = held
    # The worker is held on the first message; the rest queue up behind it.
    lanes.put("louyu/b1/parking_space/s-1", b"{}", False, 1, 1)
    wait_for(lambda: lanes.depth() == {"urgent": 0, "bulk": 0})
    for mid in range(2, 6):
        lanes.put(f"louyu/b1/parking_space/s-{mid}", b"{}", False, mid, 1)
    lanes.put("louyu/b1/aed/aed-1", b"{}", False, 6, 1)
    lanes.put("louyu/b1/availability", b"offline", True, 7, 1)
    lanes.put("louyu/b1/aed/aed-1/availability", b"online", False, 8, 1)
    assert lanes.depth() == {"urgent": 3, "bulk": 4}
    gate.set()
    wait_for(lambda: len(recorder.evaluated) == 8)
    assert recorder.evaluated == [
        "louyu/b1/parking_space/s-1",
        "louyu/b1/aed/aed-1",
        "louyu/b1/availability",
        "louyu/b1/aed/aed-1/availability",
        "louyu/b1/parking_space/s-2",
        "louyu/b1/parking_space/s-3",
        "louyu/b1/parking_space/s-4",
        "louyu/b1/parking_space/s-5",
    ]
    # The AED reading was evaluated second, but acknowledged only after the four parking
    # readings that arrived before it: PUBACKs go in the order of the PUBLISHes.
    wait_for(lambda: len(recorder.acks) == 8)
    assert recorder.acks == [1, 2, 3, 4, 5, 6, 7, 8]


def test_nothing_owed_to_a_dropped_connection_is_acknowledged_on_the_next(
    held: tuple[Lanes, Recorder, threading.Event],
) -> None:
    lanes, recorder, gate = held
    for mid in (1, 2, 3):
        lanes.put(f"louyu/b1/parking_space/s-{mid}", b"{}", False, mid, 1)
    lanes.new_connection()  # the broker will deliver 1-3 again; their ids mean others now
    lanes.put("louyu/b1/parking_space/s-9", b"{}", False, 1, 1)
    lanes.put("louyu/b1/parking_space/s-8", b"{}", False, 0, 0)  # QoS 0: nothing to acknowledge
    gate.set()
    wait_for(lambda: len(recorder.evaluated) == 5)
    wait_for(lambda: recorder.acks == [1])
    time.sleep(0.05)
    assert recorder.acks == [1]


def test_acknowledgements_go_in_batches_and_none_waits_once_the_lanes_are_empty(
    held: tuple[Lanes, Recorder, threading.Event],
) -> None:
    lanes, recorder, gate = held
    count = ACK_BATCH * 2 + 50
    for mid in range(1, count + 1):
        lanes.put(f"louyu/b1/parking_space/s-{mid % 7}", b"{}", False, mid, 1)
    gate.set()
    wait_for(lambda: len(recorder.acks) == count)
    assert recorder.acks == list(range(1, count + 1))
    # Full batches while a backlog waits, and the rest as soon as it is done: a broker that allows
    # only a few messages in flight is never left waiting for owed acknowledgements.
    assert all(len(batch) <= ACK_BATCH for batch in recorder.batches)
    assert len(recorder.batches) < count // 10
    lanes.put("louyu/b1/parking_space/s-1", b"{}", False, count + 1, 1)
    wait_for(lambda: recorder.acks[-1] == count + 1)
    assert recorder.batches[-1] == [count + 1]


def test_stop_leaves_what_was_not_evaluated_unacknowledged() -> None:
    gate = threading.Event()
    recorder = Recorder(gate)
    lanes = Lanes(recorder.evaluate, recorder.ack, frozenset({"aed"}))
    lanes.start()
    for mid in (1, 2, 3):
        lanes.put(f"louyu/b1/parking_space/s-{mid}", b"{}", False, mid, 1)
    wait_for(lambda: lanes.depth()["bulk"] == 2)  # the first is in hand
    stopper = threading.Thread(target=lanes.stop)
    stopper.start()
    time.sleep(0.05)
    gate.set()  # the message in hand is finished; the other two stay for the broker
    stopper.join(5)
    assert recorder.evaluated == ["louyu/b1/parking_space/s-1"]
    assert recorder.acks == [1]


def test_a_full_lane_makes_the_network_thread_wait_instead_of_growing() -> None:
    gate = threading.Event()
    recorder = Recorder(gate)
    lanes = Lanes(recorder.evaluate, recorder.ack, frozenset({"aed"}), limit=3)
    lanes.start()
    try:
        for mid in range(1, 5):  # one in hand, three queued: full
            lanes.put(f"louyu/b1/parking_space/s-{mid}", b"{}", False, mid, 1)
        wait_for(lambda: lanes.depth()["bulk"] == 3)
        putter = threading.Thread(target=lanes.put, args=("louyu/b1/aed/a", b"{}", False, 5, 1))
        putter.start()
        time.sleep(0.2)
        assert putter.is_alive() and lanes.depth() == {"urgent": 0, "bulk": 3}
        gate.set()
        putter.join(5)
        wait_for(lambda: len(recorder.acks) == 5)
        assert recorder.acks == [1, 2, 3, 4, 5]
    finally:
        gate.set()
        lanes.stop()


# --------------------------------------------------------------------------- on a real broker

BACKLOG = 20_000
AED = "louyu/darong-b/aed/aed-b-1f-lobby"


@pytest.mark.integration
def test_a_cabinet_opening_is_not_stuck_behind_a_parking_backlog(
    mosquitto: Mosquitto, tmp_path: Path, listener: Listener, running: Running
) -> None:
    registry = Registry.load()
    spaces = registry.devices("parking_space")
    settings = settings_for(mosquitto, tmp_path)
    first = running.start(settings, registry)
    running.stop(first)  # the session stays: the broker queues what follows for the engine

    # While the engine is away: a garage's worth of readings, many times over, then the cabinet.
    now = int(time.time() * 1000) - BACKLOG
    backlog = (
        (
            f"louyu/{d.building}/parking_space/{d.device}",
            f'{{"ts": {now + n}, "occupied": {str(n % 2 == 0).lower()}}}'.encode(),
        )
        for n, d in ((n, spaces[n % len(spaces)]) for n in range(BACKLOG))
    )
    publish_all(mosquitto.port, backlog)
    publish_all(mosquitto.port, [(AED, b'{"state": "ready", "cabinet_open": true}')])

    engine_runner = running.start(settings, registry)
    topic, body = listener.next(timeout=30)
    evaluated_then = sum(engine_runner.engine.intake.outcomes.values())
    assert topic == "louyu/alerts/darong-b/critical/aed-cabinet-open" and body["event"] == "raised"
    # Raised while part of the parking backlog that the broker delivered first was still to be
    # evaluated. In one stream (no lanes) it comes last, after all 20,001 messages. With the lanes
    # it came after 8,500 to 9,400 in an earlier measurement, after 12,500 to 18,000 since the
    # acknowledgements are written by the network thread (the worker is faster, the reader is not):
    # the network thread takes messages off the connection only a little faster than the engine
    # evaluates them, as it waits for the interpreter's lock on every read. How long that takes is
    # for `bench rules_latency`; a session of its own for urgent kinds would end the wait.
    assert evaluated_then < BACKLOG * 19 // 20, f"{evaluated_then} of {BACKLOG + 1} messages evaluated first"

    # Everything is evaluated in the end, and acknowledged: a restart gets nothing again.
    wait_for(lambda: sum(engine_runner.engine.intake.outcomes.values()) >= BACKLOG + 1, timeout=120)
    running.stop(engine_runner)
    again = running.start(settings, registry)
    time.sleep(1.5)
    assert sum(again.engine.intake.outcomes.values()) == 0
