"""The pipeline's decisions: ack only what is durable, in order; spool what InfluxDB will not take;
isolate lines InfluxDB refuses. The sink here is an in-memory stand-in; the same behaviours are
tested against real influxd in test_durability.py."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from collector.dead_letters import DeadLetters
from collector.errors import RejectedWriteError, RetryableWriteError
from collector.pipeline import Pipeline
from collector.registry import Registry
from collector.spool import Spool


class MemorySink:
    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.down = False
        self.refuse: set[bytes] = set()
        self.gate = threading.Event()
        self.gate.set()
        self.calls = 0

    def write(self, body: bytes) -> None:
        self.calls += 1
        self.gate.wait(10)
        if self.down:
            raise RetryableWriteError("connection refused")
        lines = body.splitlines(keepends=True)
        bad = [line for line in lines if any(marker in line for marker in self.refuse)]
        if bad:
            raise RejectedWriteError(400, '{"error":"partial write: field type conflict"}')
        self.lines.extend(lines)

    def ping(self) -> bool:
        return not self.down

    def close(self) -> None:
        pass


class Acks:
    def __init__(self) -> None:
        self.mids: list[int] = []

    def __call__(self, mid: int, qos: int) -> None:
        self.mids.append(mid)


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[Pipeline, MemorySink, Acks]]:
    sink, acks = MemorySink(), Acks()
    pipeline = Pipeline(
        sink=sink,
        spool=Spool(tmp_path / "spool.db"),
        dead_letters=DeadLetters(tmp_path / "dl.db"),
        registry=Registry.load(),
        acker=acks,
        batch_size=100,
        batch_interval_s=0.05,
    )
    pipeline.start()
    yield pipeline, sink, acks
    sink.gate.set()
    pipeline.stop()
    pipeline.spool.close()
    pipeline.dead_letters.close()


def space(n: int) -> tuple[str, bytes]:
    return f"louyu/darong-a/parking_space/b1-{n % 300 + 1:03d}", json.dumps(
        {"ts": int(time.time() * 1000) - n, "occupied": n % 2 == 0}
    ).encode()


def wait_until(check: object, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_acks_wait_for_the_write_and_keep_arrival_order(parts: tuple[Pipeline, MemorySink, Acks]) -> None:
    pipeline, sink, acks = parts
    sink.gate.clear()  # the write hangs
    for mid in range(1, 251):
        pipeline.handle(*space(mid), mid=mid, qos=1)
    time.sleep(0.3)
    assert acks.mids == [], "nothing may be acknowledged before it is stored"
    sink.gate.set()
    wait_until(lambda: len(acks.mids) == 250)
    assert acks.mids == list(range(1, 251))
    assert len(sink.lines) == 250


def test_qos0_messages_are_not_acked(parts: tuple[Pipeline, MemorySink, Acks]) -> None:
    pipeline, sink, acks = parts
    pipeline.handle(*space(1), mid=0, qos=0)
    pipeline.handle(*space(2), mid=7, qos=1)
    assert pipeline.flush()
    assert acks.mids == [7]
    assert len(sink.lines) == 2


def test_database_down_spools_then_drains(parts: tuple[Pipeline, MemorySink, Acks]) -> None:
    pipeline, sink, acks = parts
    sink.down = True
    for mid in range(1, 501):
        pipeline.handle(*space(mid), mid=mid, qos=1)
    wait_until(lambda: len(acks.mids) == 500)
    assert pipeline.spool.points == 500, "acked because spooled"
    assert sink.lines == []
    sink.down = False
    wait_until(lambda: pipeline.spool.points == 0, timeout=15)
    assert len(set(sink.lines)) == 500
    assert pipeline.stats.drained == 500


def test_refused_lines_are_isolated_and_the_rest_stored(parts: tuple[Pipeline, MemorySink, Acks]) -> None:
    pipeline, sink, acks = parts
    sink.refuse = {b"b1-005,", b"b1-077,"}
    for mid in range(1, 101):
        pipeline.handle(*space(mid), mid=mid, qos=1)
    assert pipeline.flush()
    assert len(sink.lines) == 98
    assert len(acks.mids) == 100
    letters = pipeline.dead_letters.latest(10, reason="influx_rejected")
    assert sorted(r.excerpt.split(",")[2] for r in letters) == ["device=b1-005", "device=b1-077"]
    assert pipeline.stats.rejected["influx_rejected"] == 2


def test_bad_messages_do_not_disturb_the_good_ones(parts: tuple[Pipeline, MemorySink, Acks]) -> None:
    pipeline, sink, acks = parts
    bad = [
        ("louyu/darong-a/aed/x", b"{"),
        ("louyu/alerts/aed/x", b"{}"),
        ("junk", b"\xff"),
        ("louyu/darong-a/parking_lot/garage", b'{"occupied": 1e400}'),
    ]
    mid = 0
    for n in range(40):
        for topic, payload in [space(n), bad[n % len(bad)]]:
            mid += 1
            pipeline.handle(topic, payload, mid=mid, qos=1)
    assert pipeline.flush()
    assert len(sink.lines) == 40
    assert acks.mids == list(range(1, 81))
    assert sum(pipeline.stats.rejected.values()) == 40
    kept = pipeline.dead_letters.latest(100)
    assert len(kept) == 40
    assert {r.reason for r in kept} == {"not_json", "reserved_building", "bad_topic", "wrong_type"}


def test_nothing_is_acked_when_neither_database_nor_spool_take_it(tmp_path: Path) -> None:
    sink, acks = MemorySink(), Acks()
    sink.down = True
    pipeline = Pipeline(
        sink=sink,
        spool=Spool(tmp_path / "s.db", max_points=1000),
        dead_letters=DeadLetters(tmp_path / "d.db"),
        registry=Registry.load(),
        acker=acks,
        batch_size=600,
        batch_interval_s=0.05,
    )
    pipeline.start()
    try:
        for mid in range(1, 1201):
            pipeline.handle(*space(mid), mid=mid, qos=1)
        wait_until(lambda: len(acks.mids) == 600)
        time.sleep(0.5)
        assert len(acks.mids) == 600, "the second batch does not fit in the spool: unacknowledged"
        sink.down = False
        wait_until(lambda: len(acks.mids) == 1200, timeout=20)
        wait_until(lambda: pipeline.spool.points == 0, timeout=20)
        assert len(set(sink.lines)) == 1200
    finally:
        pipeline.stop()
        pipeline.spool.close()
        pipeline.dead_letters.close()


def test_unregistered_devices_are_accepted_and_listed(parts: tuple[Pipeline, MemorySink, Acks]) -> None:
    pipeline, sink, _ = parts
    pipeline.handle("louyu/new-tower/aed/aed-x", b'{"state": "ready"}', mid=1, qos=1)
    pipeline.handle("louyu/darong-a/parking_space/b1-001", b'{"occupied": true}', mid=2, qos=1)
    assert pipeline.flush()
    assert pipeline.stats.unregistered == {("new-tower", "aed", "aed-x")}
    assert any(line.startswith(b"aed,building=new-tower,device=aed-x ") for line in sink.lines)
    assert any(b"floor=B1,zone=garage" in line for line in sink.lines), "registry tags added"
