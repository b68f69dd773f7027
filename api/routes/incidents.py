"""`/api/v1/incidents`: AED incidents (rules/incidents.py), one with everything the incident view
shows, and its response steps. Patrol and up: the patrol going to the cabinet needs all of it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Final

import anyio.to_thread
from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import StringConstraints

from api.convert import alert_public
from api.deps import Acker, Actions, Now, State
from api.models import Problem, WrittenAwareTime
from api.roles import Permission, allows
from api.routes.deliveries import DeliveryPublic
from api.routes.incident_models import (
    IncidentDeviceState,
    IncidentLocation,
    IncidentPage,
    IncidentPublic,
    IncidentState,
    IncidentStep,
    IncidentSummary,
    IncidentTimings,
    StepRequest,
    TimelineEntry,
)
from api.state import ApiState
from api.tokens import TokenInfo
from collector.models import DeviceKey
from rules.config import RuleSet
from rules.escalation import escalation_interval, next_escalation
from rules.incidents import STEPS, Incident, events_per_incident, find, incidents, open_incidents, timings
from rules.notify.history import DeliveryHistory, DeliveryRecord
from rules.records import AlertRecord, EventRecord
from rules.store import AlertStore

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

MAX_ID: Final = 2**62
IncidentId = Annotated[
    int, Path(ge=1, le=MAX_ID, description="the incident's id, or the id of any of its alerts", examples=[42])
]
NameValue = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
# Steps that record what an operator decides; the others are the patrol's own.
OPERATOR_STEPS: Final = frozenset({"handed_over", "closing_note"})
_NOT_FOUND: Final[dict[int | str, dict[str, object]]] = {
    404: {"model": Problem, "description": "no such incident"}
}


def location_of(state: ApiState, incident: Incident) -> IncidentLocation:
    info = state.registry.get(incident.building, incident.kind, incident.device)
    building = state.registry.buildings.get(incident.building)
    return IncidentLocation(
        building=incident.building,
        building_name=building.name if building else None,
        building_name_en=building.name_en if building else None,
        floor=info.floor if info else None,
        zone=info.zone if info else None,
        location=info.location if info else None,
        name=info.name if info else None,
        gateway=info.gateway if info else None,
    )


def summary_of(state: ApiState, incident: Incident, events: list[EventRecord]) -> dict[str, object]:
    acked = incident.acknowledged
    return {
        "id": incident.id,
        "building": incident.building,
        "kind": incident.kind,
        "device": incident.device,
        "drill": incident.drill,
        "state": incident.state,
        "opened_at": incident.opened_at,
        "closed_at": incident.closed_at,
        "acknowledged_at": acked.acknowledged_at if acked else None,
        "acknowledged_by": acked.acknowledged_by if acked else None,
        "alert_ids": [a.id for a in incident.alerts],
        "summary": incident.first.summary,
        "location": location_of(state, incident),
        "timings": IncidentTimings.model_validate(timings(incident, events), from_attributes=True),
    }


def device_state_of(state: ApiState, incident: Incident) -> IncidentDeviceState:
    latest = state.devices.get(DeviceKey(incident.building, incident.kind, incident.device))
    if latest is None:
        return IncidentDeviceState()
    fields = latest.fields
    status, cabinet = fields.get("state"), fields.get("cabinet_open")
    return IncidentDeviceState(
        state=status if isinstance(status, str) else None,
        cabinet_open=cabinet if isinstance(cabinet, bool) else None,
        online=latest.online,
        # Fields merge in the latest state: the mark counts only if it came with the newest reading.
        drill=fields.get("drill") is True and latest.field_ts_ms.get("drill") == latest.reading_ts_ms,
        ts=dt.datetime.fromtimestamp(latest.reading_ts_ms / 1000, dt.UTC)
        if latest.reading_ts_ms is not None
        else None,
    )


def escalation_due(ruleset: RuleSet | None, alerts: tuple[AlertRecord, ...]) -> dt.datetime | None:
    """The soonest next escalation of the incident's alerts (rules/escalation.py)."""
    if ruleset is None:
        return None
    enabled = {r.id: r for r in ruleset.rules}
    due = [
        when
        for alert in alerts
        if (
            when := next_escalation(
                alert,
                lambda a: escalation_interval(ruleset, a, enabled.get(a.rule)),
                ruleset.file.defaults.max_escalation,
            )
        )
        is not None
    ]
    return min(due, default=None)


def delivery_public(record: DeliveryRecord, with_errors: bool) -> DeliveryPublic:
    public = DeliveryPublic.model_validate(record, from_attributes=True)
    if with_errors:
        return public
    # Error texts name endpoints and receivers' systems: the operators' business (api/routes/deliveries.py).
    return public.model_copy(
        update={"last_error": None, "tries": [t.model_copy(update={"error": None}) for t in public.tries]}
    )


def timeline_of(events: list[EventRecord], deliveries: list[DeliveryRecord]) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(
            at=e.at,
            event=e.event,
            alert_id=e.alert_id,
            rule=e.alert.rule,
            by=e.by,
            note=e.note,
            event_id=e.id,
        )
        for e in events
    ]
    entries += [
        TimelineEntry(
            at=d.delivered_at or d.finished_at or d.created_at,
            event=f"delivery_{d.status}",
            alert_id=d.alert_id,
            rule=d.rule,
            by=d.receiver,
            note=d.event,
            event_id=d.event_id,
            channel=d.channel,
        )
        for d in deliveries
    ]
    entries.sort(key=lambda t: (t.at, t.event_id or 0))
    return entries


def incident_public(state: ApiState, incident: Incident, token: TokenInfo) -> IncidentPublic:
    store = state.store
    ids = [a.id for a in incident.alerts]
    events = store.events_of(ids)
    history = DeliveryHistory(store.engine)
    deliveries = [d for alert_id in ids for d in history.for_alert(alert_id)]
    deliveries.sort(key=lambda d: d.seq)
    with_errors = allows(token.role, Permission.RESOLVE)
    return IncidentPublic.model_validate(
        {
            **summary_of(state, incident, events),
            "device_state": device_state_of(state, incident),
            "alerts": [alert_public(a) for a in incident.alerts],
            "steps": [
                IncidentStep(event_id=e.id, step=e.event, at=e.at, by=e.by, note=e.note)
                for e in events
                if e.event in STEPS
            ],
            "deliveries": [delivery_public(d, with_errors) for d in deliveries],
            "escalation_due_at": escalation_due(state.ruleset, incident.alerts),
            "timeline": timeline_of(events, deliveries),
        }
    )


def _found(store: AlertStore, incident_id: int) -> Incident:
    incident = find(store, incident_id)
    if incident is None:
        raise HTTPException(404, f"incident {incident_id} does not exist")
    return incident


@router.get(
    "",
    response_model=IncidentPage,
)
async def list_incidents(
    _: Acker,
    app: State,
    state: Annotated[IncidentState | None, Query(description="open or closed", examples=["open"])] = None,
    building: Annotated[
        list[NameValue] | None, Query(max_length=50, description="repeatable", examples=[["darong-b"]])
    ] = None,
    device: Annotated[
        list[NameValue] | None, Query(max_length=50, description="repeatable", examples=[["aed-b-1f-lobby"]])
    ] = None,
    drill: Annotated[
        bool | None, Query(description="only drills (true) or only real incidents (false)")
    ] = None,
    since: Annotated[
        WrittenAwareTime | None, Query(description="opened at or after (RFC 3339 with offset)")
    ] = None,
    until: Annotated[
        WrittenAwareTime | None, Query(description="opened before (RFC 3339 with offset)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="page size", examples=[50])] = 50,
    cursor: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{1,18}$", description="`next_cursor` of the page before", examples=["42"]),
    ] = None,
) -> IncidentPage:
    """AED incidents, newest first (patrol and up). Each groups the `aed-cabinet-open` and
    `aed-in-use` alerts of one cabinet that belong to one episode; the alerts stay in the alert
    list as they are."""
    before = int(cursor) if cursor is not None else None

    def query() -> IncidentPage:
        found = [
            i
            for i in reversed(
                open_incidents(app.store, building=building, device=device)
                if state == "open"
                else incidents(app.store, building=building, device=device)
            )
            if (state is None or i.state == state)
            and (drill is None or i.drill == drill)
            and (since is None or i.opened_at >= since)
            and (until is None or i.opened_at < until)
            and (before is None or i.id < before)
        ]
        page = found[:limit]
        on_site = app.store.events_of([a.id for i in page for a in i.alerts], ("on_site",))
        per_incident = events_per_incident(page, on_site)
        items = [IncidentSummary.model_validate(summary_of(app, i, per_incident.get(i.id, []))) for i in page]
        return IncidentPage(items=items, next_cursor=str(page[-1].id) if len(found) > limit else None)

    return await anyio.to_thread.run_sync(query)


@router.get("/{incident_id}", response_model=IncidentPublic, responses=_NOT_FOUND)
def get_incident(incident_id: IncidentId, token: Acker, app: State) -> IncidentPublic:
    """One incident: where, the cabinet's live state, its alerts, steps, deliveries, the next
    escalation, response times and a timeline of everything. Any of its alerts' ids finds it."""
    return incident_public(app, _found(app.store, incident_id), token)


@router.post(
    "/{incident_id}/steps",
    response_model=IncidentPublic,
    responses={
        **_NOT_FOUND,
        409: {"model": Problem, "description": "the incident is closed (only `closing_note` is taken then)"},
    },
)
def record_step(
    incident_id: IncidentId, body: StepRequest, token: Acker, actions: Actions, app: State, now: Now
) -> IncidentPublic:
    """Record a response step as an event of the incident's first alert: stored, published on
    MQTT, streamed on `/api/v1/events` and sent on to the city platform like every alert event.
    `en_route` and `on_site`: patrol and up; `handed_over` and `closing_note`: operator and up.
    A repeated step is recorded again; response times use the first."""
    if body.step in OPERATOR_STEPS and not allows(token.role, Permission.RESOLVE):
        raise HTTPException(403, f"the step {body.step} is an operator's")
    incident = _found(app.store, incident_id)
    if incident.state == "closed" and body.step != "closing_note":
        raise HTTPException(409, f"incident {incident.id} is closed")
    actions.record(incident.id, body.step, token.name, body.note, now)
    app.wakeup.notify()
    return incident_public(app, _found(app.store, incident.id), token)
