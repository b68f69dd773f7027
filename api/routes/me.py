"""`/api/v1/me` and `/api/v1/me/alerts`: who the caller is in the routing file, and the open alerts
its receivers are paged about, what matters first.

A token stands for the routing file's receivers named like it, or listing its name among their
`people` (`rules/notify/audience.py`): the patrol who carries the `patrol` handset signs in with
a token named in that receiver's `people`, and the phone view (`/patrol`) shows first what that
handset is sent.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

import anyio.to_thread
from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.convert import alert_public
from api.deps import Now, Reader, State
from api.models import AlertPublic
from api.roles import GRANTS
from rules.notify.audience import paged_about, receivers_of
from rules.notify.schedule import on_duty

router = APIRouter(prefix="/api/v1/me", tags=["auth"])

# Open alerts looked at per request: far more than a patrol can work through, and bounded.
MAX_OPEN: Final = 500


class MyReceiver(BaseModel):
    name: str = Field(examples=["patrol"])
    channel: str = Field(examples=["mqtt"])
    description: str | None = None
    on_duty: bool = Field(description="on duty now by the receiver's shifts (none: always)")


class Me(BaseModel):
    """The calling token and the receivers of the routing file it stands for."""

    name: str = Field(examples=["wang"])
    role: str = Field(examples=["patrol"])
    permissions: list[str]
    receivers: list[MyReceiver]


class PagedPublic(BaseModel):
    receiver: str = Field(examples=["patrol"])
    route: str = Field(examples=["patrol-urgent"])
    level: int = Field(description="0: first notice; k: the route's escalation step k", examples=[0])
    due_at: dt.datetime = Field(description="when this level is called if nobody acknowledges")
    called: bool = Field(description="called by now: the level has come and the receiver is on duty")


class RoutedAlert(BaseModel):
    alert: AlertPublic
    paged: list[PagedPublic]
    called: bool = Field(description="one of the caller's receivers has been called about it by now")


class MyAlerts(BaseModel):
    receivers: list[str] = Field(
        description="the caller's receivers (empty: the routing file names nobody like it)"
    )
    items: list[RoutedAlert] = Field(
        description="open alerts paged to the caller's receivers: called ones first, each group in "
        "the `sort=priority` order of /api/v1/alerts"
    )


@router.get("", response_model=Me)
def me(state: State, now: Now, token: Reader) -> Me:
    """Any token that may read (every role): its name, role, permissions and the routing file's receivers it stands for."""
    config = state.routing
    return Me(
        name=token.name,
        role=token.role.value,
        permissions=sorted(p.value for p in GRANTS[token.role]),
        receivers=[
            MyReceiver(
                name=r.name, channel=r.channel, description=r.description, on_duty=on_duty(r, now, config.tz)
            )
            for r in receivers_of(config, token.name)
        ],
    )


@router.get("/alerts", response_model=MyAlerts)
async def my_alerts(state: State, now: Now, token: Reader) -> MyAlerts:
    """The open alerts (firing, acknowledged) the routing file pages the caller's receivers about,
    with who is paged at which level and when. Called ones first."""
    config = state.routing
    mine = frozenset(r.name for r in receivers_of(config, token.name))
    if not mine:
        return MyAlerts(receivers=[], items=[])
    records, _ = await anyio.to_thread.run_sync(
        lambda: state.store.list_alerts(state=["firing", "acknowledged"], sort="priority", limit=MAX_OPEN)
    )
    called: list[RoutedAlert] = []
    later: list[RoutedAlert] = []
    for record in records:
        public = alert_public(record)
        paged = paged_about(config, public.model_dump(mode="json"), record.started_at, now, mine)
        if not paged:
            continue
        item = RoutedAlert(
            alert=public,
            paged=[
                PagedPublic(
                    receiver=p.receiver,
                    route=p.route,
                    level=p.level,
                    due_at=p.due_at,
                    called=p.called_by(now),
                )
                for p in paged
            ],
            called=any(p.called_by(now) for p in paged),
        )
        (called if item.called else later).append(item)
    return MyAlerts(receivers=sorted(mine), items=called + later)
