"""Dependencies of the routes, as readable aliases: `Reader`, `Patrol`, `Operator`, `Store`, ...

Authentication and the rate limit run in `authenticated`; each alias then asks for one
permission (api/roles.py), so a route's signature says who may call it.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.models import Problem
from api.roles import Permission, allows
from api.state import ApiState
from api.tokens import TokenInfo
from collector.latest import LatestState
from collector.registry import Registry
from rules.service import AlertService
from rules.store import AlertStore

_bearer = HTTPBearer(
    auto_error=False, description="An API token: `louyu token create --role ROLE --name NAME`"
)

# Documented on every protected route, so that the OpenAPI document lists what a client can meet.
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "no token, or an unknown, revoked or expired one"},
    403: {"model": Problem, "description": "the token's role may not do this"},
    429: {"model": Problem, "description": "too many requests for this token; see Retry-After"},
}


def get_state(request: Request) -> ApiState:
    """The app's state; also callable directly with a request."""
    state: ApiState = request.app.state.louyu
    return state


async def _state(request: Request) -> ApiState:
    # Dependencies without I/O are async so that FastAPI runs them on the loop, not in a thread.
    return get_state(request)


State = Annotated[ApiState, Depends(_state)]


def authenticated(
    state: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> TokenInfo:
    # One answer for every kind of bad token, so that a caller learns nothing about which it was.
    refused = HTTPException(401, "missing or invalid token", headers={"WWW-Authenticate": "Bearer"})
    if credentials is None or not credentials.credentials:
        state.metrics.auth_failures.labels("missing").inc()
        raise refused
    token = credentials.credentials
    info = state.tokens.authenticate(token, state.clock()) if len(token) <= 256 else None
    if info is None:
        state.metrics.auth_failures.labels("invalid").inc()
        raise refused
    wait = state.limiter.take(str(info.id), time.monotonic())
    if wait > 0:
        state.metrics.auth_failures.labels("rate_limited").inc()
        raise HTTPException(
            429,
            f"rate limit: at most {state.limiter.rate:g} requests per second for this token",
            headers={"Retry-After": state.limiter.retry_after_header(wait)},
        )
    return info


def optional_token(
    state: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> TokenInfo | None:
    """The caller's token when a valid one is given, else None: for the routes that answer
    everyone and tell a token holder more (no 401, no rate limit: a probe must get through)."""
    if credentials is None or not credentials.credentials or len(credentials.credentials) > 256:
        return None
    try:
        return state.tokens.authenticate(credentials.credentials, state.clock())
    except Exception:  # noqa: BLE001 (the database is down: /readyz must still answer, as to anyone)
        return None


MaybeToken = Annotated[TokenInfo | None, Depends(optional_token)]


def require(permission: Permission) -> Callable[[TokenInfo], Awaitable[TokenInfo]]:
    async def check(token: Annotated[TokenInfo, Depends(authenticated)]) -> TokenInfo:
        if not allows(token.role, permission):
            raise HTTPException(403, f"role {token.role.value} may not {permission.value}")
        return token

    return check


Reader = Annotated[TokenInfo, Depends(require(Permission.READ))]
Streamer = Annotated[TokenInfo, Depends(require(Permission.EVENTS))]
Acker = Annotated[TokenInfo, Depends(require(Permission.ACK))]
Resolver = Annotated[TokenInfo, Depends(require(Permission.RESOLVE))]
Silencer = Annotated[TokenInfo, Depends(require(Permission.SILENCE))]
Admin = Annotated[TokenInfo, Depends(require(Permission.ADMIN))]


async def get_store(state: State) -> AlertStore:
    return state.store


async def get_actions(state: State) -> AlertService:
    return state.actions


async def get_registry(state: State) -> Registry:
    return state.registry


async def get_devices(state: State) -> LatestState:
    return state.devices


async def get_now(state: State) -> dt.datetime:
    return state.clock()


Store = Annotated[AlertStore, Depends(get_store)]
Actions = Annotated[AlertService, Depends(get_actions)]
RegistryDep = Annotated[Registry, Depends(get_registry)]
Devices = Annotated[LatestState, Depends(get_devices)]
Now = Annotated[dt.datetime, Depends(get_now)]
