"""From parsed messages to durable storage, then the acknowledgement.

The paho thread calls `handle()` for every message: parse, encode, append to the open batch.
A writer thread closes a batch when it is full or old enough, stores it (InfluxDB, or the spool
when InfluxDB does not take it), records its quarantined readings and its rejections, and only
then acknowledges its messages to the broker, in the order they arrived. A message is therefore
never acknowledged before its reading is durable, and a crash at any point leaves it with the
broker, which delivers it again.

A valid reading from a device the registry does not know is quarantined by default (not written
to InfluxDB: see collector/quarantine.py); with `unknown_devices="accept"` it is stored like any
other, without registry tags. Every table here keyed by device has a bound: the tag cache of
registry devices is bounded by the registry, the one of accepted unknown devices by
`UNKNOWN_TAGS_MAX`, a batch's quarantined readings by the batch size.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Literal

import structlog

from collector.dead_letters import DeadLetters
from collector.errors import RejectedWriteError, RetryableWriteError, SpoolError
from collector.influx_sink import Sink
from collector.line_protocol import encode_line, line_prefix, tag_set
from collector.log_limits import OTHER_KEY, LogThrottle
from collector.models import Availability, DeviceKey, Reading, Rejection, RejectReason
from collector.parsing import excerpt, parse
from collector.quarantine import Quarantine, Sighting
from collector.registry import Registry
from collector.spool import Spool
from collector.stats import CollectorStats

log = structlog.get_logger("louyu.collector")

# Acknowledges message ids of one QoS, in the order given (the order they arrived): once per
# batch rather than once per message, so the source can send them as one write.
Acker = Callable[[list[int], int], object]
UnknownDevices = Literal["quarantine", "accept"]

MIN_BACKOFF_S = 0.5
MAX_BACKOFF_S = 30.0
# While draining the spool, hand the writer back to live batches this often.
DRAIN_SLICE_S = 0.5
# Close a batch early once messages stop arriving for this long. A broker that lets only a few
# unacknowledged messages be in flight (Mosquitto's default is 20) sends that many, then waits
# for acks: without this, each such trickle would wait out the whole batch interval.
IDLE_FLUSH_S = 0.02
# Accepted unknown devices whose tag set is cached; past it, theirs is computed per message.
UNKNOWN_TAGS_MAX: Final = 10_000
# How long the writer sleeps before retrying a quarantine write that failed.
QUARANTINE_RETRY_S = 1.0


@dataclass(slots=True)
class Batch:
    lines: list[bytes] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    # Readings of unknown devices, with their payload and time of receipt (ms).
    quarantined: list[tuple[Reading, bytes, int]] = field(default_factory=list)
    # Message ids to acknowledge, by QoS (the collector subscribes at QoS 1, so QoS 2 is rare).
    acks: list[int] = field(default_factory=list)
    acks_qos2: list[int] = field(default_factory=list)
    opened: float = 0.0

    def __bool__(self) -> bool:
        return bool(self.lines or self.rejections or self.quarantined or self.acks or self.acks_qos2)


class Pipeline:
    def __init__(
        self,
        *,
        sink: Sink,
        spool: Spool,
        dead_letters: DeadLetters,
        registry: Registry,
        acker: Acker,
        quarantine: Quarantine | None = None,
        unknown_devices: UnknownDevices = "quarantine",
        stats: CollectorStats | None = None,
        batch_size: int = 5000,
        batch_interval_s: float = 0.2,
        idle_flush_s: float = IDLE_FLUSH_S,
    ) -> None:
        if unknown_devices == "quarantine" and quarantine is None:
            raise ValueError("unknown_devices='quarantine' needs a quarantine store")
        self.sink = sink
        self.spool = spool
        self.dead_letters = dead_letters
        self.quarantine = quarantine
        self.accept_unknown = unknown_devices == "accept"
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
        # The paho thread takes the bare lock (a C call); Condition's own `with` is two Python calls.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        # Line prefixes (measurement and tag set) of registry devices (bounded by the registry)
        # and of accepted unknown devices (bounded by UNKNOWN_TAGS_MAX), by topic: one dict lookup
        # per reading on the hot path, on the string paho hands over.
        self._tags: dict[str, str] = {}
        self._unknown_tags: dict[str, str] = {}
        self.stats.table_limits.update({"registry_tags": len(registry), "unknown_tags": UNKNOWN_TAGS_MAX})
        if quarantine is not None:
            self.stats.table_limits["quarantine"] = quarantine.max_rows
        # Logging a sensor can trigger is rate-limited: per reason, per building.
        self._rejection_log = LogThrottle("message rejected", "reason", burst=5)
        self._unknown_log = LogThrottle("unknown device", "building", burst=1)
        self._refused_log = LogThrottle("InfluxDB refused a line", "measurement", burst=5)
        self._stopping = False
        self._flush_requested = False
        self._thread: threading.Thread | None = None
        self._down_until = 0.0
        self._backoff = MIN_BACKOFF_S
        self._idle = threading.Event()
        self._housekeeping_due = 0.0

    # -- the paho thread -------------------------------------------------------------------------

    def handle(self, topic: str, payload: bytes, mid: int, qos: int) -> None:
        """Take one message. Never raises: a bad message must not stop the ones around it."""
        stats = self.stats
        stats.received += 1
        now_ms = time.time_ns() // 1_000_000
        try:
            result = parse(topic, payload, now_ms)
        except Exception as error:
            if self._rejection_log.allow("parser_error", time.monotonic()):
                log.exception("parser failed", topic=topic[:200])
            result = Rejection(
                RejectReason.BAD_VALUE,
                f"internal parser error: {error}",
                topic[:300],
                excerpt(payload),
                now_ms,
            )
        line = None
        unknown = None
        rejection = None
        cls = type(result)
        if cls is Reading:
            reading: Reading = result  # type: ignore[assignment]
            prefix = self._tags.get(topic) or self._line_prefix(topic, reading)
            if prefix is not None:
                line = encode_line(prefix, reading)
                stats.accepted[reading.kind] += 1
            else:
                unknown = (reading, payload, now_ms)
        elif cls is Availability:
            stats.availability += 1
        else:
            rejection = result
            stats.rejected[result.reason.value] += 1  # type: ignore[union-attr]
        with self._lock:
            batch = self._batch
            self._last_arrival = now = time.monotonic()
            if not batch:
                batch.opened = now
                # The writer, idle, sleeps for up to a batch interval: wake it so that it times
                # this batch (a lone reading is stored after IDLE_FLUSH_S, not a whole interval).
                self._cond.notify()
            if line is not None:
                batch.lines.append(line)
            elif unknown is not None:
                batch.quarantined.append(unknown)
            elif rejection is not None:
                batch.rejections.append(rejection)  # type: ignore[arg-type]
            if qos == 1:
                batch.acks.append(mid)
            elif qos:
                batch.acks_qos2.append(mid)
            if len(batch.lines) >= self.batch_size or len(batch.quarantined) >= self.batch_size:
                self._closed.append(batch)
                self._batch = Batch()
                self._cond.notify()

    def _line_prefix(self, topic: str, reading: Reading) -> str | None:
        """The line prefix of a reading whose device is not cached yet; None: quarantine it."""
        info = self.registry.get(reading.building, reading.kind, reading.device)
        if info is not None:
            prefix = self._tags[topic] = line_prefix(
                reading.kind, tag_set(reading.building, reading.device, info.tags())
            )
            return prefix
        if not self.accept_unknown:
            return None
        # Accepted, stored without registry tags.
        self.stats.unknown_accepted[self._building_label(reading.building)] += 1
        cached = self._unknown_tags.get(topic)
        if cached is not None:
            return cached
        prefix = line_prefix(reading.kind, tag_set(reading.building, reading.device, {}))
        if len(self._unknown_tags) < UNKNOWN_TAGS_MAX:
            self._unknown_tags[topic] = prefix
        if self._unknown_log.allow(reading.building, time.monotonic()):
            log.info(
                "unregistered device accepted",
                building=reading.building,
                kind=reading.kind,
                device=reading.device,
            )
        return prefix

    def _building_label(self, building: str) -> str:
        """A metric label: registry buildings by name, invented ones together (a bounded label set)."""
        return building if building in self.registry.buildings else OTHER_KEY

    def table_sizes(self) -> dict[str, int]:
        """Entries in each per-device table (read at scrape time, from another thread)."""
        sizes = {"registry_tags": len(self._tags), "unknown_tags": len(self._unknown_tags)}
        if self.quarantine is not None:
            sizes["quarantine"] = self.quarantine.count()
        return sizes

    def log_suppressed(self) -> dict[str, int]:
        throttles = (self._rejection_log, self._unknown_log, self._refused_log)
        return {t.event: t.suppressed_total for t in throttles}

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
                if not batch and now >= self._housekeeping_due:
                    return None  # idle: let the writer log the summaries of ended log windows
                self._cond.wait(max(0.001, timeout))
            self._batch = Batch()
            self._flush_requested = False
            return batch

    def _run(self) -> None:
        while True:
            now = time.monotonic()
            if now >= self._housekeeping_due:
                self._housekeeping_due = now + 1.0
                for throttle in (self._rejection_log, self._unknown_log, self._refused_log):
                    throttle.roll(now)
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
        if batch.quarantined and not self._hold_apart(batch.quarantined):
            return  # stopping: the broker keeps these messages
        if batch.rejections:
            try:
                self.dead_letters.add(batch.rejections)
            except Exception:
                log.exception("cannot record rejected messages", count=len(batch.rejections))
            now = time.monotonic()
            for rejection in batch.rejections:
                if self._rejection_log.allow(rejection.reason.value, now):
                    log.info(
                        "message rejected",
                        reason=rejection.reason.value,
                        detail=rejection.detail,
                        topic=rejection.topic,
                        excerpt=rejection.excerpt[:80],
                    )
        if batch.acks:
            self.acker(batch.acks, 1)
        if batch.acks_qos2:
            self.acker(batch.acks_qos2, 2)
        self.stats.acked += len(batch.acks) + len(batch.acks_qos2)

    def _hold_apart(self, readings: list[tuple[Reading, bytes, int]]) -> bool:
        """Record a batch's readings of unknown devices in the quarantine, one row per device.

        This write is what their acknowledgement waits for: while it fails, retry (the broker's
        in-flight window holds the flow); False only when stopping with it still unwritten.
        """
        sightings: dict[DeviceKey, Sighting] = {}
        for reading, payload, received_ms in readings:
            key = reading.key
            seen = sightings.get(key)
            if seen is None:
                sightings[key] = Sighting(received_ms, received_ms, 1, excerpt(payload))
            else:
                seen.last_ms = received_ms
                seen.messages += 1
                seen.excerpt = excerpt(payload)
        assert self.quarantine is not None
        while True:
            try:
                evicted = self.quarantine.add(sightings.items())
                break
            except (sqlite3.Error, OSError) as error:
                log.error("cannot record quarantined readings", error=str(error)[:200], count=len(readings))
                if self._stopping:
                    return False
                time.sleep(QUARANTINE_RETRY_S)
        stats = self.stats
        stats.quarantine_evicted += evicted
        now = time.monotonic()
        for key, seen in sightings.items():
            stats.quarantined[self._building_label(key.building)] += seen.messages
            if self._unknown_log.allow(key.building, now):
                log.warning(
                    "unknown device quarantined",
                    building=key.building,
                    kind=key.kind,
                    device=key.device,
                    excerpt=seen.excerpt[:80],
                )
        return True

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
        if self._refused_log.allow(measurement[:64], time.monotonic()):
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
