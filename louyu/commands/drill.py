"""`louyu drill start`: a simulated AED incident on a chosen cabinet, from the command line.

The same drill as `POST /api/v1/drills` (rules/drill.py): the cabinet's readings, each marked
`"drill": true`, published on the broker with this command's account (`LOUYU_MQTT_URL`, with the
account of a sensor gateway of the building on a broker with the shipped ACL), one stage every
`--interval` seconds. Refused while the cabinet has an open incident that is not a drill; a
drill's own open incident may be carried on (`--stage back` ends one started with
`--stage cabinet_open`).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Annotated

import paho.mqtt.client as mqtt
import typer

from collector.broker import connect_async, make_client
from louyu import runtime
from louyu.runtime import load_registry
from rules.database import make_engine
from rules.database.migrate import upgrade
from rules.drill import STAGES, DrillStage, drill_message
from rules.incidents import open_real_incident
from rules.store import AlertStore

app = typer.Typer(help="Drills: a simulated AED incident through the real pipeline.", no_args_is_help=True)


def _open_incident(url: str, building: str, device: str) -> int | None:
    engine = make_engine(url)
    try:
        upgrade(engine)
        real = open_real_incident(AlertStore(engine), building, device)
    finally:
        engine.dispose()
    return real.id if real is not None else None


@app.command("start")
def start(
    device: Annotated[str, typer.Option(help="the AED cabinet, as in the registry")],
    building: Annotated[
        str | None, typer.Option(help="its building (needed when the name is not unique)")
    ] = None,
    interval: Annotated[float, typer.Option(min=0, max=600, help="seconds between two stages")] = 20.0,
    stage: Annotated[
        list[str] | None, typer.Option(help="cabinet_open, in_use, back (repeatable; default all three)")
    ] = None,
) -> None:
    """Run a drill: the cabinet opens, the AED is in use, then back, each reading marked as a drill."""
    settings = runtime.start("drill", service=False)
    stages: list[DrillStage] = []
    for name in stage or list(STAGES):
        if name not in STAGES:
            typer.echo(f"louyu drill: {name!r} is not a stage ({', '.join(STAGES)})", err=True)
            raise typer.Exit(2)
        stages.append(name)
    aeds = [i for i in load_registry(settings).devices("aed", building) if i.device == device]
    if len(aeds) != 1:
        typer.echo(f"louyu drill: no single AED {device!r} in the registry; name its --building", err=True)
        raise typer.Exit(1)
    where = aeds[0]
    open_id = _open_incident(settings.database.url, where.building, where.device)
    if open_id is not None:
        typer.echo(f"louyu drill: {where.building}/{where.device} has an open incident ({open_id})", err=True)
        raise typer.Exit(1)
    client = make_client(settings.broker, f"louyu-drill-{os.getpid()}", loop_name="louyu-drill-mqtt")
    connect_async(client, settings.broker)
    client.loop_start()
    try:
        deadline = time.monotonic() + 10
        while not client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not client.is_connected():
            typer.echo(f"louyu drill: no connection to the broker {settings.broker}", err=True)
            raise typer.Exit(1)
        for number, name in enumerate(stages):
            if number:
                time.sleep(interval)
            message = drill_message(where.building, where.device, name, dt.datetime.now(dt.UTC))
            info = client.publish(message.topic, message.payload, qos=1)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                info.wait_for_publish(30)
            if info.rc != mqtt.MQTT_ERR_SUCCESS or not info.is_published():
                typer.echo(f"louyu drill: {name} not sent (broker refused or away)", err=True)
                raise typer.Exit(1)
            typer.echo(f"drill {where.building}/{where.device}: {name}")
    finally:
        client.disconnect()
        client.loop_stop()
