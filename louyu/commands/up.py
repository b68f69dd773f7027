"""`louyu up [--demo]`: the collector, the rules engine, the notifier and the API in one process.

With `--demo`, local mosquitto and influxd are started under `var/demo/` wherever the configured
ones do not answer, and the simulator publishes the Darong area's traffic.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import structlog
import typer

from louyu.logs import configure_logging
from louyu.runtime import Part, check_settings, load_registry, run_parts
from louyu.settings import Settings, get_settings
from louyu.testing.services import Influxd, Mosquitto, Service, http_ok, port_open

log = structlog.get_logger("louyu")
DEMO_DIR = Path("var/demo")


def demo_settings() -> Settings:
    """Settings for the demo: files under var/demo, development mode; the environment still wins."""
    defaults = {
        "LOUYU_ENVIRONMENT": "development",
        "LOUYU_DATABASE_URL": f"sqlite:///{DEMO_DIR}/louyu.db",
        "LOUYU_SPOOL_PATH": str(DEMO_DIR / "spool.db"),
        "LOUYU_DEAD_LETTER_PATH": str(DEMO_DIR / "dead-letters.db"),
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    return get_settings()


def local_services(settings: Settings) -> list[Service]:
    """Start mosquitto and influxd on the configured addresses where nothing answers there."""
    started: list[Service] = []
    mqtt = settings.mqtt
    if port_open(mqtt.host, mqtt.port):
        typer.echo(f"broker:   using the one at {mqtt.host}:{mqtt.port}")
    else:
        broker = Mosquitto(DEMO_DIR / "mosquitto", port=mqtt.port)
        broker.start()
        started.append(broker)
        typer.echo(f"broker:   started mosquitto on 127.0.0.1:{mqtt.port} (data in {broker.workdir})")
    influx = urlsplit(settings.influx_url)
    if http_ok(f"{settings.influx_url}/ping") or http_ok(f"{settings.influx_url}/health"):
        # host and port only: a URL may carry credentials
        typer.echo(f"influxdb: using the one at {influx.scheme}://{influx.hostname}:{influx.port or 8086}")
    else:
        server = Influxd(DEMO_DIR / "influxd", port=influx.port or 8086)
        server.start()
        started.append(server)
        typer.echo(f"influxdb: started influxd 1.x on {server.url} (data in {server.workdir})")
    return started


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

    settings = demo_settings() if demo else get_settings()
    configure_logging(settings.log_level, settings.log_format)
    check_settings(settings)
    registry = load_registry(settings)
    services = local_services(settings) if demo else []
    parts: list[tuple[str, Part]] = [
        ("collector", collector_cmd.build(settings, registry)),
        ("rules", rules_cmd.build(settings, registry)),
        ("notifier", notifier_cmd.build(settings, registry)),
        ("api", api_cmd.build(settings, registry)),
    ]
    if demo:
        from louyu.simulate.publisher import Simulator

        mqtt = settings.mqtt
        parts.append(
            (
                "simulator",
                Simulator(
                    mqtt.host,
                    mqtt.port,
                    mqtt.tls,
                    mqtt.username,
                    mqtt.password,
                    registry=registry,
                    speed=speed,
                    scenarios=scenario if scenario is not None else ["aed-cabinet-open@90s", "lunch-rush@4m"],
                    tls_ca_file=settings.mqtt_tls_ca_file,
                ),
            )
        )
        host, port = settings.api_host_port
        base = f"http://{host}:{port}"
        token = api_cmd.create_demo_token(settings)
        typer.echo(
            "\nlouyu is running with simulated Darong traffic. Look at:\n"
            f"  dashboard      {base}/dashboard   (sign in with the operator token below)\n"
            f"  public board   {base}/board\n"
            f"  API docs       {base}/docs\n"
            f"  metrics        {base}/metrics\n"
            f"  alerts (MQTT)  mosquitto_sub -p {settings.mqtt.port} -t 'louyu/alerts/#' -v\n"
            f"  operator token {token}\n"
            "An AED cabinet opens after 90 s and the canteen fills after 4 min. Ctrl-C stops everything.\n"
        )
    try:
        run_parts(parts)
    finally:
        for service in reversed(services):
            service.stop()
