"""The rules process: MQTT in (telemetry topics), the engine, scheduled jobs, MQTT out (alert events).

Threads, all named `louyu-rules-*`: the paho network loop (`louyu-rules-mqtt`, which files each
message in a lane), the worker that runs the engine for each message, urgent lane first
(`louyu-rules-lanes`, rules/lanes.py), the APScheduler loop and its one worker (`louyu-rules-scheduler`,
`louyu-rules-job_0`). `stop()` joins them all.

The broker connection is a persistent session (a stable client id; MQTT 5: clean start off and
a session expiry that outlives a restart; MQTT 3.1.1: clean session off), so the readings
published while the engine restarts wait on the broker and are evaluated when it is back. What
such a backlog may do to the engine's state is the engine's (`RuleEngine.accept`,
`RuleEngine.resume`, `rules/backlog.py`); this module only tells it when the broker says it
kept the session.

An engine may own a set of buildings (`RuleEngine.buildings`): the runner subscribes only to
theirs, and unsubscribes what an earlier run with other buildings left in the session.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Final

import paho.mqtt.client as mqtt
import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from collector.broker import BrokerTarget, connect_async, make_client, speaks_v5
from collector.models import NAME_RE
from rules.engine import RuleEngine
from rules.lanes import Lane, Lanes
from rules.publisher import EventPublisher, MqttEventPublisher, NullPublisher

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


# ------------------------------------------------------------------ broker


class RulesRunner:
    """Owns the engine's threads: start() returns once subscribed, stop() joins everything."""

    def __init__(
        self,
        build_engine: Callable[[EventPublisher], RuleEngine],
        broker: BrokerTarget,
        publish_events: bool = True,
        intervals: tuple[float, float, float] = (TICK_S, MAINTAIN_S, SWEEP_S),
        *,
        client_id: str = "louyu-rules",
        session_expiry_s: int = SESSION_EXPIRY_S,
    ) -> None:
        """`build_engine` is given the publisher of this runner's connection (one connection, and
        events leave from the thread that handled the reading), or a `NullPublisher` when
        `publish_events` is off."""
        self.tick_s, self.maintain_s, self.sweep_s = intervals
        self.broker = broker
        # Stable, because the broker keeps the session (and the readings queued for it) under this
        # id. Every engine on a broker needs its own; so does every other client (the collector).
        self.client_id = client_id
        self.session_expiry_s = session_expiry_s
        # Acknowledged by the lanes once evaluated, in arrival order, not by paho on receipt.
        self.client = make_client(
            broker, client_id, persistent=True, manual_ack=True, loop_name="louyu-rules-mqtt"
        )
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.subscribed = threading.Event()
        self.engine = build_engine(MqttEventPublisher(self.client) if publish_events else NullPublisher())
        self.buildings = self.engine.buildings  # empty: every building
        self.topics = building_topics(sorted(self.buildings))
        self.lanes = Lanes(self._evaluate, self.client.ack_all, self.engine.ruleset.urgent_kinds)
        for lane in ("urgent", "bulk"):
            self.engine.metrics.lanes.labels(lane).set_function(functools.partial(self._lane_depth, lane))
        self._scheduler: BackgroundScheduler | None = None
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
        self.lanes.new_connection()
        now = utcnow()
        log.info(
            "rules engine connected",
            client_id=self.client_id,
            session_present=flags.session_present,
            buildings=len(self.buildings) or "all",
        )
        if flags.session_present:
            # The broker kept what was published meanwhile and delivers it next, before anything new.
            self.engine.resume(now, self._disconnected_at if self._connected_once else None)
        self._connected_once = True
        self._disconnected_at = None
        if speaks_v5(client):
            client.subscribe([(topic, SUBSCRIBE_OPTIONS) for topic in self.topics])
        elif flags.session_present:
            # MQTT 3.1.1 has no retain handling: the kept session has the filters already, and
            # subscribing again would replay every retained availability message.
            self.subscribed.set()
        else:
            client.subscribe([(topic, 1) for topic in self.topics])

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

    def _lane_depth(self, lane: Lane) -> float:
        return self.lanes.depth()[lane]

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.lanes.put(message.topic, bytes(message.payload), bool(message.retain), message.mid, message.qos)

    def _evaluate(self, topic: str, payload: bytes, retained: bool) -> None:
        # Never let one message kill the worker: count, log, carry on.
        try:
            self.handle(topic, payload, retained)
        except Exception:
            self.engine.metrics.errors.labels("message").inc()
            log.exception("rules engine failed on a message", topic=topic[:200])

    def handle(self, topic: str, payload: bytes, retained: bool = False) -> None:
        if self.engine.accept(topic, payload, utcnow(), retained) == "not_owned":
            self._not_owned(topic.split("/")[1])

    def _not_owned(self, building: str) -> None:
        """A message of a building this engine does not own: only a subscription left in the
        session by an earlier run with other buildings delivers one. Ignored, and that
        subscription dropped (once), so the broker stops queueing those buildings for us."""
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
        self.lanes.start()
        # The session (subscriptions and the readings queued while away) outlives a restart.
        connect_async(self.client, self.broker, persistent=True, session_expiry_s=self.session_expiry_s)
        # paho's own network thread (see collector.broker.LoopClient): the lanes' worker
        # acknowledges and the scheduler publishes from other threads, which must only queue.
        self.client.loop_start()
        if not self.subscribed.wait(timeout):
            if not self._connected_once:
                self.stop()
                raise TimeoutError(f"rules engine: no connection to {self.broker!r} within {timeout} s")
            # Connected, but the acknowledgement of the subscription waits behind the readings the
            # broker queued for this session while the engine was away (it delivers those first):
            # a restart after a long outage. The engine is working through them, and its timers
            # (escalations, liveness) must run meanwhile: go on rather than exit and lose the turn.
            log.warning("subscription not yet acknowledged; the broker is delivering the backlog first")
        self._start_scheduler()
        log.info(
            "rules engine running",
            rules=len(self.engine.ruleset.rules),
            devices=len(self.engine.last_seen),
            buildings=sorted(self.buildings) or "all",
        )

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        # The worker first: what it has not evaluated stays unacknowledged, for the next run.
        self.lanes.stop()
        self.client.disconnect()
        self.client.loop_stop()
