"""The collector as one service: wires source, pipeline, sink, spool and dead letters, and owns
the order in which they start and stop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import structlog
from prometheus_client.registry import REGISTRY, CollectorRegistry
from pydantic import BaseModel, ConfigDict, Field, SkipValidation

from collector.broker import BrokerTarget
from collector.dead_letters import DeadLetters
from collector.influx_sink import Sink, V1Sink, V2Sink
from collector.mqtt_source import MqttSource
from collector.pipeline import Pipeline, UnknownDevices
from collector.quarantine import Quarantine
from collector.redaction import redact_url
from collector.registry import Registry
from collector.spool import Spool
from collector.stats import CollectorStats, StatsCollector

log = structlog.get_logger("louyu.collector")


@dataclass(frozen=True, slots=True)
class InfluxTarget:
    url: str
    api: Literal["v1", "v2"] = "v1"
    database: str = "louyu"
    org: str | None = None
    token: str | None = None
    username: str | None = None
    password: str | None = None
    retention_policy: str | None = None
    timeout_s: float = 10.0

    def __repr__(self) -> str:
        return f"InfluxTarget({redact_url(self.url)}, api={self.api}, db={self.database!r})"

    def make_sink(self) -> Sink:
        if self.api == "v2":
            return V2Sink(self.url, self.database, self.org, self.token, self.timeout_s)
        return V1Sink(
            self.url, self.database, self.username, self.password, self.retention_policy, self.timeout_s
        )


class CollectorConfig(BaseModel):
    """The collector's knobs: the `collector` section of the settings is this model, so a knob
    added here is settable (`LOUYU_COLLECTOR_<NAME>`, `[collector]`) and documented at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # Wired at start-up from the `mqtt` and `influx` sections, not knobs of this one.
    broker: SkipValidation[BrokerTarget | None] = Field(None, exclude=True)
    influx: SkipValidation[InfluxTarget | None] = Field(None, exclude=True)
    session_expiry_s: int = Field(7 * 24 * 3600, ge=0, exclude=True)

    client_id: str = Field(
        "louyu-collector", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="The collector's MQTT client id"
    )
    shared_group: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Shared subscription group, for several collectors splitting the telemetry"
        " (MQTT 5; not every 3.1.1 broker has them)",
    )
    # Acks wait for a durable write, so this must exceed one batch or throughput collapses.
    receive_maximum: int = Field(
        20_000, ge=1, le=65_535, description="Unacknowledged QoS 1 messages the broker may send (MQTT 5)"
    )
    batch_size: int = Field(5000, ge=1, le=100_000, description="Most readings in one InfluxDB write")
    batch_interval_s: float = Field(0.2, gt=0, le=60, description="Longest wait before a batch is written")
    spool_path: Path = Field(
        Path("/var/lib/louyu/spool.db"),
        description="Spool of the readings InfluxDB has not taken yet; default: spool.db in the state directory",
    )
    dead_letter_path: Path = Field(
        Path("/var/lib/louyu/dead-letters.db"),
        description="Rejected messages kept for `louyu rejections`; default: dead-letters.db in the state directory",
    )
    spool_max_points: int = Field(50_000_000, ge=1000, description="Most readings the spool holds")
    dead_letter_max: int = Field(10_000, ge=10, description="Most rejected messages kept")
    # What becomes of a valid reading from a device missing from the registry (docs/operations.md):
    # the collector quarantines or stores it, and the rules engine, the API and the notifier
    # follow the same setting (one fact, one owner).
    unknown_devices: UnknownDevices = Field(
        "quarantine",
        description="A valid reading from a device missing from the registry: quarantine (kept apart,"
        " counted, never evaluated) or accept (stored and evaluated like any other; sites without a registry)",
    )
    quarantine_max: int = Field(10_000, ge=10, description="Most unknown devices held in the quarantine")


class Collector:
    def __init__(
        self,
        config: CollectorConfig,
        registry: Registry,
        metrics_registry: CollectorRegistry | None = REGISTRY,
        sink: Sink | None = None,
    ) -> None:
        broker = config.broker
        if sink is None:
            if config.influx is None:
                raise ValueError("the collector needs an InfluxDB target (or a sink)")
            sink = config.influx.make_sink()
        if broker is None:
            raise ValueError("the collector needs a broker target")
        self.config = config
        self.stats = CollectorStats()
        self.sink = sink
        self.spool = Spool(config.spool_path, config.spool_max_points)
        self.dead_letters = DeadLetters(config.dead_letter_path, config.dead_letter_max)
        # Beside the dead letters, in the same file: one more table an operator reads with `louyu`.
        self.quarantine = Quarantine(config.dead_letter_path, config.quarantine_max)
        # The source acks for the pipeline and the pipeline handles the source's messages: build
        # the source first, then hand it the pipeline's handler.
        self.source = MqttSource(
            broker,
            None,
            client_id=config.client_id,
            shared_group=config.shared_group,
            session_expiry_s=config.session_expiry_s,
            receive_maximum=config.receive_maximum,
            on_connection_change=self._on_connection_change,
        )
        self.pipeline = Pipeline(
            sink=self.sink,
            spool=self.spool,
            dead_letters=self.dead_letters,
            registry=registry,
            acker=self.source.ack,
            quarantine=self.quarantine,
            unknown_devices=config.unknown_devices,
            stats=self.stats,
            batch_size=config.batch_size,
            batch_interval_s=config.batch_interval_s,
        )
        self.source.handler = self.pipeline.handle
        self._metrics_registry = metrics_registry
        self._running = False
        self._stats_collector = StatsCollector(
            self.stats,
            lambda: self.spool.points,
            self.spool.oldest_age_s,
            self.pipeline.table_sizes,
            self.pipeline.log_suppressed,
        )

    def _on_connection_change(self, connected: bool) -> None:
        self.stats.connected = connected

    def start(self, wait_s: float = 15.0) -> bool:
        """Start writing, then receiving. True once subscribed."""
        if self._metrics_registry is not None:
            self._metrics_registry.register(self._stats_collector)
        self._running = True
        self.pipeline.start()
        subscribed = self.source.start(wait_s)
        log.info(
            "collector started",
            broker=repr(self.config.broker),
            influx=repr(self.config.influx),
            subscribed=subscribed,
            spooled_points=self.spool.points,
        )
        return subscribed

    def stop(self) -> None:
        """Store and acknowledge what was received, disconnect (keeping the session), then close."""
        if not self._running:
            return
        self._running = False
        self.pipeline.flush(timeout=30)
        self.source.stop()
        self.pipeline.stop()
        self.sink.close()
        self.spool.close()
        self.dead_letters.close()
        self.quarantine.close()
        if self._metrics_registry is not None:
            self._metrics_registry.unregister(self._stats_collector)
        log.info("collector stopped", written=self.stats.written, spooled_points=self.stats.spooled)

    def health(self) -> dict[str, object]:
        return {
            "broker_connected": self.stats.connected,
            "spool_points": self.spool.points,
            "spool_oldest_age_s": round(self.spool.oldest_age_s(), 1),
            "received": self.stats.received,
            "written": self.stats.written,
        }
