"""One soak, start to verdict."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from bench.soak import district
from bench.soak.faults import Fault, Injector, SpoolDisk
from bench.soak.incidents import Incident, Script, plan
from bench.soak.load import Load, SkewKey
from bench.soak.observe import Seen, Watcher, WebhookReceiver, broker_session_queues, scrape
from bench.soak.system import System
from collector.dead_letters import DeadLetters
from collector.models import FUTURE_LIMIT_MS
from louyu.testing.clients import influx_count, influx_query

MEASUREMENT_FIELD = {
    "parking_space": "occupied",
    "parking_lot": "occupied",
    "aed": "state",
    "canteen": "occupancy",
}


@dataclass
class Samples:
    """Time series taken every second for the plot and the memory verdict."""

    rss: dict[str, list[tuple[float, float, int]]] = field(default_factory=dict)  # part -> (t, MB, pid)
    written: list[tuple[float, float]] = field(default_factory=list)  # collector points written (t, total)
    spool: list[tuple[float, float]] = field(default_factory=list)
    evaluated: list[tuple[float, float]] = field(default_factory=list)  # rules engine messages (t, total)
    lanes: list[tuple[float, float, float]] = field(default_factory=list)  # (t, urgent, bulk) waiting


@dataclass
class Skewed:
    """The readings of the gateway whose clock was ahead, and where each ended: refused (the
    collector's dead letters, with the time it got them) or stored."""

    made: dict[SkewKey, float]  # -> made, wall seconds
    acked_after_s: dict[SkewKey, float]  # -> seconds from made to acknowledged by the broker
    stored: set[SkewKey] = field(default_factory=set)
    refused: dict[SkewKey, int] = field(default_factory=dict)  # -> received by the collector, ms
    # Points more than the contract's five minutes ahead in InfluxDB as the clock was set right;
    # None if InfluxDB did not answer.
    ahead_when_set_right: int | None = None

    def stored_by_measurement(self) -> dict[str, int]:
        out = dict.fromkeys(MEASUREMENT_FIELD, 0)
        for topic, _ in self.stored:
            out[topic.split("/")[2]] += 1
        return out


@dataclass
class Outcome:
    duration_s: float
    rate: float
    started: float
    ended: float
    devices: int
    load_counts: dict[str, int]
    stored: dict[str, int]
    incidents: list[Incident]
    faults: list[Fault]
    fault_errors: list[str]
    seen: list[Seen]
    webhook_refused: int
    samples: Samples
    queued_at_end: int | None  # $SYS: stored beyond retained, the fewest over the last 5 s
    per_second: list[tuple[float, int]]
    drained_in_s: float
    unacknowledged: int
    skewed_readings: Skewed
    ack_lag: list[tuple[int, float]]  # the load generator's (wall second, oldest acknowledged, s)
    # Per client id, what the broker saved as queued for its session once everything stopped.
    session_queues: dict[str, int] | None = None
    session_queues_error: str | None = None
    queued_after_stop: dict[str, int | None] = field(default_factory=dict)


def routing_file(path: Path, webhook_url: str) -> Path:
    path.write_text(
        "timezone: Asia/Shanghai\n"
        "receivers:\n"
        "  - name: patrol\n"
        "    mqtt: {}\n"
        "  - name: city\n"
        f'    webhook: {{url: "{webhook_url}", secret_env: LOUYU_SOAK_WEBHOOK_SECRET}}\n'
        "    retry: {initial: 1s, max: 5s}\n"
        "routes:\n"
        "  - name: aed-incidents\n"
        '    match: {rule: ["aed-cabinet-open", "aed-in-use"]}\n'
        "    receivers: [patrol, city]\n"
        "    events: [raised, resolved]\n"
    )
    return path


def influx_counts(url: str) -> dict[str, int]:
    return {m: influx_count(url, m, name, timeout=60) for m, name in MEASUREMENT_FIELD.items()}


def points_ahead(url: str) -> int | None:
    """Points stamped more than the contract's window ahead of now, in every measurement; None
    when InfluxDB does not answer."""
    where = f"time > now() + {FUTURE_LIMIT_MS}ms"
    try:
        return sum(influx_count(url, m, name, where, timeout=10) for m, name in MEASUREMENT_FIELD.items())
    except (OSError, RuntimeError, ValueError):
        return None


def find_skewed(skewed: Skewed, influx_url: str, dead_letters: Path) -> None:
    """Where each skewed reading ended: stored (found by topic and ts in InfluxDB) or refused
    (found by topic and ts among the collector's dead letters)."""
    if not skewed.made:
        return
    low, high = min(ts for _, ts in skewed.made), max(ts for _, ts in skewed.made)
    places = {tuple(topic.split("/")[1:3]) for topic, _ in skewed.made}
    for building, measurement in sorted(places):
        name = MEASUREMENT_FIELD[measurement]
        query = (
            f'SELECT "{name}" FROM "{measurement}" WHERE "building" = \'{building}\''
            f' AND time >= {low}ms AND time <= {high}ms GROUP BY "device"'
        )
        for series in influx_query(influx_url, query, timeout=120):
            topic = f"louyu/{building}/{measurement}/{series['tags']['device']}"
            skewed.stored.update(k for v in series["values"] if (k := (topic, int(v[0]))) in skewed.made)
    store = DeadLetters(dead_letters)
    try:
        rejected = store.latest(limit=store.count(), reason="ts_in_future")
    finally:
        store.close()
    for letter in rejected:
        with contextlib.suppress(ValueError, TypeError, KeyError):
            key = (letter.topic, int(orjson.loads(letter.excerpt)["ts"]))
            if key in skewed.made:
                skewed.refused[key] = letter.received_ms


def sample_forever(system: System, samples: Samples, stop: threading.Event) -> None:
    while not stop.wait(1.0):
        now = time.time()
        for name, part in system.parts.items():
            rss = part.rss_mb()
            if rss is not None and part.pid is not None:
                samples.rss.setdefault(name, []).append((now, rss, part.pid))
        metrics = scrape(system.parts["collector"].metrics_url)
        if "louyu_collector_points_written_total" in metrics:
            samples.written.append((now, metrics["louyu_collector_points_written_total"]))
        if "louyu_collector_spool_points" in metrics:
            samples.spool.append((now, metrics["louyu_collector_spool_points"]))
        rules = scrape(system.parts["rules"].metrics_url)
        total = sum(v for k, v in rules.items() if k.startswith("louyu_rules_messages_total{"))
        if total:
            samples.evaluated.append((now, total))
        urgent = rules.get('louyu_rules_lane_messages{lane="urgent"}')
        bulk = rules.get('louyu_rules_lane_messages{lane="bulk"}')
        if urgent is not None and bulk is not None:
            samples.lanes.append((now, urgent, bulk))


def soak(out: Path, duration_s: float, rate: float, buildings: int, spaces: int) -> Outcome:
    out.mkdir(parents=True, exist_ok=True)
    devices = district.devices(buildings, spaces)
    registry = district.write_registry(out / "registry.yaml", buildings, spaces)
    webhook = WebhookReceiver()
    os.environ["LOUYU_SOAK_WEBHOOK_SECRET"] = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    spool = SpoolDisk(out / "spool")
    spool_note = spool.mount()
    system = System(out, registry, routing_file(out / "routes.yaml", webhook.url), spool.path)
    samples, stop_sampling = Samples(), threading.Event()
    watcher: Watcher | None = None
    load: Load | None = None
    outcome: Outcome | None = None
    try:
        system.start()
        watcher = Watcher("127.0.0.1", system.broker.port)
        load = Load("127.0.0.1", system.broker.port, devices, rate)
        sampler = threading.Thread(
            target=sample_forever, args=(system, samples, stop_sampling), name="soak-sampler", daemon=True
        )
        started = time.time()
        load.start()
        sampler.start()
        aeds = [d for d in devices if d.kind == "aed"]
        skew_building, burst = (
            district.building_id(buildings - 1),
            {district.building_id(b) for b in range(buildings - 11, buildings - 1)},
        )
        injector = Injector(system, load, webhook, spool, duration_s, started, burst, skew_building)
        ahead: list[int | None] = []
        injector.after_skew = lambda: ahead.append(points_ahead(system.influxd.url))
        fault_times = [started + f.at * duration_s for f in injector.faults]
        # No incident on the buildings whose gateways will hold or skew their readings.
        usable = [d for d in aeds if d.building not in burst and d.building != skew_building]
        incidents = plan(usable, started, duration_s, fault_times)
        script = Script(load, incidents)
        injector.start()
        script.start()
        if spool_note:
            next(f for f in injector.faults if f.name.startswith("spool disk")).note = spool_note
        time.sleep(max(0.0, started + duration_s - time.time()))
        injector.stop()
        script.stop()
        load.stop()
        ended = time.time()
        # Drain: every reading acknowledged by the broker, then stored, and every incident resolved.
        # The load generator may end far behind (the 30-minute soak ended with 398,547 readings made
        # but not yet sent, after the broker slowed during the long outage): as long to send them
        # as the drain below may take.
        load.wait_acknowledged(max(120.0, duration_s / 3))
        drain_deadline = time.time() + max(120.0, duration_s / 3)
        stored = influx_counts(system.influxd.url)
        while time.time() < drain_deadline:
            stored = influx_counts(system.influxd.url)
            if all(stored[m] >= load.counts.valid[m] for m in MEASUREMENT_FIELD) and _settled(
                incidents, watcher.snapshot(), webhook.seen
            ):
                break
            time.sleep(2)
        drained_in = time.time() - ended
        skewed = Skewed(dict(load.skewed_made), dict(load.skewed_acked))
        skewed.ahead_when_set_right = ahead[0] if ahead else None
        find_skewed(skewed, system.influxd.url, system.workdir / "dead-letters.db")
        time.sleep(6)  # the broker's $SYS count is a second behind; queued() reads the last 5 s
        queued = watcher.queued()
        # Then each part stopped in turn, the count read again: a part's connection that holds
        # messages (a clean session's in-flight ones leave no trace in the saved sessions) shows
        # as the step where the count falls.
        queued_after_stop: dict[str, int | None] = {}
        for name, part in reversed(system.parts.items()):
            part.stop()
            time.sleep(2.5)
            queued_after_stop[name] = watcher.queued(over_s=1.2)
        stop_sampling.set()
        sampler.join(5)
        outcome = Outcome(
            duration_s,
            rate,
            started,
            ended,
            len(devices),
            dict(load.counts.valid),
            stored,
            incidents,
            injector.faults,
            injector.errors,
            watcher.snapshot() + list(webhook.seen),
            webhook.refused,
            samples,
            queued,
            load.per_second,
            drained_in,
            load.unacknowledged(),
            skewed,
            list(load.ack_lag),
        )
        outcome.queued_after_stop = queued_after_stop
        return outcome
    finally:
        stop_sampling.set()
        if load is not None:
            load.stop()
            load.close()
        if watcher is not None:
            watcher.close()
        webhook.close()
        with contextlib.suppress(Exception):
            system.stop()
        spool.unmount()
        if outcome is not None:
            # The broker wrote its sessions when it stopped: what is still queued for whom.
            try:
                outcome.session_queues = broker_session_queues(system.broker.workdir / "mosquitto.db")
            except (OSError, ValueError) as error:
                outcome.session_queues_error = str(error)


def _settled(incidents: list[Incident], seen: list[Seen], webhook: list[Seen]) -> bool:
    """Each incident's two alerts raised and resolved, and both events at both receivers."""
    devices = {i.device.device + "@" + i.device.building for i in incidents}
    wanted = {
        (d, rule, event)
        for d in devices
        for rule in ("aed-cabinet-open", "aed-in-use")
        for event in ("raised", "resolved")
    }
    for source, items in (("alert", seen), ("handset", seen), ("webhook", webhook)):
        got = {(s.device + "@" + s.building, s.rule, s.event) for s in items if s.source == source}
        if not wanted <= got:
            return False
    return True
