"""`louyu collector`: MQTT telemetry in, InfluxDB out (contract sections 1, 2)."""

from __future__ import annotations

import datetime as dt

import typer

from collector.dead_letters import DeadLetters
from collector.mqtt_source import BrokerTarget
from collector.registry import Registry
from collector.service import Collector, CollectorConfig, InfluxTarget
from louyu.logs import configure_logging
from louyu.runtime import check_settings, load_registry, run_parts, serve_metrics
from louyu.settings import Settings, get_settings
from louyu.terminal import printable


def broker_target(settings: Settings) -> BrokerTarget:
    mqtt = settings.mqtt
    return BrokerTarget(
        host=mqtt.host,
        port=mqtt.port,
        tls=mqtt.tls,
        username=mqtt.username,
        password=mqtt.password,
        ca_file=settings.mqtt_tls_ca_file,
        cert_file=settings.mqtt_tls_cert_file,
        key_file=settings.mqtt_tls_key_file,
        tls_insecure=settings.mqtt_tls_insecure,
    )


def influx_target(settings: Settings) -> InfluxTarget:
    return InfluxTarget(
        url=settings.influx_url,
        api=settings.influx_api,
        database=settings.influx_db,
        org=settings.influx_org,
        token=settings.influx_token.get_secret_value() if settings.influx_token else None,
        username=settings.influx_username,
        password=settings.influx_password.get_secret_value() if settings.influx_password else None,
        retention_policy=settings.influx_retention_policy,
        timeout_s=settings.influx_timeout_s,
    )


def build(settings: Settings, registry: Registry) -> Collector:
    config = CollectorConfig(
        broker=broker_target(settings),
        influx=influx_target(settings),
        spool_path=settings.spool_path,
        dead_letter_path=settings.dead_letter_path,
        client_id=settings.mqtt_client_id,
        shared_group=settings.mqtt_shared_group,
        session_expiry_s=settings.mqtt_session_expiry_s,
        receive_maximum=settings.mqtt_receive_maximum,
        keepalive_s=settings.mqtt_keepalive_s,
        protocol=settings.mqtt_protocol,
        batch_size=settings.batch_size,
        batch_interval_s=settings.batch_interval_s,
        spool_max_points=settings.spool_max_points,
        dead_letter_max=settings.dead_letter_max,
        unknown_devices=settings.unknown_devices,
        quarantine_max=settings.quarantine_max,
    )
    return Collector(config, registry)


def collector() -> None:
    """Validate every telemetry message and store it in InfluxDB; nothing is acknowledged before it is durable."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    check_settings(settings)
    part = build(settings, load_registry(settings))
    serve_metrics(settings)
    run_parts([("collector", part)])


def rejections(
    limit: int = typer.Option(20, min=1, max=10_000, help="How many of the newest to show."),
    reason: str | None = typer.Option(None, help="Only this reason, e.g. wrong_type."),
) -> None:
    """Show the newest rejected messages kept by the collector (topic, reason, excerpt)."""
    settings = get_settings()
    store = DeadLetters(settings.dead_letter_path)
    try:
        rows = store.latest(limit, reason)
        typer.echo(f"{store.count()} rejected messages kept in {settings.dead_letter_path}")
        for row in rows:
            when = dt.datetime.fromtimestamp(row.received_ms / 1000, dt.UTC).isoformat(timespec="seconds")
            # Topic, detail and excerpt come from the device: escaped, never sent raw to the terminal.
            typer.echo(
                f"{when}  {printable(row.reason):<18} {printable(row.topic)}\n"
                f"    {printable(row.detail)}\n    {printable(row.excerpt[:120])}"
            )
    finally:
        store.close()
