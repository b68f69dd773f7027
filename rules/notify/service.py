"""The notifier process: reads alert events from the store's outbox, routes them, delivers with retries.

Stages, each a small loop on its own thread (all named `louyu-notify-*`):

    mqtt      wakes `ingest` when an alert event is published; keeps the latest readings
    ingest    store.events_after(cursor) -> plan_event -> deliveries + cursor, one transaction
    timer     reminders and escalations of timed routes (policy.decide), building snapshots,
              NGSI-LD upsert rounds (ngsi_push)
    dispatch  the oldest pending delivery of each receiver, when due -> the `send` pool
    send-*    one channel call per delivery; the attempt and the next try (backoff) recorded

Nothing is kept only in memory: killed at any point, the notifier resumes from the cursor, the
pending deliveries and the tracks, all in the database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import structlog
from sqlalchemy import Engine

from collector.broker import BrokerTarget, connect_async, make_client
from collector.latest import LatestState
from collector.models import Availability, Reading
from collector.parsing import parse
from collector.registry import Registry
from rules.database.migrate import upgrade
from rules.database.notifier import FAILED
from rules.notify.backoff import next_attempt_at
from rules.notify.channels import Channel, Outgoing
from rules.notify.channels.apprise import AppriseChannel, load_urls
from rules.notify.channels.mqtt import MqttChannel
from rules.notify.channels.ngsi_ld import NgsiLdChannel, load_token
from rules.notify.channels.webhook import WebhookChannel
from rules.notify.config import Receiver, Route, RoutingConfig
from rules.notify.errors import DeliveryError
from rules.notify.ledger import Due, Ledger, TrackInfo
from rules.notify.messages import Reason
from rules.notify.metrics import NotifyMetrics, default_metrics
from rules.notify.ngsi_push import EntityHashes, current, entity_ids, plan_push
from rules.notify.planner import Planned, TrackStart, plan_event, plan_snapshot, plan_timed
from rules.notify.policy import Track, apply, decide, levels, next_due
from rules.notify.schedule import first_level_on_duty, on_duty_names
from rules.notify.signing import Signer, load_secret
from rules.notify.status import building_status
from rules.publisher import MqttEventPublisher
from rules.records import iso
from rules.store import AlertStore, NewAlert

log = structlog.get_logger("louyu.notify")

ALERT_TOPICS = "louyu/alerts/#"
# Readings and availability: an offline device's figures are stale in the snapshot as in the API.
TELEMETRY_TOPICS = [("louyu/+/+/+", 0), ("louyu/+/+/+/availability", 0)]
# On a first start with an existing store, events older than this are history, not news: a patrol
# should not be paged for last week's alerts because the notifier was installed today.
FIRST_START_WINDOW = dt.timedelta(minutes=15)
BATCH = 500


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# The factory's default 30 s cap suits the collector, whose backlog the broker keeps meanwhile.
# While the notifier is away, handset deliveries wait: it tries again at least every 10 s.
RECONNECT_MAX_DELAY_S = 10


def _no_delay(client: mqtt.Client) -> None:
    """Send small packets at once. With Nagle's algorithm on (paho leaves it on), a handset message
    published right after the PUBACK of the alert event waits for the broker's delayed ACK of that
    PUBACK: some 40 ms added to every notification."""
    sock = client.socket()
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NotifierService:
    def __init__(
        self,
        config: RoutingConfig,
        registry: Registry,
        engine: Engine,
        broker: BrokerTarget | None,
        *,
        client_id: str | None = None,
        accept_unknown: bool = False,
        clock: Callable[[], dt.datetime] = utcnow,
        poll_s: float = 1.0,
        tick_s: float = 0.5,
        workers: int = 8,
        rng: random.Random | None = None,
        create: bool = True,
        metrics: NotifyMetrics | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.engine = engine
        self.clock = clock
        self.poll_s = poll_s
        self.tick_s = tick_s
        self.workers = workers
        self.rng = rng or random.Random()
        self.metrics = metrics or default_metrics()
        if create:
            upgrade(engine)
        self.store = AlertStore(engine)
        self.ledger = Ledger(engine)
        # For the snapshot. A device not in the registry is ignored unless the site accepts
        # unknown devices (LOUYU_UNKNOWN_DEVICES=accept, which the collector and the engine follow too).
        self.latest = LatestState(registry, accept_unknown=accept_unknown)
        self.metrics.latest_devices.set_function(lambda: len(self.latest))
        self.routes: dict[str, Route] = {config.route_name(i): r for i, r in enumerate(config.routes)}
        self.broker = broker
        self.client = self._make_client(broker, client_id) if broker is not None else None
        self.publisher = MqttEventPublisher(self.client) if self.client is not None else None
        self.http = httpx.Client(follow_redirects=False, trust_env=False)
        # What was last planned for each NGSI-LD broker (see ngsi_push).
        self.ngsi_hashes: dict[str, EntityHashes] = {}
        self._next_push: dict[str, dt.datetime] = {}
        # Built now so that a missing secret stops the start-up, not the first delivery.
        self.channels: dict[str, Channel] = {r.name: self._channel(r) for r in config.receivers}
        self._stop = threading.Event()
        self._ingest_wake = threading.Event()
        self._dispatch_wake = threading.Event()
        self._busy: set[str] = set()
        self._busy_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._pool: ThreadPoolExecutor | None = None
        self._next_snapshot: dt.datetime | None = None
        self.connected = threading.Event()
        self._broker_back = threading.Event()
        self._pending_counted = 0.0

    # ------------------------------------------------------------------ setup

    def _make_client(self, broker: BrokerTarget, client_id: str | None) -> mqtt.Client:
        # A clean session: an alert event on MQTT only wakes the outbox reader, and the cursor and
        # pending deliveries are in the database, so a broker-side session would add nothing.
        client = make_client(
            broker,
            client_id or f"louyu-notifier-{uuid.uuid4().hex[:8]}",
            reconnect_max_s=RECONNECT_MAX_DELAY_S,
            loop_name="louyu-notify-mqtt",
        )
        # TCP_NODELAY is not a client option: each connection has a new socket, so `_on_connect`
        # sets it on every (re)connect (see `_no_delay`).
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    def _channel(self, receiver: Receiver) -> Channel:
        timeout = receiver.retry.timeout.total_seconds()
        if receiver.mqtt is not None:
            if self.client is None:
                raise ValueError(f"receiver {receiver.name!r} needs MQTT, and no broker is configured")
            topic = receiver.mqtt.topic or f"louyu/notify/{receiver.name}"
            return MqttChannel(self.client, topic, timeout)
        if receiver.webhook is not None:
            spec = receiver.webhook
            signer = Signer(load_secret(receiver.name, spec))
            return WebhookChannel(self.http, spec.url, signer, "application/json", spec.headers, timeout)
        if receiver.cloudevents is not None:
            ce = receiver.cloudevents
            signer = Signer(load_secret(receiver.name, ce))
            return WebhookChannel(
                self.http, ce.url, signer, "application/cloudevents+json", ce.headers, timeout
            )
        if receiver.ngsi_ld is not None:
            hashes = self.ngsi_hashes.setdefault(receiver.name, EntityHashes())
            token = load_token(receiver.name, receiver.ngsi_ld)
            return NgsiLdChannel(self.http, receiver.ngsi_ld, hashes, token, timeout)
        assert receiver.apprise is not None
        return AppriseChannel(load_urls(receiver.name, receiver.apprise))

    # ------------------------------------------------------------- lifecycle

    def start(self) -> None:
        now = self.clock()
        self._start_cursor(now)
        dropped = self.ledger.fail_unknown(self.channels, now)
        if dropped:
            log.warning("pending deliveries to receivers no longer configured failed", count=dropped)
        if self.config.snapshot is not None:
            self._next_snapshot = now + self.config.snapshot.every
        # The first round once the readings retained or sent since the start have come in.
        self._next_push = {name: now + dt.timedelta(seconds=1) for name in self.ngsi_hashes}
        self._stop.clear()
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="louyu-notify-send")
        loops: list[tuple[str, Callable[[], None]]] = [
            ("louyu-notify-ingest", self._ingest_loop),
            ("louyu-notify-dispatch", self._dispatch_loop),
            ("louyu-notify-timer", self._timer_loop),
        ]
        if self.client is not None and self.broker is not None:
            connect_async(self.client, self.broker)
            # paho's own network thread (see collector.broker.LoopClient): the send workers
            # publish to handsets from their threads, which must only queue the packets.
            self.client.loop_start()
        for name, target in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info(
            "notifier started",
            receivers=len(self.channels),
            routes=len(self.routes),
            cursor=self.ledger.cursor(),
        )

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._ingest_wake.set()
        self._dispatch_wake.set()
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        self._threads.clear()
        if self._pool is not None:
            # In-flight sends finish (each bounded by its channel timeout); queued ones stay pending.
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        for channel in self.channels.values():
            channel.close()
        self.http.close()
        log.info("notifier stopped")

    def __enter__(self) -> NotifierService:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _start_cursor(self, now: dt.datetime) -> None:
        """A first start begins just before the recent events, skipping older history."""
        if self.ledger.cursor() > 0:
            return
        horizon = now - FIRST_START_WINDOW
        last_old = 0
        after = 0
        while True:
            events = self.store.events_after(after, limit=1000)
            if not events:
                break
            for event in events:
                if event.at < horizon:
                    last_old = event.id
            after = events[-1].id
            if events[-1].at >= horizon:
                break
        if self.ledger.start_cursor_at(last_old, now) and last_old:
            log.info("first start: skipped old alert events", up_to=last_old)

    # ------------------------------------------------------------------ mqtt

    def _on_connect(self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection", reason=str(reason))
            return
        _no_delay(client)
        client.subscribe(ALERT_TOPICS, qos=1)
        if self.config.snapshot is not None or self.ngsi_hashes:
            client.subscribe(TELEMETRY_TOPICS)
        self.connected.set()
        # Handset messages that failed while the broker was away may be backing off for minutes:
        # with the broker back, they go now.
        self._broker_back.set()
        self._ingest_wake.set()  # catch up on whatever was published while we were away
        self._dispatch_wake.set()

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.connected.clear()
        if not self._stop.is_set():
            log.warning("disconnected from the broker", reason=str(reason))

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            if message.topic.startswith("louyu/alerts/"):
                self._ingest_wake.set()
                return
            reading = parse(message.topic, bytes(message.payload), int(time.time() * 1000))
            if isinstance(reading, Reading | Availability):
                self.latest.apply(reading)
        except Exception:  # never let one message kill the paho thread
            log.exception("message handling failed", topic=message.topic[:200])

    # ---------------------------------------------------------------- ingest

    def _ingest_loop(self) -> None:
        while not self._stop.is_set():
            self._ingest_wake.clear()
            try:
                if self.ingest_once() >= BATCH:
                    continue
            except Exception:
                log.exception("reading alert events failed; retrying")
            self._ingest_wake.wait(self.poll_s)

    def ingest_once(self) -> int:
        """Turn the next batch of stored alert events into deliveries; returns how many events."""
        cursor = self.ledger.cursor()
        events = self.store.events_after(cursor, limit=BATCH)
        if not events:
            return 0
        now = self.clock()
        stopping = [e.alert_id for e in events if e.event in ("acknowledged", "resolved")]
        track_levels = self.ledger.track_levels(stopping)
        deliveries: list[Planned] = []
        tracks: list[TrackStart] = []
        stops: list[tuple[int, str]] = []
        for event in events:
            try:
                plan = plan_event(
                    self.config, self.registry, event.to_json(), now, track_levels.get(event.alert_id)
                )
            except Exception:
                # One event we cannot turn into messages must not hold up every event after it.
                log.exception("alert event could not be routed; skipped", event_id=event.id)
                continue
            deliveries += plan.deliveries
            if plan.stop_alert:
                stops.append((event.alert_id, event.event))
                tracks = [t for t in tracks if t.alert_id != event.alert_id]
            tracks += plan.tracks
        self.ledger.ingest(events[-1].id, deliveries, tracks, stops, now)
        self.metrics.cursor.set(events[-1].id)
        self._count_planned(deliveries)
        if deliveries:
            self._dispatch_wake.set()
        log.debug("alert events routed", events=len(events), deliveries=len(deliveries), cursor=events[-1].id)
        return len(events)

    # ----------------------------------------------------------------- timer

    def _timer_loop(self) -> None:
        while not self._stop.wait(self.tick_s):
            try:
                self.tick_once()
            except Exception:
                log.exception("reminder and escalation pass failed; retrying")

    def tick_once(self) -> int:
        """Send the reminders, escalations and snapshot that are due; returns deliveries added."""
        now = self.clock()
        added = 0
        for info in self.ledger.due_tracks(now):
            added += self._advance(info, now)
        if (
            self.config.snapshot is not None
            and self._next_snapshot is not None
            and now >= self._next_snapshot
        ):
            status = building_status(self.registry, self.latest.snapshot(), now)
            planned = plan_snapshot(self.config, status, now)
            self.ledger.add(planned, now)
            self._count_planned(planned)
            added += len(planned)
            self._next_snapshot = now + self.config.snapshot.every
        for name, due_at in list(self._next_push.items()):
            if now >= due_at:
                added += self.push_once(name, now)
        if added:
            self._dispatch_wake.set()
        return added

    def push_once(self, name: str, now: dt.datetime) -> int:
        """Plan one NGSI-LD round for the broker `name`: the entities changed since last planned, in
        batches; none while its previous round is still pending. Returns deliveries added."""
        receiver = self.config.receiver(name)
        spec, hashes = receiver.ngsi_ld, self.ngsi_hashes[name]
        assert spec is not None
        if self.ledger.pending_for(name):
            return 0
        self._next_push[name] = now + spec.every
        found = current(spec, self.registry, self.latest.snapshot(), int(now.timestamp() * 1000))
        changed = hashes.changed(found)
        planned = plan_push(receiver, changed, now)
        if planned:
            self.ledger.add(planned, now)
            hashes.remember(changed)  # only once the rows are in: a failed insert plans them again
            self._count_planned(planned)
            log.debug("NGSI-LD round planned", receiver=name, entities=len(changed), requests=len(planned))
        return len(planned)

    def _advance(self, info: TrackInfo, now: dt.datetime) -> int:
        route = self.routes.get(info.route)
        alert = self.store.get(info.alert_id)
        if route is None or alert is None:
            self.ledger.stop_tracks(info.alert_id, "route removed" if route is None else "alert gone", now)
            return 0
        # The store, not the last event we read, says whether somebody has taken the alert.
        decision = decide(route, info.track, alert.state, now)
        if decision.stop:
            self.ledger.stop_tracks(info.alert_id, alert.state, now)
            return 0
        chain = levels(route)
        track = apply(info.track, decision, now)
        names: list[str] = []
        reason: Reason | None = None
        if decision.escalate_to is not None:
            found = first_level_on_duty(self.config, chain, decision.escalate_to, now)
            if found is not None:
                level, names = found
                track = Track(track.started_at, level, now, 0)
                reason = "escalation"
        elif decision.remind:
            names = on_duty_names(self.config, chain[track.level], now)
            reason = "reminder"
            if not names:  # the whole level went off duty: pass the alert on
                found = first_level_on_duty(self.config, chain, track.level + 1, now)
                if found is not None:
                    level, names = found
                    track = Track(track.started_at, level, now, 0)
                    reason = "escalation"
        planned: list[Planned] = []
        if reason is not None and names:
            event = {
                "event_id": info.event_id,
                "event": "escalated" if reason == "escalation" else "reminded",
                "at": iso(now),
                "by": None,
                "note": None,
                "alert": alert.to_json(),
            }
            planned = plan_timed(
                self.config,
                self.registry,
                event,
                info.route,
                reason,
                track.level,
                track.reminders,
                names,
                track.started_at,
                now,
            )
        if self.ledger.advance_track(
            info.alert_id, info.route, info.track, track, next_due(route, track), planned, now
        ):
            self._count_planned(planned)
            return len(planned)
        return 0

    def _count_planned(self, planned: list[Planned]) -> None:
        for item in planned:
            self.metrics.planned.labels(item.reason).inc()

    # -------------------------------------------------------------- dispatch

    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            self._dispatch_wake.clear()
            wait = self.poll_s
            try:
                wait = self.dispatch_once()
            except Exception:
                log.exception("reading pending deliveries failed; retrying")
            self._dispatch_wake.wait(wait)

    def dispatch_once(self) -> float:
        """Hand every due head-of-queue delivery to the pool; returns how long to wait at most."""
        now = self.clock()
        if self._broker_back.is_set():
            self._broker_back.clear()
            self.ledger.retry_now("mqtt", now)
        with self._busy_lock:
            busy = set(self._busy)
        due, later = self.ledger.heads(self.channels, busy, now)
        if time.monotonic() >= self._pending_counted + 1.0:  # a gauge: once a second is plenty
            self._pending_counted = time.monotonic()
            self.metrics.pending.set(self.ledger.pending_count())
        pool = self._pool
        for item in due:
            if pool is None or self._stop.is_set():
                break
            with self._busy_lock:
                self._busy.add(item.receiver)
            pool.submit(self._deliver, item)
        if later is None:
            return self.poll_s
        return min(self.poll_s, max(0.005, (later - now).total_seconds()))

    def _deliver(self, due: Due) -> None:
        try:
            self.deliver(due)
        except Exception:
            log.exception("recording a delivery attempt failed; it stays pending", delivery=due.id)
        finally:
            with self._busy_lock:
                self._busy.discard(due.receiver)
            self._dispatch_wake.set()

    def deliver(self, due: Due) -> str:
        """One try of one delivery, recorded; returns the delivery's new state."""
        channel = self.channels.get(due.receiver)
        receiver = self._receiver(due.receiver)
        started = self.clock()
        t0 = time.perf_counter()
        ok, retryable, status_code, error = False, False, None, None
        if channel is None or receiver is None:
            error = f"receiver {due.receiver!r} is no longer in the routing file"
        else:
            try:
                channel.send(
                    Outgoing(due.id, due.receiver, due.title, due.payload, due.attempts + 1), started
                )
                ok = True
            except DeliveryError as failure:
                retryable, status_code, error = failure.retryable, failure.status, str(failure)
            except Exception as failure:  # a channel bug must not lose the delivery: try again later
                log.exception("channel raised unexpectedly", receiver=due.receiver, delivery=due.id)
                retryable, error = True, f"{type(failure).__name__}: {failure}"
        duration_ms = int((time.perf_counter() - t0) * 1000)
        now = self.clock()
        retry_at = None
        if not ok and retryable and receiver is not None:
            retry_at = next_attempt_at(receiver.retry, due.attempts + 1, now, due.deadline, self.rng)
        state = self.ledger.record_attempt(
            due, started, duration_ms, ok, retryable, status_code, error, retry_at
        )
        outcome = "ok" if ok else "retry" if state == "pending" else "failed"
        self.metrics.attempts.labels(due.channel, outcome).inc()
        self.metrics.attempt_seconds.labels(due.channel).observe(duration_ms / 1000)
        if state in ("delivered", FAILED):
            self.metrics.deliveries.labels(due.channel, state).inc()
        if ok:
            log.debug("delivered", delivery=due.id, receiver=due.receiver, ms=duration_ms)
        else:
            log.warning(
                "delivery attempt failed",
                delivery=due.id,
                receiver=due.receiver,
                attempt=due.attempts + 1,
                error=error,
                state=state,
            )
        if state == FAILED and due.receiver in self.ngsi_hashes:
            # Given up (deadline, or refused): the next round sends these entities again.
            self.ngsi_hashes[due.receiver].forget(entity_ids(due.payload))
        if state == FAILED and due.severity == "critical":
            self._raise_failure(due, error or "failed")
        return state

    def _receiver(self, name: str) -> Receiver | None:
        try:
            return self.config.receiver(name)
        except KeyError:
            return None

    def _raise_failure(self, due: Due, error: str) -> None:
        """A critical alert that could not be delivered is itself an alert (major), through the store and
        onto MQTT like any other, so that the dashboard and the other receivers see it."""
        alert = self.store.get(due.alert_id) if due.alert_id is not None else None
        if alert is None:
            return
        new = NewAlert(
            rule=self.config.delivery_failed_rule,
            severity="major",
            building=alert.building,
            kind=alert.kind,
            device=alert.device,
            summary=f"Could not notify {due.receiver} of alert #{alert.id} ({alert.rule}): {error[:200]}",
            value=due.receiver,
            labels={**alert.labels, "receiver": due.receiver, "alert_id": str(alert.id), "delivery": due.id},
        )
        event = self.store.raise_alert(new, self.clock())
        if event is not None:
            log.error("critical delivery failed; alert raised", delivery=due.id, alert=event.alert.id)
            if self.publisher is not None:
                self.publisher.publish(event)
            self._ingest_wake.set()
