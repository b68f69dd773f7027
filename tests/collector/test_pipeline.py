"""The pipeline's decisions: ack only what is durable, in order; spool what InfluxDB will not take;
isolate lines InfluxDB refuses. The sink here is an in-memory stand-in; the same behaviours are
tested against real influxd in test_durability.py."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog.testing

from collector.dead_letters import DeadLetters
from collector.errors import RejectedWriteError, RetryableWriteError
from collector.pipeline import Pipeline
from collector.quarantine import Quarantine
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

    def __call__(self, mids: list[int], qos: int) -> None:
        self.mids.extend(mids)


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[Pipeline, MemorySink, Acks]]:
    sink, acks = MemorySink(), Acks()
    pipeline = Pipeline(
        sink=sink,
        spool=Spool(tmp_path / "spool.db"),
        dead_letters=DeadLetters(tmp_path / "dl.db"),
        quarantine=Quarantine(tmp_path / "dl.db", max_rows=50),
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
    assert pipeline.quarantine is not None
    pipeline.quarantine.close()


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


def test_a_lone_reading_is_stored_after_the_idle_flush_not_a_batch_interval(tmp_path: Path) -> None:
    # The first stored point after start-up, and a trickle of readings, must not wait for the
    # writer's idle sleep: the first reading of a batch wakes it.
    sink, acks = MemorySink(), Acks()
    pipeline = Pipeline(
        sink=sink,
        spool=Spool(tmp_path / "s.db"),
        dead_letters=DeadLetters(tmp_path / "d.db"),
        quarantine=Quarantine(tmp_path / "d.db"),
        registry=Registry.load(),
        acker=acks,
        batch_interval_s=5.0,
    )
    pipeline.start()
    try:
        for mid in (1, 2, 3, 4):
            time.sleep(0.3)  # the writer is idle, asleep
            sent = time.monotonic()
            pipeline.handle(*space(mid), mid=mid, qos=1)
            wait_until(lambda: len(acks.mids) == mid, timeout=5)  # noqa: B023  (called at once)
            assert time.monotonic() - sent < 0.3, "waited for the writer's idle sleep"
        assert len(sink.lines) == 4
    finally:
        pipeline.stop()
        pipeline.spool.close()
        pipeline.dead_letters.close()
    assert pipeline.quarantine is not None
    pipeline.quarantine.close()


def test_nothing_is_acked_when_neither_database_nor_spool_take_it(tmp_path: Path) -> None:
    sink, acks = MemorySink(), Acks()
    sink.down = True
    pipeline = Pipeline(
        sink=sink,
        spool=Spool(tmp_path / "s.db", max_points=1000),
        dead_letters=DeadLetters(tmp_path / "d.db"),
        quarantine=Quarantine(tmp_path / "d.db"),
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
    assert pipeline.quarantine is not None
    pipeline.quarantine.close()


def test_unknown_devices_are_quarantined_not_stored_yet_acked_in_order(
    parts: tuple[Pipeline, MemorySink, Acks],
) -> None:
    pipeline, sink, acks = parts
    pipeline.handle("louyu/new-tower/aed/aed-x", b'{"state": "ready", "cabinet_open": true}', mid=1, qos=1)
    pipeline.handle(*space(1), mid=2, qos=1)
    pipeline.handle("louyu/darong-a/parking_space/zz-999", b'{"occupied": true}', mid=3, qos=1)
    pipeline.handle("louyu/darong-a/parking_space/zz-999", b'{"occupied": false}', mid=4, qos=1)
    assert pipeline.flush()
    assert acks.mids == [1, 2, 3, 4], "quarantined messages are acknowledged too, in arrival order"
    assert len(sink.lines) == 1 and sink.lines[0].startswith(b"parking_space,building=darong-a,device=b1-002")
    assert pipeline.quarantine is not None
    held = {str(row.key): row for row in pipeline.quarantine.latest(10)}
    assert set(held) == {"new-tower/aed/aed-x", "darong-a/parking_space/zz-999"}
    assert held["darong-a/parking_space/zz-999"].messages == 2
    assert held["darong-a/parking_space/zz-999"].excerpt == '{"occupied": false}', "the last payload"
    # Invented buildings share one label: the metric's label set stays bounded.
    assert pipeline.stats.quarantined == {"darong-a": 2, "_other": 1}
    assert pipeline.stats.accepted["aed"] == 0


def test_the_quarantine_keeps_its_bound_evicting_the_least_recently_heard(
    parts: tuple[Pipeline, MemorySink, Acks],
) -> None:
    pipeline, _, acks = parts  # the fixture's quarantine holds 50 devices
    for n in range(300):
        pipeline.handle(f"louyu/darong-a/parking_space/fake-{n:04d}", b'{"occupied": true}', mid=n + 1, qos=1)
        if n % 100 == 99:
            assert pipeline.flush()
    assert pipeline.flush()
    assert len(acks.mids) == 300
    assert pipeline.quarantine is not None
    assert pipeline.quarantine.count() == 50
    assert pipeline.quarantine.evicted() == 250 == pipeline.stats.quarantine_evicted
    newest = pipeline.quarantine.latest(50)
    assert newest[0].device == "fake-0299"
    assert {row.device for row in newest} == {f"fake-{n:04d}" for n in range(250, 300)}
    assert pipeline.table_sizes()["quarantine"] == 50
    assert pipeline.stats.table_limits["quarantine"] == 50


def test_no_ack_before_the_quarantine_write_is_durable(tmp_path: Path) -> None:
    sink, acks = MemorySink(), Acks()
    quarantine = Quarantine(tmp_path / "d.db", busy_timeout_s=0.05)
    pipeline = Pipeline(
        sink=sink,
        spool=Spool(tmp_path / "s.db"),
        dead_letters=DeadLetters(tmp_path / "d.db"),
        quarantine=quarantine,
        registry=Registry.load(),
        acker=acks,
        batch_interval_s=0.05,
    )
    # Another connection holds the file's write lock: the quarantine write cannot happen.
    blocker = sqlite3.connect(tmp_path / "d.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    pipeline.start()
    try:
        pipeline.handle("louyu/darong-a/parking_space/zz-1", b'{"occupied": true}', mid=1, qos=1)
        pipeline.handle(*space(5), mid=2, qos=1)
        time.sleep(1.5)
        assert acks.mids == [], "not acknowledged while the quarantine cannot record it"
        blocker.execute("COMMIT")
        wait_until(lambda: acks.mids == [1, 2])
        assert quarantine.count() == 1
    finally:
        blocker.close()
        pipeline.stop()
        pipeline.spool.close()
        pipeline.dead_letters.close()
        quarantine.close()


def test_accept_mode_stores_unknown_devices_without_registry_tags(tmp_path: Path) -> None:
    sink, acks = MemorySink(), Acks()
    pipeline = Pipeline(
        sink=sink,
        spool=Spool(tmp_path / "s.db"),
        dead_letters=DeadLetters(tmp_path / "d.db"),
        quarantine=None,
        unknown_devices="accept",
        registry=Registry.load(),
        acker=acks,
        batch_interval_s=0.05,
    )
    pipeline.start()
    try:
        pipeline.handle("louyu/new-tower/aed/aed-x", b'{"state": "ready"}', mid=1, qos=1)
        pipeline.handle("louyu/new-tower/aed/aed-x", b'{"state": "ready"}', mid=2, qos=1)
        pipeline.handle("louyu/darong-a/parking_space/b1-001", b'{"occupied": true}', mid=3, qos=1)
        assert pipeline.flush()
    finally:
        pipeline.stop()
        pipeline.spool.close()
        pipeline.dead_letters.close()
    assert acks.mids == [1, 2, 3]
    assert sum(line.startswith(b"aed,building=new-tower,device=aed-x ") for line in sink.lines) == 2
    assert any(b"floor=B1,zone=garage" in line for line in sink.lines), "registry tags added"
    assert pipeline.stats.unknown_accepted == {"_other": 2}
    assert pipeline.table_sizes() == {"registry_tags": 1, "unknown_tags": 1}


def test_quarantine_mode_needs_a_store(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="quarantine store"):
        Pipeline(
            sink=MemorySink(),
            spool=Spool(tmp_path / "s.db"),
            dead_letters=DeadLetters(tmp_path / "d.db"),
            registry=Registry.load(),
            acker=Acks(),
        )


def test_rejection_and_unknown_device_logging_is_rate_limited(
    parts: tuple[Pipeline, MemorySink, Acks],
) -> None:
    pipeline, sink, acks = parts
    with structlog.testing.capture_logs() as logs:
        for n in range(2000):
            pipeline.handle(
                f"louyu/darong-a/parking_space/zz-{n}", b'{"occupied": true}', mid=3 * n + 1, qos=1
            )
            pipeline.handle("louyu/darong-a/aed/aed-a-1f-lobby", b"{", mid=3 * n + 2, qos=1)
            pipeline.handle(*space(n), mid=3 * n + 3, qos=1)
        assert pipeline.flush()
    assert len(acks.mids) == 6000 and len(sink.lines) == 2000
    events = [entry["event"] for entry in logs]
    assert events.count("message rejected") == 5, "first 5 per reason per window"
    assert events.count("unknown device quarantined") == 1, "first sighting of the building"
    assert len(logs) <= 10
    # The window's end brings one summary line per key with the count held back.
    with structlog.testing.capture_logs() as summaries:
        for throttle in (pipeline._rejection_log, pipeline._unknown_log):
            throttle.roll(time.monotonic() + 61)
    held_back = {(entry.get("reason") or entry.get("building")): entry["suppressed"] for entry in summaries}
    assert held_back == {"not_json": 1995, "darong-a": 1999}
    assert pipeline.log_suppressed()["message rejected"] == 1995
