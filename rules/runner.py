"""The rules process: MQTT in (telemetry topics), the engine, scheduled jobs, MQTT out (alert events).

Threads, all named `louyu-rules-*`: the paho network loop (`louyu-rules-mqtt`, which also runs
the engine for each message), the APScheduler loop and its one worker (`louyu-rules-scheduler`,
`louyu-rules-job_0`). `stop()` joins them all.

The broker connection is a persistent MQTT 5 session (a stable client id, clean start off, a
session expiry that outlives a restart), so the readings published while the engine restarts
wait on the broker and are evaluated when it is back. What such a backlog may and may not do
to the engine's state is decided here (docs/rules.md, "Restarts: the broker session and its
backlog"):

- time is the engine's own clock: a replayed reading is evaluated, and counts as a sign of
  life, when it arrives (device clocks may be off by the contract's whole window);
- a reading whose own `ts` is older than the newest one already applied for its device is
  stale: counted, never evaluated (`ReadingOrder`);
- a stored `for` timer does not run while the engine is away and the broker keeps the gap's
  readings for it (`resumed_since`).

An engine may own a set of buildings (`buildings`): it subscribes only to theirs, ignores any
other (and unsubscribes what an earlier run with other buildings left in the session), and its
silence sweep covers only their devices.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Collection, Iterable
from typing import Any, Final

import paho.mqtt.client as mqtt
import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import Engine, func, select

from collector.broker import BrokerTarget, connect_async, make_client
from collector.models import NAME_RE, RESERVED_BUILDINGS, Reading, Rejection
from collector.parsing import parse
from collector.registry import Registry
from rules.engine import RuleEngine
from rules.publisher import MqttEventPublisher
from rules.records import SEVERITIES, STATES, AlertRecord
from rules.store import AlertStore, Pending, to_record
from rules.tables import AlertRow

log = structlog.get_logger("louyu.rules.runner")

TOPICS: Final = ("louyu/+/+/+", "louyu/+/+/+/availability", "louyu/+/availability")
TICK_S: Final = 1.0
MAINTAIN_S: Final = 5.0
SWEEP_S: Final = 15.0
SESSION_EXPIRY_S: Final = 7 * 24 * 3600
# QoS 1, and MQTT 5 retain handling 1: the broker sends retained messages only for a filter the
# session does not hold yet. So subscribing on every connection is safe: a kept session is not
# flooded with retained availability again (a retained `offline` would re-raise an alert the
# device has long cleared by reporting), while a building added to the engine's list since the
# last run gets its filters, and its retained messages, at once.
SUBSCRIBE_OPTIONS: Final = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)

Key = tuple[str, str, str]  # building, kind, device


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ------------------------------------------------------------------ buildings


def building_topics(buildings: Iterable[str]) -> list[str]:
    """The filters an engine subscribes to: every building's, or only those of `buildings`."""
    owned = list(buildings)
    if not owned:
        return list(TOPICS)
    return [
        topic
        for b in owned
        for topic in (f"louyu/{b}/+/+", f"louyu/{b}/+/+/availability", f"louyu/{b}/availability")
    ]


def scoped_registry(registry: Registry, buildings: Collection[str]) -> Registry:
    """The registry as an engine owning `buildings` sees it (all of it when `buildings` is empty):
    its silence sweep then starts from these devices only."""
    if not buildings:
        return registry
    scoped = Registry(
        registry.area,
        registry.area_name,
        registry.timezone,
        {b: info for b, info in registry.buildings.items() if b in buildings},
    )
    for info in registry:
        if info.building in buildings:
            scoped.add(info)
    return scoped


class ScopedAlertStore(AlertStore):
    """The shared alert store as read by an engine owning some buildings: their open alerts (what
    it escalates and keeps in its open map), their pending timers and their counts (its gauges,
    which would otherwise count every alert once per engine). Writes are the store's own, guarded
    by state and by the partial unique index whichever engine makes them."""

    def __init__(self, engine: Engine, buildings: Collection[str]) -> None:
        super().__init__(engine)
        self.buildings = sorted(set(buildings))

    def open_alerts(self) -> list[AlertRecord]:
        with self._reader() as session:
            rows = session.scalars(
                select(AlertRow).where(AlertRow.state != "resolved", AlertRow.building.in_(self.buildings))
            ).all()
            return [to_record(r) for r in rows]

    def load_pending(self) -> list[Pending]:
        return [p for p in super().load_pending() if p.building in self.buildings]

    def counts(self) -> dict[str, dict[str, int]]:
        result = {state: dict.fromkeys(SEVERITIES, 0) for state in STATES}
        with self._reader() as session:
            rows = session.execute(
                select(AlertRow.state, AlertRow.severity, func.count())
                .where(AlertRow.building.in_(self.buildings))
                .group_by(AlertRow.state, AlertRow.severity)
            ).all()
        for state, severity, count in rows:
            result.setdefault(state, dict.fromkeys(SEVERITIES, 0))[severity] = int(count)
        return result


# ---------------------------------------------------------- backlog and order


class ReadingOrder:
    """Per device, the newest `ts` applied so far: a reading older than that is stale.

    A device publishes in order and MQTT keeps that order, so an older reading only comes from
    somewhere else: a gateway flushing what it buffered after newer readings went out, or a
    redelivery. Applied, it would put the device's state back in time (a closed cabinet "open"
    again, an open one "closed"). A `ts` counts at most as its arrival time, so a device whose
    clock ran ahead and is then set right is not shut out until its clock catches up. Readings
    without a `ts` (stamped on arrival) are never stale and leave no mark.
    """

    def __init__(self) -> None:
        self.newest: dict[Key, int] = {}

    def accept(self, key: Key, ts_ms: int, received_ms: int) -> bool:
        if ts_ms == received_ms:
            return True
        newest = self.newest.get(key)
        if newest is not None and ts_ms < newest:
            return False
        mark = min(ts_ms, received_ms)
        if newest is None or mark > newest:
            self.newest[key] = mark
        return True


def resumed_since(
    since: dt.datetime, reconnected: dt.datetime, disconnected: dt.datetime | None
) -> dt.datetime:
    """Where a stored `for` timer stands when the broker replays the readings of a gap.

    The gap's readings arrive in a burst and are judged on arrival, so the gap itself must not
    count towards the duration, or the first replayed reading would complete the timer even when
    a later one shows that the condition had stopped holding: the timer is moved on by the time
    it spent in the gap. After a restart the moment the engine stopped is unknown (`disconnected`
    None) and the whole time since the timer started is taken as gap: the timer starts again at
    the reconnection. Never before `since`.
    """
    start = since if disconnected is None else max(since, disconnected)
    return since + max(reconnected - start, dt.timedelta(0))


# ------------------------------------------------------------------ broker


class RulesRunner:
    """Owns the engine's threads: start() returns once subscribed, stop() joins everything."""

    def __init__(
        self,
        engine: RuleEngine,
        broker: BrokerTarget,
        publish_events: bool = True,
        intervals: tuple[float, float, float] = (TICK_S, MAINTAIN_S, SWEEP_S),
        *,
        buildings: Iterable[str] = (),
        client_id: str = "louyu-rules",
        session_expiry_s: int = SESSION_EXPIRY_S,
    ) -> None:
        self.engine = engine
        self.tick_s, self.maintain_s, self.sweep_s = intervals
        self.broker = broker
        # Stable, because the broker keeps the session (and the readings queued for it) under this
        # id. Every engine on a broker needs its own; so does every other client (the collector).
        self.client_id = client_id
        self.session_expiry_s = session_expiry_s
        self.buildings = frozenset(buildings)  # empty: every building
        self.topics = building_topics(sorted(self.buildings))
        self.client = make_client(broker, client_id, persistent=True)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.subscribed = threading.Event()
        if publish_events:
            engine.publisher = MqttEventPublisher(self.client)
        self._thread: threading.Thread | None = None
        self._scheduler: BackgroundScheduler | None = None
        self.order = ReadingOrder()
        self.rejected = 0
        self.stale = 0
        self.not_owned = 0
        self._connected_once = False
        self._disconnected_at: dt.datetime | None = None
        self._left: set[str] = set()  # buildings whose left-over subscriptions were dropped
        self._left_wildcards = False

    # ------------------------------------------------------------------ paho

    def _on_connect(
        self,
        client: mqtt.Client,
        _u: Any,
        flags: mqtt.ConnectFlags,
        reason: ReasonCode,
        _p: Properties | None,
    ) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection", reason=str(reason))
            return
        now = utcnow()
        log.info(
            "rules engine connected",
            client_id=self.client_id,
            session_present=flags.session_present,
            buildings=len(self.buildings) or "all",
        )
        if flags.session_present:
            # The broker kept what was published meanwhile and delivers it next, before anything new.
            self._resume_timers(now, self._disconnected_at if self._connected_once else None)
        self._connected_once = True
        self._disconnected_at = None
        if self.broker.protocol == "5":
            client.subscribe([(topic, SUBSCRIBE_OPTIONS) for topic in self.topics])
        elif flags.session_present:
            # MQTT 3.1.1 has no retain handling: the kept session has the filters already, and
            # subscribing again would replay every retained availability message.
            self.subscribed.set()
        else:
            client.subscribe([(topic, 1) for topic in self.topics])

    def _resume_timers(self, now: dt.datetime, disconnected: dt.datetime | None) -> None:
        engine = self.engine
        moved = 0
        with engine.lock:
            for ak, pending in list(engine.pending.items()):
                since = resumed_since(pending.since, now, disconnected)
                if since != pending.since:
                    resumed = Pending(
                        pending.rule, pending.building, pending.kind, pending.device, since, pending.value
                    )
                    engine.pending[ak] = resumed
                    engine.store.save_pending(resumed)
                    moved += 1
        if moved:
            log.info("for timers resumed after the gap", timers=moved)

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, _mid: int, reasons: list[ReasonCode], _p: Properties | None
    ) -> None:
        if all(not r.is_failure for r in reasons):
            self.subscribed.set()
        else:
            log.error("subscription refused", reasons=sorted({str(r) for r in reasons if r.is_failure}))

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Properties | None
    ) -> None:
        self.subscribed.clear()
        if self._disconnected_at is None:
            self._disconnected_at = utcnow()
        if reason.value != 0:
            log.warning("disconnected from the broker; reconnecting", reason=str(reason))

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        # Never let one message kill the network thread: count, log once, carry on.
        try:
            self.handle(message.topic, bytes(message.payload), bool(message.retain))
        except Exception:
            self.engine.metrics.errors.labels("message").inc()
            log.exception("rules engine failed on a message", topic=message.topic[:200])

    def handle(self, topic: str, payload: bytes, retained: bool = False) -> None:
        now = utcnow()
        parts = topic.split("/")
        if self.buildings and len(parts) > 1 and parts[1] not in self.buildings:
            self._not_owned(parts[1])
            return
        if len(parts) == 3 and parts[2] == "availability":
            self._building_availability(parts[1], payload, now)
            return
        now_ms = int(now.timestamp() * 1000)
        result = parse(topic, payload, now_ms)
        if isinstance(result, Rejection):
            # The collector keeps rejections for operators; here they are only counted.
            self.rejected += 1
            self.engine.metrics.messages.labels("rejected").inc()
            return
        if isinstance(result, Reading) and not self.order.accept(
            (result.building, result.kind, result.device), result.ts_ms, now_ms
        ):
            self.stale += 1
            self.engine.metrics.messages.labels("stale").inc()
            return
        self.engine.metrics.messages.labels("accepted").inc()
        self.engine.handle(result, now, retained)

    def _not_owned(self, building: str) -> None:
        """A message of a building this engine does not own: only a subscription left in the
        session by an earlier run with other buildings delivers one. Ignored, and that
        subscription dropped (once), so the broker stops queueing those buildings for us."""
        self.not_owned += 1
        self.engine.metrics.messages.labels("not_owned").inc()
        stale: list[str] = []
        if not self._left_wildcards:
            self._left_wildcards = True
            stale += TOPICS
        if building not in self._left and NAME_RE.fullmatch(building):
            self._left.add(building)
            stale += building_topics([building])
        if stale:
            log.info("dropping subscriptions left from another building list", topics=stale)
            self.client.unsubscribe(stale)

    def _building_availability(self, building: str, payload: bytes, now: dt.datetime) -> None:
        word = payload.strip()
        if (
            building in RESERVED_BUILDINGS
            or not NAME_RE.fullmatch(building)
            or word not in (b"online", b"offline")
        ):
            self.engine.metrics.messages.labels("rejected").inc()
            return
        self.engine.metrics.messages.labels("accepted").inc()
        self.engine.handle_building(building, word == b"online", now)

    # ------------------------------------------------------------- jobs

    def _job(self, name: str, work: Any) -> None:
        try:
            work(utcnow())
        except Exception:
            self.engine.metrics.errors.labels(name).inc()
            log.exception("rules job failed", job=name)

    def _start_scheduler(self) -> None:
        # APScheduler logs every run at INFO: once a second here. Failures are logged by `_job`.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        scheduler = BackgroundScheduler(
            executors={
                "default": ThreadPoolExecutor(1, pool_kwargs={"thread_name_prefix": "louyu-rules-job"})
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
            timezone=self.engine.tz,
        )
        scheduler.add_job(
            self._job,
            "interval",
            seconds=self.tick_s,
            args=("tick", self.engine.tick),
            id="tick",
            name="rules-tick",
        )
        scheduler.add_job(
            self._job,
            "interval",
            seconds=self.maintain_s,
            args=("maintain", self.engine.maintain),
            id="maintain",
            name="rules-maintain",
        )
        scheduler.add_job(
            self._job,
            "interval",
            seconds=self.sweep_s,
            args=("sweep", self.engine.sweep),
            id="sweep",
            name="rules-sweep",
        )
        # Date checks (pads expiry) again each day, just after local midnight.
        scheduler.add_job(
            self._job,
            CronTrigger(hour=0, minute=0, second=30, timezone=self.engine.tz),
            args=("daily", self.engine.daily),
            id="daily",
            name="rules-daily",
        )
        scheduler.start()
        thread = getattr(scheduler, "_thread", None)
        if isinstance(thread, threading.Thread):
            thread.name = "louyu-rules-scheduler"
        self._scheduler = scheduler

    # ------------------------------------------------------------- life

    def start(self, timeout: float = 15.0) -> None:
        """Load state, connect, subscribe; returns once the subscription is acknowledged."""
        self.engine.load(utcnow())
        self._keep_own_buildings()
        # The session (subscriptions and the readings queued while away) outlives a restart.
        connect_async(self.client, self.broker, persistent=True, session_expiry_s=self.session_expiry_s)
        self._thread = threading.Thread(
            target=self.client.loop_forever, kwargs={"retry_first_connection": True}, name="louyu-rules-mqtt"
        )
        self._thread.start()
        if not self.subscribed.wait(timeout):
            self.stop()
            raise TimeoutError(f"rules engine: no subscription at {self.broker!r} within {timeout} s")
        self._start_scheduler()
        log.info(
            "rules engine running",
            rules=len(self.engine.ruleset.rules),
            devices=len(self.engine.last_seen),
            buildings=sorted(self.buildings) or "all",
        )

    def _keep_own_buildings(self) -> None:
        """An engine owning some buildings sweeps only their devices and runs only their timers,
        however its registry and store were given (`louyu.commands.rules.build` scopes both)."""
        if not self.buildings:
            return
        engine = self.engine
        with engine.lock:
            for key in [k for k in engine.last_seen if k[0] not in self.buildings]:
                del engine.last_seen[key]
            for ak in [k for k in engine.pending if k[1] not in self.buildings]:
                del engine.pending[ak]

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        self.client.disconnect()
        if self._thread is not None:
            self._thread.join(10)
            if self._thread.is_alive():  # never connected: loop_forever is retrying
                self.client.loop_stop()
            self._thread = None
