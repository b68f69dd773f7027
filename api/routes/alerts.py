"""`/api/v1/alerts`: list with filters and cursor paging, one alert with its events, ack, resolve."""

from __future__ import annotations

from typing import Annotated, Final, Literal

import anyio.to_thread
from fastapi import APIRouter, Body, HTTPException, Path, Query
from pydantic import StringConstraints

from api.convert import alert_public, alert_with_events
from api.deps import Acker, Actions, Now, Reader, Resolver, State, Store
from api.models import (
    AlertCounts,
    AlertPage,
    AlertPublic,
    AlertState,
    AlertWithEvents,
    KindName,
    NoteRequest,
    Problem,
    Severity,
    WrittenAwareTime,
)
from rules.alert_query import AlertFilter
from rules.records import AlertRecord

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# SQLite integers are 64-bit: a larger id must be refused here, not overflow in the driver.
MAX_ID: Final = 2**62
AlertId = Annotated[int, Path(ge=1, le=MAX_ID, description="alert id", examples=[42])]
Sort = Literal[
    "priority",
    "-priority",
    "started_at",
    "-started_at",
    "updated_at",
    "-updated_at",
    "id",
    "-id",
    "severity",
    "-severity",
]
NameValue = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
NoteBody = Annotated[NoteRequest | None, Body()]
_NOT_FOUND: Final[dict[int | str, dict[str, object]]] = {
    404: {"model": Problem, "description": "no such alert"}
}
_CONFLICT: Final[dict[int | str, dict[str, object]]] = {
    409: {"model": Problem, "description": "the alert's state does not allow this (e.g. already resolved)"}
}


@router.get(
    "",
    response_model=AlertPage,
    responses={
        400: {"model": Problem, "description": "a cursor this API did not hand out, or of another sort"}
    },
)
async def list_alerts(
    _: Reader,
    store: Store,
    state: Annotated[
        list[AlertState] | None, Query(max_length=3, description="repeatable", examples=[["firing"]])
    ] = None,
    severity: Annotated[
        list[Severity] | None, Query(max_length=5, description="repeatable", examples=[["critical", "major"]])
    ] = None,
    building: Annotated[
        list[NameValue] | None, Query(max_length=50, description="repeatable", examples=[["darong-b"]])
    ] = None,
    kind: Annotated[
        list[KindName] | None, Query(max_length=4, description="repeatable", examples=[["aed"]])
    ] = None,
    device: Annotated[
        list[NameValue] | None, Query(max_length=50, description="repeatable", examples=[["aed-b-1f-lobby"]])
    ] = None,
    rule: Annotated[
        list[NameValue] | None,
        Query(max_length=50, description="repeatable", examples=[["aed-cabinet-open"]]),
    ] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            description="text in the summary (either language), device, building or rule (case-insensitive)",
            examples=["lobby"],
        ),
    ] = None,
    since: Annotated[
        WrittenAwareTime | None, Query(description="started at or after (RFC 3339 with offset)")
    ] = None,
    until: Annotated[
        WrittenAwareTime | None, Query(description="started before (RFC 3339 with offset)")
    ] = None,
    sort: Annotated[
        Sort,
        Query(
            description="field, `-` first for descending; ties by id. `priority`: severity (critical "
            "first), then escalated and unacknowledged firing, firing, acknowledged, silenced, "
            "resolved, then newest first",
            examples=["priority"],
        ),
    ] = "-started_at",
    limit: Annotated[int, Query(ge=1, le=1000, description="page size", examples=[100])] = 50,
    cursor: Annotated[
        str | None,
        Query(
            max_length=512,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="`next_cursor` of the page before, with the same `sort` (400 for a cursor "
            "this API did not hand out, or one of another sort)",
        ),
    ] = None,
) -> AlertPage:
    """Alerts, newest first by default (`sort=priority`: what matters first). Repeat a filter to
    allow several values (`?state=firing&state=acknowledged`); different filters must all match.
    `counts` (first page only) gives the matches per severity and per state, for the whole
    filter, not the page."""
    where = AlertFilter(state, severity, building, kind, device, rule, q, since, until)

    def query() -> tuple[list[AlertRecord], str | None, dict[str, dict[str, int]] | None]:
        records, next_cursor = store.list_alerts(
            state=state,
            severity=severity,
            building=building,
            kind=kind,
            device=device,
            rule=rule,
            text=q,
            since=since,
            until=until,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
        # Counted for the first page only: a client paging on already has them.
        return records, next_cursor, store.count_alerts(where) if cursor is None else None

    # The queries in a worker thread, the rest on the loop: one thread hop per request, not two.
    records, next_cursor, counts = await anyio.to_thread.run_sync(query)
    return AlertPage(
        items=[alert_public(r) for r in records],
        next_cursor=next_cursor,
        counts=AlertCounts.model_validate(counts) if counts is not None else None,
    )


@router.get("/{alert_id}", response_model=AlertWithEvents, responses=_NOT_FOUND)
def get_alert(alert_id: AlertId, _: Reader, store: Store) -> AlertWithEvents:
    """One alert with every event of its history, oldest first."""
    record = store.get(alert_id)
    if record is None:
        raise HTTPException(404, f"alert {alert_id} does not exist")
    return alert_with_events(record, store.events(alert_id))


@router.post("/{alert_id}/ack", response_model=AlertPublic, responses={**_NOT_FOUND, **_CONFLICT})
def acknowledge(
    alert_id: AlertId, token: Acker, actions: Actions, app: State, now: Now, body: NoteBody = None
) -> AlertPublic:
    """Acknowledge a firing alert (patrol and up). Recorded as done by the token's name."""
    event = actions.acknowledge(alert_id, token.name, body.note if body else None, now)
    app.wakeup.notify()
    return alert_public(event.alert)


@router.post("/{alert_id}/resolve", response_model=AlertPublic, responses={**_NOT_FOUND, **_CONFLICT})
def resolve(
    alert_id: AlertId, token: Resolver, actions: Actions, app: State, now: Now, body: NoteBody = None
) -> AlertPublic:
    """Resolve a firing or acknowledged alert by hand (operator and up)."""
    event = actions.resolve(alert_id, token.name, body.note if body else None, now)
    app.wakeup.notify()
    return alert_public(event.alert)
