"""`louyu up [--demo]`: the collector, the rules engine, the notifier and the API in one process.

With `--demo`, the state directory defaults to `var/demo/` and local mosquitto and influxd
(louyu/local_services.py) are started there wherever the configured
ones do not answer, and the simulator publishes the Darong area's traffic.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import structlog
import typer

from collector.area_clock import AreaClock, wall_ms
from collector.registry import Registry
from louyu import runtime
from louyu.local_services import start_missing
from louyu.runtime import Part, load_registry, run_parts

if TYPE_CHECKING:
    from louyu.simulate.scenarios import Scenario

log = structlog.get_logger("louyu")
DEMO_DIR = Path("var/demo")


# The demo's simulated day: from 07:30 on a working day, an hour a minute, so the morning
# arrivals, the lunch rush (real minutes 4 to 6) and the afternoon pass within minutes.
DEMO_DAY_START = "07:30"
DEMO_SPEED = 60.0


# The demo's lunch rush (the `lunch-rush` scenario) starts at the simulated 11:30 and holds about
# as long as the simulated lunch (its 480 s hold, scaled to LUNCH_HOLD_AREA_S of the area's time).
LUNCH_RUSH_AT = dt.time(11, 30)
LUNCH_HOLD_AREA_S = 96 * 60.0


def demo_scenarios(registry: Registry, clock: AreaClock, now_ms: int) -> list[str | Scenario]:
    """The AED cabinet opening 90 real seconds in (its alert runs on real time), and a lunch rush
    at the simulated lunch, whatever the clock's start and speed: a rush held for a fixed real
    time would fill the canteen all simulated afternoon."""
    from louyu.simulate.scenarios import LUNCH_RUSH_HOLD_S, build_scenario

    tz = ZoneInfo(registry.timezone)
    area_now = clock.area_now(dt.datetime.fromtimestamp(now_ms / 1000, dt.UTC), tz)
    lunch = dt.datetime.combine(area_now.date(), LUNCH_RUSH_AT, tz)
    if lunch < area_now:
        lunch += dt.timedelta(days=1)
    at_s = clock.real_span(int((lunch - area_now).total_seconds() * 1000)) / 1000
    scale = clock.real_span(int(LUNCH_HOLD_AREA_S * 1000)) / 1000 / LUNCH_RUSH_HOLD_S
    return ["aed-cabinet-open@90s", build_scenario("lunch-rush", registry, at_s, scale)]


def demo_defaults() -> dict[str, object]:
    """The demo's settings: development mode, state under var/demo, simulated time. The
    environment and the config file still win over them."""
    return {
        "environment": "development",
        "state_dir": DEMO_DIR.resolve(),
        "demo": {"clock": f"{DEMO_DAY_START}x{DEMO_SPEED:g}"},
    }


def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Add the simulator; start local services if none answer.")
    ] = False,
    speed: Annotated[
        float | None,
        typer.Option(
            min=0.001, help="Demo: simulated seconds per real second (default 60, or LOUYU_DEMO_CLOCK's)."
        ),
    ] = None,
    day_start: Annotated[
        str | None,
        typer.Option(
            help="Demo: simulated time of day at the start, HH:MM (default 07:30, or LOUYU_DEMO_CLOCK's)."
        ),
    ] = None,
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

    overrides = None
    if demo and (speed is not None or day_start is not None):
        clock = f"{day_start or DEMO_DAY_START}x{speed if speed is not None else DEMO_SPEED:g}"
        overrides = {"demo": {"clock": clock}}
    settings = runtime.start("up", defaults=demo_defaults() if demo else None, overrides=overrides)
    runtime.check_state_paths(settings)
    registry = load_registry(settings)
    # One clock for every part of the process: the simulator and the board read the same time.
    area_clock = runtime.area_clock(settings, registry)
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
        ("api", api_cmd.build(settings, registry, area_clock=area_clock)),
    ]
    if demo:
        from louyu.simulate.publisher import Simulator

        parts.append(
            (
                "simulator",
                Simulator(
                    broker,
                    registry=registry,
                    area_clock=area_clock,
                    scenarios=scenario
                    if scenario is not None
                    else demo_scenarios(registry, area_clock, wall_ms()),
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
            f"  simulated time {area_clock.area_now(dt.datetime.now(dt.UTC), ZoneInfo(registry.timezone)):%a %H:%M}"
            f" x{area_clock.speed:g} (LOUYU_DEMO_CLOCK={settings.demo.clock or ''})\n"
            + (
                f"Scenarios: {', '.join(scenario)}. Ctrl-C stops everything.\n"
                if scenario is not None
                else "An AED cabinet opens after 90 s; the lunch rush comes at 11:30 simulated."
                " Ctrl-C stops everything.\n"
            )
        )
    try:
        run_parts(parts)
    finally:
        for service in reversed(services):
            service.stop()
