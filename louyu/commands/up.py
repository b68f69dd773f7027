"""`louyu up [--demo]`: the collector, the rules engine, the notifier and the API in one process.

With `--demo`, the state directory defaults to `var/demo/` and local mosquitto and influxd
(louyu/local_services.py) are started there wherever the configured
ones do not answer, and the simulator publishes the Darong area's traffic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import structlog
import typer

from louyu import runtime
from louyu.local_services import start_missing
from louyu.runtime import Part, load_registry, run_parts

log = structlog.get_logger("louyu")
DEMO_DIR = Path("var/demo")


def demo_defaults() -> dict[str, object]:
    """The demo's settings: development mode, state under var/demo. The environment and the
    config file still win over them."""
    return {"environment": "development", "state_dir": DEMO_DIR.resolve()}


def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Add the simulator; start local services if none answer.")
    ] = False,
    speed: Annotated[float, typer.Option(help="Demo: simulated seconds per real second.")] = 60.0,
    scenario: Annotated[
        list[str] | None,
        typer.Option(help="Demo: scenario to inject, e.g. aed-cabinet-open@2m (repeatable)."),
    ] = None,
) -> None:
    """Run everything in one process: collector, rules engine, notifier and API."""
    from louyu.commands import api as api_cmd
    from louyu.commands import collector as collector_cmd
    from louyu.commands import notifier as notifier_cmd
    from louyu.commands import rules as rules_cmd

    settings = runtime.start("up", defaults=demo_defaults() if demo else None)
    runtime.check_state_paths(settings)
    registry = load_registry(settings)
    broker = settings.broker
    services = (
        start_missing((broker.host, broker.port), settings.influx.url, settings.state_dir, typer.echo)
        if demo
        else []
    )
    parts: list[tuple[str, Part]] = [
        ("collector", collector_cmd.build(settings, registry)),
        ("rules", rules_cmd.build(settings, registry)),
        ("notifier", notifier_cmd.build(settings, registry)),
        ("api", api_cmd.build(settings, registry)),
    ]
    if demo:
        from louyu.simulate.publisher import Simulator

        parts.append(
            (
                "simulator",
                Simulator(
                    broker,
                    registry=registry,
                    speed=speed,
                    scenarios=scenario if scenario is not None else ["aed-cabinet-open@90s", "lunch-rush@4m"],
                ),
            )
        )
        host, port = settings.api.host_port
        base = f"http://{host}:{port}"
        token = api_cmd.create_demo_token(settings)
        typer.echo(
            "\nlouyu is running with simulated Darong traffic. Look at:\n"
            f"  dashboard      {base}/dashboard   (sign in with the operator token below)\n"
            f"  public board   {base}/board\n"
            f"  API docs       {base}/docs\n"
            f"  metrics        {base}/metrics\n"
            f"  alerts (MQTT)  mosquitto_sub -p {broker.port} -t 'louyu/alerts/#' -v\n"
            f"  operator token {token}\n"
            "An AED cabinet opens after 90 s and the canteen fills after 4 min. Ctrl-C stops everything.\n"
        )
    try:
        run_parts(parts)
    finally:
        for service in reversed(services):
            service.stop()
