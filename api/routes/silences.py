"""`/api/v1/silences`: maintenance windows that mute matching alerts (operator and up)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Final

from fastapi import APIRouter, HTTPException, Path, Query

from api.convert import silence_public
from api.deps import AUTH_RESPONSES, Actions, Now, Silencer, State, Store
from api.models import Problem, SilenceChange, SilenceCreate, SilencePublic

router = APIRouter(prefix="/api/v1/silences", tags=["silences"], responses=AUTH_RESPONSES)

# Past these a silence is a mistake (or a way around the alerting), not a maintenance window.
MAX_LENGTH: Final = dt.timedelta(days=365)
MAX_LEAD: Final = dt.timedelta(days=365)
MAX_BACKDATE: Final = dt.timedelta(days=1)


@router.get("", response_model=list[SilencePublic])
def list_silences(
    _: Silencer,
    store: Store,
    now: Now,
    active: Annotated[bool, Query(description="only those in force now")] = False,
) -> list[SilencePublic]:
    """Every silence, newest first."""
    return [silence_public(s, now) for s in store.list_silences(active_at=now if active else None)]


@router.post(
    "",
    response_model=SilencePublic,
    status_code=201,
    responses={400: {"model": Problem, "description": "a silence that cannot be used"}},
)
def create_silence(body: SilenceCreate, token: Silencer, actions: Actions, now: Now) -> SilencePublic:
    """Create a silence; it mutes open and future alerts that match every field given."""
    starts = body.starts_at or now
    if not now - MAX_BACKDATE <= starts <= now + MAX_LEAD:
        raise HTTPException(400, "starts_at must lie between a day ago and a year ahead")
    ends = (
        body.ends_at
        if body.ends_at is not None
        else starts + dt.timedelta(minutes=body.duration_minutes or 0)
    )
    if ends - starts > MAX_LENGTH:
        raise HTTPException(400, "a silence may last at most 365 days")
    record = actions.create_silence(
        reason=body.reason,
        created_by=token.name,
        ends_at=ends,
        now=now,
        starts_at=starts,
        building=body.building,
        kind=body.kind,
        device=body.device,
        rule=body.rule,
    )
    return silence_public(record, now)


@router.patch(
    "/{silence_id}",
    response_model=SilencePublic,
    responses={
        400: {"model": Problem, "description": "the silence has ended, or the new end is not after now"},
        404: {"model": Problem, "description": "no such silence"},
    },
)
def change_silence(
    silence_id: Annotated[int, Path(ge=1, le=2**62)],
    body: SilenceChange,
    _: Silencer,
    store: Store,
    actions: Actions,
    now: Now,
) -> SilencePublic:
    """Extend (or shorten) a silence in force: a new `ends_at`, or `extend_minutes` past its end."""
    silence = store.get_silence(silence_id)
    if silence is None:
        raise HTTPException(404, f"silence {silence_id} does not exist")
    ends = (
        body.ends_at
        if body.ends_at is not None
        else silence.ends_at + dt.timedelta(minutes=body.extend_minutes or 0)
    )
    if ends - silence.starts_at > MAX_LENGTH:
        raise HTTPException(400, "a silence may last at most 365 days")
    return silence_public(actions.extend_silence(silence_id, ends, now), now)


@router.delete(
    "/{silence_id}",
    response_model=SilencePublic,
    responses={404: {"model": Problem, "description": "no such silence"}},
)
def end_silence(
    silence_id: Annotated[int, Path(ge=1, le=2**62)],
    token: Silencer,
    actions: Actions,
    app: State,
    now: Now,
) -> SilencePublic:
    """End a silence now; the alerts it muted are unmuted (an `unsilenced` event each)."""
    silence = actions.end_silence(silence_id, token.name, now)
    app.wakeup.notify()
    return silence_public(silence, now)
