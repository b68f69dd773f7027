"""`louyu simulate`: publish realistic traffic for the Darong area (contract section 5)."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from collector.registry import Registry, RegistryError
from louyu import runtime
from louyu.simulate.clock import parse_duration, parse_start
from louyu.simulate.errors import SimulateError
from louyu.simulate.progress import Progress
from louyu.simulate.publisher import DEFAULT_WINDOW, Simulator
from louyu.simulate.scenarios import SCENARIO_NAMES

_SCENARIO_HELP = (
    "Inject a named event: "
    + ", ".join(SCENARIO_NAMES)
    + ". Repeat for several; NAME@OFFSET (e.g. garage-full@5m) starts one later."
)


def simulate(
    speed: Annotated[
        float, typer.Option(min=0.001, help="Time acceleration: 60 runs one simulated hour per real minute.")
    ] = 1.0,
    start: Annotated[
        str | None,
        typer.Option(
            help="Simulated start: now, HH:MM (today), YYYY-MM-DD or ISO 8601; local time of the area."
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(min=0.001, help="Load test: N messages a second of a realistic mix of all four kinds."),
    ] = None,
    duration: Annotated[
        str | None, typer.Option(help="Stop after this long in real time: 90, 90s, 10m, 2h.")
    ] = None,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many telemetry messages.")] = None,
    qos: Annotated[int, typer.Option(min=0, max=2, help="MQTT QoS of every message.")] = 1,
    scenario: Annotated[list[str] | None, typer.Option(help=_SCENARIO_HELP)] = None,
    scenario_at: Annotated[
        str | None, typer.Option(help="When scenarios without @OFFSET start, after the start: 30s, 5m.")
    ] = None,
    scenario_scale: Annotated[
        float, typer.Option(min=0.001, help="Stretch (>1) or shorten (<1) every scenario's timeline.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulated area: the same seed, the same day.")] = 0,
    registry: Annotated[
        Path | None,
        typer.Option(help="Registry file (default: LOUYU_REGISTRY_FILE or the shipped Darong area)."),
    ] = None,
    mqtt_url: Annotated[
        str | None, typer.Option(help="Broker URL, overriding LOUYU_MQTT_URL: mqtt://host:1883, mqtts://...")
    ] = None,
    client_id: Annotated[str, typer.Option(help="MQTT client id of the simulator.")] = "louyu-simulate",
    window: Annotated[
        int, typer.Option(min=1, max=60_000, help="Most unacknowledged messages in flight.")
    ] = DEFAULT_WINDOW,
    no_availability: Annotated[
        bool, typer.Option("--no-availability", help="Do not publish the retained `online` availability.")
    ] = False,
) -> None:
    """Publish realistic traffic for the Darong area: garage, AED cabinets, canteen.

    Runs until Ctrl-C, --duration or --count. Progress goes to stdout: a live panel on a terminal, a line every 5 seconds otherwise.

    The broker comes from LOUYU_MQTT_URL (or --mqtt-url), LOUYU_MQTT_USERNAME, LOUYU_MQTT_PASSWORD and LOUYU_MQTT_TLS_*.
    """
    try:
        settings = runtime.start(
            "simulate", service=False, overrides={"mqtt_url": mqtt_url} if mqtt_url else None
        )
    except SystemExit as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from error
    try:
        area = Registry.load(registry or settings.registry.file)
        start_ms = parse_start(start, ZoneInfo(area.timezone))
        # LOUYU_DEMO_CLOCK: follow the demo's simulated day, as the board of the same demo does.
        area_clock = runtime.area_clock(settings, area) if settings.demo.clock else None
        if area_clock is not None and (start is not None or speed != 1.0):
            raise SimulateError("LOUYU_DEMO_CLOCK sets the simulated time: give no --start or --speed")
        duration_s = parse_duration(duration, "--duration") if duration else None
        at_s = parse_duration(scenario_at, "--scenario-at") if scenario_at else 0.0
        target = settings.broker
        simulator = Simulator(
            target,
            registry=area,
            speed=speed,
            scenarios=scenario or [],
            scenario_at_s=at_s,
            scenario_scale=scenario_scale,
            start_ms=start_ms,
            seed=seed,
            qos=qos,
            rate=rate,
            duration_s=duration_s,
            count=count,
            client_id=client_id,
            window=window,
            availability=not no_availability,
            area_clock=area_clock,
        )
    except (RegistryError, SimulateError, ValueError) as error:
        typer.echo(f"louyu simulate: {error}", err=True)
        raise typer.Exit(2) from error

    interrupted = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        interrupted.set()
        simulator.done.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    progress = Progress(simulator.stats, sys.stdout)
    shown = threading.Event()
    display = threading.Thread(target=progress.run, args=(shown,), name="louyu-simulate-progress")
    typer.echo(f"louyu simulate: publishing to {target!r}", err=True)
    simulator.start()
    display.start()
    try:
        while not simulator.wait(0.5):
            pass
    finally:
        simulator.stop()
        shown.set()
        display.join()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    typer.echo(progress.summary(), err=True)
    if simulator.error is not None:
        raise typer.Exit(1)
