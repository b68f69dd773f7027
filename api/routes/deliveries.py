"""`/api/v1/deliveries` and `/api/v1/alerts/{id}/deliveries`: who was told what, when, by which
channel, and whether it worked. Operator and up (the people who may also resolve alerts)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Final, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, StringConstraints

from api.deps import Resolver, Store
from api.models import Problem
from rules.notify.history import DeliveryHistory, DeliveryRecord

router = APIRouter(tags=["deliveries"])

# Delivery records name receivers and show error texts: operators' business, not viewers'.
OperatorOrUp = Resolver
MAX_ID: Final = 2**62
Status = Literal["pending", "delivered", "failed", "cancelled"]
Channel = Literal["mqtt", "webhook", "cloudevents", "apprise", "ngsi_ld"]
Reason = Literal["event", "reminder", "escalation", "snapshot"]
ReceiverName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class AttemptPublic(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    at: dt.datetime
    duration_ms: int
    ok: bool
    retryable: bool
    status_code: int | None
    error: str | None


class DeliveryPublic(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "evt-1234-patrol",
                    "alert_id": 42,
                    "event_id": 1234,
                    "event": "raised",
                    "reason": "event",
                    "level": 0,
                    "route": "patrol-urgent",
                    "severity": "critical",
                    "rule": "aed-cabinet-open",
                    "building": "darong-b",
                    "receiver": "patrol",
                    "channel": "mqtt",
                    "title": "[紧急告警] 大荣中心 B 座 1F：AED cabinet opened",  # noqa: RUF001
                    "status": "delivered",
                    "attempts": 1,
                    "created_at": "2026-11-27T01:00:00.130000+00:00",
                    "delivered_at": "2026-11-27T01:00:00.134000+00:00",
                    "tries": [
                        {
                            "number": 1,
                            "at": "2026-11-27T01:00:00.131000+00:00",
                            "duration_ms": 3,
                            "ok": True,
                            "retryable": False,
                            "status_code": None,
                            "error": None,
                        }
                    ],
                }
            ]
        },
    )

    id: str
    alert_id: int | None
    event_id: int | None
    event: str | None
    reason: str
    level: int
    route: str | None
    severity: str | None
    rule: str | None
    building: str | None
    receiver: str
    channel: str
    title: str
    status: str
    attempts: int
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    deadline: dt.datetime
    delivered_at: dt.datetime | None
    finished_at: dt.datetime | None
    last_error: str | None
    tries: list[AttemptPublic]


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None


def _public(record: DeliveryRecord) -> DeliveryPublic:
    return DeliveryPublic.model_validate(record, from_attributes=True)


@router.get(
    "/api/v1/deliveries",
    response_model=DeliveryPage,
)
def list_deliveries(
    _: OperatorOrUp,
    store: Store,
    status: Annotated[list[Status] | None, Query(max_length=4)] = None,
    receiver: Annotated[list[ReceiverName] | None, Query(max_length=50)] = None,
    channel: Annotated[list[Channel] | None, Query(max_length=5)] = None,
    reason: Annotated[list[Reason] | None, Query(max_length=4)] = None,
    alert_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{1,18}$", description="`next_cursor` of the page before", examples=["1234"]),
    ] = None,
) -> DeliveryPage:
    """Deliveries, newest first, each with every try. Repeat a filter to allow several values."""
    # The pattern makes it a number below 10**18: within SQLite's and PostgreSQL's integers.
    before = int(cursor) if cursor is not None else None
    records, next_before = DeliveryHistory(store.engine).page(
        status=status,
        receiver=receiver,
        channel=channel,
        reason=reason,
        alert_id=alert_id,
        before=before,
        limit=limit,
    )
    return DeliveryPage(
        items=[_public(r) for r in records], next_cursor=str(next_before) if next_before is not None else None
    )


@router.get(
    "/api/v1/alerts/{alert_id}/deliveries",
    response_model=list[DeliveryPublic],
    responses={404: {"model": Problem, "description": "no such alert"}},
)
def alert_deliveries(
    alert_id: Annotated[int, Path(ge=1, le=MAX_ID, description="alert id", examples=[42])],
    _: OperatorOrUp,
    store: Store,
) -> list[DeliveryPublic]:
    """Every notification about one alert, oldest first: who was told, when, how, and whether it worked."""
    if store.get(alert_id) is None:
        raise HTTPException(404, f"alert {alert_id} does not exist")
    return [_public(r) for r in DeliveryHistory(store.engine).for_alert(alert_id)]
