"""`louyu collector`: MQTT telemetry in, InfluxDB out (contract sections 1, 2)."""

from __future__ import annotations

import datetime as dt

import typer

from collector.dead_letters import DeadLetters
from collector.registry import Registry
from collector.service import Collector, InfluxTarget
from louyu import runtime
from louyu.runtime import load_registry, run_parts, serve_metrics
from louyu.settings import Settings
from louyu.terminal import printable


def influx_target(settings: Settings) -> InfluxTarget:
    influx = settings.influx
    return InfluxTarget(
        url=influx.url,
        api=influx.api,
        database=influx.db,
        org=influx.org,
        token=influx.token.get_secret_value() if influx.token else None,
        username=influx.username,
        password=influx.password.get_secret_value() if influx.password else None,
        retention_policy=influx.retention_policy,
        timeout_s=influx.timeout_s,
    )


def build(settings: Settings, registry: Registry) -> Collector:
    # The `collector` section is the collector's config; only the connections are wired in.
    config = settings.collector.model_copy(
        update={
            "broker": settings.broker,
            "influx": influx_target(settings),
            "session_expiry_s": settings.mqtt.session_expiry_s,
        }
    )
    return Collector(config, registry)


def collector() -> None:
    """Validate every telemetry message and store it in InfluxDB; nothing is acknowledged before it is durable."""
    settings = runtime.start("collector")
    runtime.check_state_paths(settings)
    part = build(settings, load_registry(settings))
    serve_metrics(settings)
    run_parts([("collector", part)])


def rejections(
    limit: int = typer.Option(20, min=1, max=10_000, help="How many of the newest to show."),
    reason: str | None = typer.Option(None, help="Only this reason, e.g. wrong_type."),
) -> None:
    """Show the newest rejected messages kept by the collector (topic, reason, excerpt)."""
    settings = runtime.start("rejections", service=False)
    path = settings.collector.dead_letter_path
    store = DeadLetters(path)
    try:
        rows = store.latest(limit, reason)
        typer.echo(f"{store.count()} rejected messages kept in {path}")
        for row in rows:
            when = dt.datetime.fromtimestamp(row.received_ms / 1000, dt.UTC).isoformat(timespec="seconds")
            # Topic, detail and excerpt come from the device: escaped, never sent raw to the terminal.
            typer.echo(
                f"{when}  {printable(row.reason):<18} {printable(row.topic)}\n"
                f"    {printable(row.detail)}\n    {printable(row.excerpt[:120])}"
            )
    finally:
        store.close()
