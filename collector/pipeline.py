"""From parsed messages to durable storage, then the acknowledgement.

The paho thread calls `handle()` for every message: parse, encode, append to the open batch.
A writer thread closes a batch when it is full or old enough, stores it (InfluxDB, or the spool
when InfluxDB does not take it), records its rejections, and only then acknowledges its messages
to the broker, in the order they arrived. A message is therefore never acknowledged before its
reading is durable, and a crash at any point leaves it with the broker, which delivers it again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from collector.dead_letters import DeadLetters
from collector.errors import RejectedWriteError, RetryableWriteError, SpoolError
from collector.influx_sink import Sink
from collector.line_protocol import encode, tag_set
from collector.models import Availability, Reading, Rejection, RejectReason
from collector.parsing import excerpt, parse
from collector.registry import Registry
from collector.spool import Spool
from collector.stats import CollectorStats

log = structlog.get_logger("louyu.collector")

Acker = Callable[[int, int], object]

MIN_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
# While draining the spool, hand the writer back to live batches this often.
DRAIN_SLICE_S = 0.5
# Close a batch early once messages stop arriving for this long. A broker that lets only a few
# unacknowledged messages be in flight (Mosquitto's default is 20) sends that many, then waits
# for acks: without this, each such trickle would wait out the whole batch interval.
IDLE_FLUSH_S = 0.02


@dataclass(slots=True)
class Batch:
    lines: list[bytes] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    acks: list[tuple[int, int]] = field(default_factory=list)
    opened: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.lines or self.rejections or self.acks)


class Pipeline:
    def __init__(
        self,
        *,
        sink: Sink,
        spool: Spool,
        dead_letters: DeadLetters,
        registry: Registry,
        acker: Acker,
        stats: CollectorStats | None = None,
        batch_size: int = 5000,
        batch_interval_s: float = 0.2,
        idle_flush_s: float = IDLE_FLUSH_S,
    ) -> None:
        self.sink = sink
        self.spool = spool
        self.dead_letters = dead_letters
        self.registry = registry
        self.acker = acker
        self.stats = stats or CollectorStats()
        self.batch_size = batch_size
        self.batch_interval_s = batch_interval_s
        self.idle_flush_s = min(idle_flush_s, batch_interval_s)
        self._last_arrival = 0.0
        self._batch = Batch()
        # Full batches wait here, in arrival order, so a burst never makes one oversized write.
        self._closed: deque[Batch] = deque()
        self._cond = threading.Condition()
        self._tags: dict[tuple[str, str, str], str] = {}
        self._stopping = False
        self._flush_requested = False
        self._thread: threading.Thread | None = None
        self._down_until = 0.0
        self._backoff = MIN_BACKOFF_S
        self._idle = threading.Event()

    # -- the paho thread -------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        """Take one message. Never raises: a bad message must not stop the ones around it."""
        stats = self.stats
        stats.received += 1
        try:
            result = parse(topic, payload, int(time.time() * 1000))
        except Exception as error:
            log.exception("parser failed", topic=topic[:200])
            result = Rejection(
                RejectReason.BAD_VALUE,
                f"internal parser error: {error}",
                topic[:300],
                excerpt(payload),
                int(time.time() * 1000),
            )
        line = None
        if type(result) is Reading:
            line = encode(result, self._tag_set(result))
            stats.accepted[result.kind] += 1
        elif type(result) is Availability:
            stats.availability += 1
        else:
            stats.rejected[result.reason.value] += 1  # type: ignore[union-attr]
        with self._cond:
            batch = self._batch
            self._last_arrival = now = time.monotonic()
            if not batch:
                batch.opened = now
            if line is not None:
                batch.lines.append(line)
            elif type(result) is Rejection:
                batch.rejections.append(result)
            if qos:
                batch.acks.append((mid, qos))
            if len(batch.lines) >= self.batch_size:
                self._closed.append(batch)
                self._batch = Batch()
                self._cond.notify()

    def _tag_set(self, reading: Reading) -> str:
        key = (reading.building, reading.kind, reading.device)
        tags = self._tags.get(key)
        if tags is None:
            info = self.registry.get(*key)
            if info is None and key not in self.stats.unregistered:
                self.stats.unregistered.add(key)
                log.info("unregistered device", building=key[0], kind=key[1], device=key[2])
            tags = tag_set(reading.building, reading.device, info.tags() if info else {})
            self._tags[key] = tags
        return tags

    # -- the writer thread -----------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="louyu-collector-writer")
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Store and acknowledge what is open, then stop the writer."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def flush(self, timeout: float = 30.0) -> bool:
        """Close the open batch now and wait until it is stored and acknowledged."""
        with self._cond:
            self._flush_requested = True
            self._idle.clear()
            self._cond.notify()
        return self._idle.wait(timeout)

    def _take_batch(self) -> Batch | None:
        with self._cond:
            while True:
                if self._closed:
                    return self._closed.popleft()
                batch = self._batch
                if self._stopping or self._flush_requested:
                    break
                now = time.monotonic()
                if batch and (
                    now - batch.opened >= self.batch_interval_s
                    or now - self._last_arrival >= self.idle_flush_s
                ):
                    break
                timeout = (
                    min(
                        self.batch_interval_s - (now - batch.opened),
                        self.idle_flush_s - (now - self._last_arrival),
                    )
                    if batch
                    else self.batch_interval_s
                )
                if not batch and self.spool.batches and time.monotonic() >= self._down_until:
                    return None  # idle, and the spool has work: drain it
                self._cond.wait(max(0.001, timeout))
            self._batch = Batch()
            self._flush_requested = False
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is not None:
                self._commit(batch)
                with self._cond:
                    settled = not self._closed and not self._flush_requested
                if settled:
                    self._idle.set()
                    if self._stopping:
                        return
            self._drain_spool()

    def _commit(self, batch: Batch) -> None:
        if batch.lines:
            while not self._store(batch.lines):
                # Neither InfluxDB nor the spool took it: keep the messages unacknowledged and try
                # again. The broker's in-flight window stops the flow meanwhile.
                if self._stopping:
                    log.error(
                        "stopping with an unstored batch; the broker keeps its messages",
                        points=len(batch.lines),
                    )
                    return
                time.sleep(1.0)
        if batch.rejections:
            try:
                self.dead_letters.add(batch.rejections)
            except Exception:
                log.exception("cannot record rejected messages", count=len(batch.rejections))
            for rejection in batch.rejections[:3]:
                log.info(
                    "message rejected",
                    reason=rejection.reason.value,
                    detail=rejection.detail,
                    topic=rejection.topic,
                    excerpt=rejection.excerpt[:80],
                )
        ack = self.acker
        for mid, qos in batch.acks:
            ack(mid, qos)
        self.stats.acked += len(batch.acks)

    def _store(self, lines: list[bytes]) -> bool:
        """InfluxDB if it answers, else the spool. False when neither took the lines."""
        if time.monotonic() >= self._down_until:
            try:
                self._write(lines)
                return True
            except RetryableWriteError as error:
                self._mark_down(error)
        try:
            self.spool.append(b"".join(lines), len(lines))
        except SpoolError as error:
            log.error("spool refused a batch", error=str(error))
            return False
        self.stats.spooled += len(lines)
        return True

    def _write(self, lines: list[bytes]) -> None:
        """Write lines; isolate lines InfluxDB refuses, so the good ones of the batch are stored."""
        started = time.monotonic()
        try:
            self.sink.write(b"".join(lines))
        except RetryableWriteError:
            self.stats.write_errors["retryable"] += 1
            raise
        except RejectedWriteError as error:
            self.stats.write_errors["rejected"] += 1
            if len(lines) == 1:
                self._reject_line(lines[0], error)
                return
            middle = len(lines) // 2
            self._write(lines[:middle])
            self._write(lines[middle:])
            return
        self.stats.observe_write(time.monotonic() - started)
        self.stats.written += len(lines)
        self._backoff = MIN_BACKOFF_S

    def _reject_line(self, line: bytes, error: RejectedWriteError) -> None:
        self.stats.rejected[RejectReason.INFLUX_REJECTED.value] += 1
        text = line.decode("utf-8", "replace")
        measurement = text.split(",", 1)[0]
        rejection = Rejection(
            RejectReason.INFLUX_REJECTED,
            f"InfluxDB {error.status}: {error.body[:300]}",
            f"(stored line, measurement {measurement})",
            text[:200],
            int(time.time() * 1000),
        )
        log.warning("InfluxDB refused a line", detail=rejection.detail, line=text[:120])
        try:
            self.dead_letters.add([rejection])
        except Exception:
            log.exception("cannot record a refused line")

    def _mark_down(self, error: RetryableWriteError) -> None:
        wait = error.retry_after if error.retry_after is not None else self._backoff
        wait = min(max(wait, MIN_BACKOFF_S), 300.0)
        self._down_until = time.monotonic() + wait
        self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)
        log.warning("InfluxDB write failed; spooling", reason=error.reason, retry_in_s=round(wait, 2))

    def _drain_spool(self) -> None:
        if not self.spool.batches or time.monotonic() < self._down_until:
            return
        started = time.monotonic()
        while time.monotonic() - started < DRAIN_SLICE_S:
            batch = self.spool.oldest()
            if batch is None:
                log.info("spool drained")
                return
            try:
                self._write(batch.body.splitlines(keepends=True))
            except RetryableWriteError as error:
                self._mark_down(error)
                return
            self.spool.remove(batch)
            self.stats.drained += batch.points
            with self._cond:
                if self._closed or self._stopping:
                    return
