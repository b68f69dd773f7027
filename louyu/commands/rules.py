"""`louyu rules`: run the rules engine alone; `louyu rules check FILE`: validate a rules file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import structlog
import typer

from collector.registry import Registry, RegistryError
from louyu.runtime import check_settings, run_parts, serve_metrics
from louyu.settings import Settings, get_settings
from louyu.terminal import printable
from rules.config import check_text, check_warnings, load_rules
from rules.database import make_engine
from rules.database.migrate import upgrade
from rules.engine import RuleEngine
from rules.errors import RulesFileError
from rules.runner import MqttSettings, RulesRunner
from rules.store import AlertStore

log = structlog.get_logger("louyu.rules")

app = typer.Typer(
    help="The rules engine: alerts from telemetry (run alone with `louyu rules`).",
    invoke_without_command=True,
    no_args_is_help=False,
)


def mqtt_settings(settings: Settings) -> MqttSettings:
    target = settings.mqtt
    return MqttSettings(
        target.host,
        target.port,
        tls=target.tls,
        username=target.username,
        password=target.password,
        ca_file=str(settings.mqtt_tls_ca_file) if settings.mqtt_tls_ca_file else None,
        cert_file=str(settings.mqtt_tls_cert_file) if settings.mqtt_tls_cert_file else None,
        key_file=str(settings.mqtt_tls_key_file) if settings.mqtt_tls_key_file else None,
        tls_insecure=settings.mqtt_tls_insecure,
        keepalive=settings.mqtt_keepalive_s,
        client_id=settings.mqtt_rules_client_id,
        session_expiry_s=settings.mqtt_session_expiry_s,
    )


def build(settings: Settings, registry: Registry) -> RulesRunner:
    """The engine wired from settings: `.start()` returns once subscribed, `.stop()` joins its threads."""
    ruleset = load_rules(settings.rules_file)
    db = make_engine(settings.database_url)
    upgrade(db)
    buildings = settings.rules_buildings
    # An engine owning some buildings (LOUYU_RULES_BUILDINGS) sees only their devices and their
    # alerts; the store it writes to is the one every engine shares.
    store = AlertStore(db, buildings)
    if settings.mqtt_rules_client_id == settings.mqtt_client_id:
        # `louyu up` (and any collector on the same broker) would take the session over in turns.
        log.error(
            "LOUYU_MQTT_RULES_CLIENT_ID equals LOUYU_MQTT_CLIENT_ID: the collector and the rules "
            "engine will disconnect each other",
            client_id=settings.mqtt_rules_client_id,
        )
    unknown = sorted(set(buildings) - registry.buildings.keys())
    if unknown:
        log.warning(
            "rules buildings not in the registry: their devices count as unregistered", buildings=unknown
        )
    # The runner gives the engine a publisher on its own MQTT client: one connection, and events
    # leave from the thread that handled the reading.
    return RulesRunner(
        lambda publisher: RuleEngine(
            ruleset,
            registry,
            store,
            publisher,
            buildings=buildings,
            accept_unregistered=settings.rules_accept_unregistered,
            liveness_summary_over=settings.rules_liveness_summary_over,
        ),
        mqtt_settings(settings),
    )


@app.callback()
def rules(ctx: typer.Context) -> None:
    """Run the rules engine until interrupted (SIGINT or SIGTERM)."""
    if ctx.invoked_subcommand is not None:
        return
    from louyu.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    check_settings(settings)
    try:
        registry = Registry.load(settings.registry_file)
        runner = build(settings, registry)
    except (RulesFileError, RegistryError) as error:
        typer.echo(printable(error), err=True)
        raise typer.Exit(2) from error
    serve_metrics(settings)
    run_parts([("rules", runner)])


@app.command("check")
def check(file: Annotated[Path, typer.Argument(help="the rules file (YAML) to validate")]) -> None:
    """Validate a rules file: print each mistake with its line number; exit 1 if there are any."""
    try:
        text = file.read_text("utf-8")
    except OSError as error:
        typer.echo(f"{file}: cannot read: {error.strerror}", err=True)
        raise typer.Exit(2) from error
    model, problems = check_text(text)
    if model is None:
        for problem in problems:
            typer.echo(printable(f"{file}:{problem.removeprefix('line ')}"), err=True)
        typer.echo(f"{file}: {len(problems)} problem(s)", err=True)
        raise typer.Exit(1)
    warnings = check_warnings(text, model)
    for warning in warnings:
        line, _, message = warning.removeprefix("line ").partition(": ")
        typer.echo(printable(f"{file}:{line}: warning: {message}"), err=True)
    enabled = sum(1 for r in model.rules if r.enabled)
    noted = f", {len(warnings)} warning(s)" if warnings else ""
    typer.echo(f"{file}: OK, {len(model.rules)} rules ({enabled} enabled){noted}")
