"""`louyu notifier`: alert events out to patrols, supervisors and the city platform.

The routing file is `notify.file` of the settings (`LOUYU_NOTIFY_FILE`; default: the packaged example
`rules/notify/data/routes.yaml`, which sends critical and major alerts to the `patrol` handset over
MQTT). Webhook secrets and apprise URLs come from the environment variables or files that the routing
file names. `python -m louyu.commands.notifier` runs the same thing.
"""

from __future__ import annotations

from pathlib import Path

import typer

from collector.registry import Registry
from louyu import runtime
from louyu.runtime import load_registry, run_parts, serve_metrics
from louyu.settings import Settings
from louyu.terminal import printable
from rules.database import make_engine
from rules.notify.config import RoutingConfig, load_routing
from rules.notify.errors import NotifyError
from rules.notify.service import NotifierService


def load_config(settings: Settings) -> RoutingConfig:
    try:
        return load_routing(settings.notify.file)
    except NotifyError as error:
        raise SystemExit(f"louyu: {error}") from error


def build(settings: Settings, registry: Registry) -> NotifierService:
    """The notifier as a part with start() / stop(), for `louyu up` to compose."""
    config = load_config(settings)
    engine = make_engine(settings.database.url)
    try:
        return NotifierService(
            config,
            registry,
            engine,
            settings.broker,
            accept_unknown=settings.collector.unknown_devices == "accept",
        )
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
    settings = runtime.start("notifier")
    part = build(settings, load_registry(settings))
    serve_metrics(settings)
    run_parts([("notifier", part)])


if __name__ == "__main__":
    typer.run(notifier)
