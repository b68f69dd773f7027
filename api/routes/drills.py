"""`/api/v1/drills`: start a simulated AED incident on a chosen cabinet (operator and up).

The drill is the real pipeline fed with telemetry marked `"drill": true` (rules/drill.py): the API
publishes the cabinet's messages on its own MQTT connection (the `louyu-api` account may write AED
telemetry, deploy/mosquitto/acl), and the collector, the rules engine, the notifier and the API
take them like any reading. The messages go out from a task of this process, one stage every
`interval_s`; stopping the API stops a drill in progress.
"""

from __future__ import annotations

import asyncio
from typing import Final

import paho.mqtt.client as mqtt
import structlog
from fastapi import APIRouter, HTTPException

from api.deps import Now, Resolver, State
from api.models import Problem
from api.routes.incident_models import DrillPublic, DrillRequest
from api.state import ApiState
from rules.drill import DrillMessage, DrillStage, drill_message
from rules.incidents import open_real_incident

log = structlog.get_logger("louyu.api.drills")

router = APIRouter(prefix="/api/v1/drills", tags=["incidents"])

_REFUSED: Final[dict[int | str, dict[str, object]]] = {
    404: {"model": Problem, "description": "no AED of that name in the registry"},
    409: {"model": Problem, "description": "the cabinet has an open incident that is not a drill"},
    503: {"model": Problem, "description": "the API has no broker connection to send the drill on"},
}


def send(client: mqtt.Client, message: DrillMessage) -> None:
    """Queue one drill message on the API's connection (QoS 1: paho resends it after a reconnect)."""
    info = client.publish(message.topic, message.payload, qos=1)
    if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
        log.warning("drill_message_not_queued", topic=message.topic, stage=message.stage, rc=info.rc)


async def run_drill(
    state: ApiState, building: str, device: str, stages: list[DrillStage], interval_s: float
) -> None:
    for number, stage in enumerate(stages):
        if number:
            await asyncio.sleep(interval_s)
        feed = state.feed
        if feed is None:
            log.warning("drill_stopped", building=building, device=device, stage=stage, reason="no broker")
            return
        send(feed.client, drill_message(building, device, stage, state.clock()))
        log.info("drill_stage", building=building, device=device, stage=stage)


@router.post("", response_model=DrillPublic, status_code=202, responses=_REFUSED)
async def start_drill(body: DrillRequest, token: Resolver, app: State, now: Now) -> DrillPublic:
    """Start a drill: the cabinet reports opened, the AED in use, then back (or the `stages`
    given), `interval_s` apart, each message marked `"drill": true`. The alerts it raises carry
    the label `drill: "true"` and summaries starting 演练/DRILL; its incident has `drill: true`;
    notifications and the city platform's events say it is a drill. Refused while the cabinet
    has an open incident that is not a drill (a drill's own open incident may be carried on)."""
    aeds = [i for i in app.registry.devices("aed", body.building) if i.device == body.device]
    if len(aeds) != 1:
        raise HTTPException(404, f"no single AED {body.device} in the registry; name its building")
    building, device = aeds[0].building, aeds[0].device
    if app.feed is None:
        raise HTTPException(503, "the API has no broker connection: a drill cannot be sent")
    real = await asyncio.to_thread(open_real_incident, app.store, building, device)
    if real is not None:
        raise HTTPException(
            409, f"{building}/{device} has an open incident ({real.id}): no drill over a real one"
        )
    task = asyncio.create_task(run_drill(app, building, device, list(body.stages), body.interval_s))
    app.drills.add(task)
    task.add_done_callback(app.drills.discard)
    log.info("drill_started", building=building, device=device, by=token.name)
    return DrillPublic(
        building=building,
        device=device,
        stages=list(body.stages),
        interval_s=body.interval_s,
        started_at=now,
        started_by=token.name,
        topic=f"louyu/{building}/aed/{device}",
    )
