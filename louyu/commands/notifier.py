"""`louyu notifier`: alert events out to patrols, supervisors and the city platform.

The routing file is read from `LOUYU_NOTIFY_FILE` (default: the packaged example
`rules/notify/data/routes.yaml`, which sends critical and major alerts to the `patrol` handset over
MQTT). Webhook secrets and apprise URLs come from the environment variables or files that the routing
file names. `python -m louyu.commands.notifier` runs the same thing.
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from collector.registry import Registry
from louyu.logs import configure_logging
from louyu.runtime import check_settings, load_registry, run_parts, serve_metrics
from louyu.settings import Settings, get_settings
from louyu.terminal import printable
from rules.database import make_engine
from rules.notify.config import RoutingConfig, load_routing
from rules.notify.errors import NotifyError
from rules.notify.service import MqttOptions, NotifierService

NOTIFY_FILE_ENV = "LOUYU_NOTIFY_FILE"


def routing_file() -> Path | None:
    value = os.environ.get(NOTIFY_FILE_ENV, "").strip()
    return Path(value) if value else None


def load_config() -> RoutingConfig:
    try:
        return load_routing(routing_file())
    except NotifyError as error:
        raise SystemExit(f"louyu: {error}") from error


def mqtt_options(settings: Settings) -> MqttOptions:
    target = settings.mqtt
    return MqttOptions(
        host=target.host,
        port=target.port,
        tls=target.tls,
        username=target.username,
        password=target.password,
        ca_file=settings.mqtt_tls_ca_file,
        cert_file=settings.mqtt_tls_cert_file,
        key_file=settings.mqtt_tls_key_file,
        tls_insecure=settings.mqtt_tls_insecure,
        keepalive_s=settings.mqtt_keepalive_s,
    )


def build(settings: Settings, registry: Registry) -> NotifierService:
    """The notifier as a part with start() / stop(), for `louyu up` to compose."""
    config = load_config()
    engine = make_engine(settings.database_url)
    try:
        return NotifierService(config, registry, engine, mqtt_options(settings))
    except (NotifyError, ValueError) as error:
        raise SystemExit(f"louyu: notifier: {error}") from error


def notifier(
    check: Path | None = typer.Option(  # noqa: B008
        None, "--check", help="Only validate this routing file and say what is wrong, with line numbers."
    ),
) -> None:
    """Route alert events to patrol handsets, webhooks, chat and e-mail; retried until delivered."""
    if check is not None:
        try:
            config = load_routing(check)
        except NotifyError as error:
            typer.echo(printable(error), err=True)
            raise typer.Exit(1) from error
        typer.echo(f"{check}: {len(config.receivers)} receivers, {len(config.routes)} routes: OK")
        return
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    check_settings(settings)
    part = build(settings, load_registry(settings))
    serve_metrics(settings)
    run_parts([("notifier", part)])


if __name__ == "__main__":
    typer.run(notifier)
