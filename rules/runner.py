"""The rules process: MQTT in (telemetry topics), the engine, scheduled jobs, MQTT out (alert events).

Threads, all named `louyu-rules-*`: the paho network loop (`louyu-rules-mqtt`, which also runs
the engine for each message), the APScheduler loop and its one worker (`louyu-rules-scheduler`,
`louyu-rules-job_0`). `stop()` joins them all.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import ssl
import threading
from typing import Any, Final

import paho.mqtt.client as mqtt
import structlog
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from paho.mqtt.subscribeoptions import SubscribeOptions

from collector.models import NAME_RE, RESERVED_BUILDINGS, Rejection
from collector.parsing import parse
from rules.engine import RuleEngine
from rules.publisher import MqttEventPublisher

log = structlog.get_logger("louyu.rules.runner")

TOPICS: Final = ("louyu/+/+/+", "louyu/+/+/+/availability", "louyu/+/availability")
TICK_S: Final = 1.0
MAINTAIN_S: Final = 5.0
SWEEP_S: Final = 15.0


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MqttSettings:
    """How to reach the broker: the plain values the wiring takes from `louyu.settings`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        tls: bool = False,
        username: str | None = None,
        password: str | None = None,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        tls_insecure: bool = False,
        keepalive: int = 30,
        client_id: str | None = None,
    ) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.username, self.password = username, password
        self.ca_file, self.cert_file, self.key_file, self.tls_insecure = (
            ca_file,
            cert_file,
            key_file,
            tls_insecure,
        )
        self.keepalive = keepalive
        # Several engines may share a broker (and a store): each needs its own client id.
        self.client_id = client_id or f"louyu-rules-{secrets.token_hex(4)}"

    def __repr__(self) -> str:  # never show the password
        return f"MqttSettings({self.host}:{self.port}, tls={self.tls}, user={self.username!r})"


class RulesRunner:
    """Owns the engine's threads: start() returns once subscribed, stop() joins everything."""

    def __init__(
        self,
        engine: RuleEngine,
        mqtt_settings: MqttSettings,
        publish_events: bool = True,
        intervals: tuple[float, float, float] = (TICK_S, MAINTAIN_S, SWEEP_S),
    ) -> None:
        self.engine = engine
        self.tick_s, self.maintain_s, self.sweep_s = intervals
        self.settings = mqtt_settings
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=mqtt_settings.client_id, protocol=mqtt.MQTTv5
        )
        if mqtt_settings.username:
            self.client.username_pw_set(mqtt_settings.username, mqtt_settings.password)
        if mqtt_settings.tls:
            self.client.tls_set(
                ca_certs=mqtt_settings.ca_file,
                certfile=mqtt_settings.cert_file,
                keyfile=mqtt_settings.key_file,
                cert_reqs=ssl.CERT_REQUIRED,
            )
            self.client.tls_insecure_set(mqtt_settings.tls_insecure)
        self.client.reconnect_delay_set(1, 30)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        self.subscribed = threading.Event()
        if publish_events:
            engine.publisher = MqttEventPublisher(self.client)
        self._thread: threading.Thread | None = None
        self._scheduler: BackgroundScheduler | None = None
        self.rejected = 0

    # ------------------------------------------------------------------ paho

    def _on_connect(
        self, client: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Properties | None
    ) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection", reason=str(reason))
            return
        client.subscribe([(topic, SubscribeOptions(qos=1)) for topic in TOPICS])

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, _mid: int, reasons: list[ReasonCode], _p: Properties | None
    ) -> None:
        if all(not r.is_failure for r in reasons):
            self.subscribed.set()
        else:
            log.error("subscription refused", reasons=[str(r) for r in reasons])

    def _on_disconnect(
        self, _c: mqtt.Client, _u: Any, _f: Any, reason: ReasonCode, _p: Properties | None
    ) -> None:
        self.subscribed.clear()
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
        if len(parts) == 3 and parts[2] == "availability":
            self._building_availability(parts[1], payload, now)
            return
        result = parse(topic, payload, int(now.timestamp() * 1000))
        if isinstance(result, Rejection):
            # The collector keeps rejections for operators; here they are only counted.
            self.rejected += 1
            self.engine.metrics.messages.labels("rejected").inc()
            return
        self.engine.metrics.messages.labels("accepted").inc()
        self.engine.handle(result, now, retained)

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
        self.client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive)
        self._thread = threading.Thread(
            target=self.client.loop_forever, kwargs={"retry_first_connection": True}, name="louyu-rules-mqtt"
        )
        self._thread.start()
        if not self.subscribed.wait(timeout):
            self.stop()
            raise TimeoutError(f"rules engine: no subscription at {self.settings!r} within {timeout} s")
        self._start_scheduler()
        log.info(
            "rules engine running", rules=len(self.engine.ruleset.rules), devices=len(self.engine.registry)
        )

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
