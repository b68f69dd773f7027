"""`/healthz`, `/readyz`, `/metrics`: for probes and Prometheus, without a token (bind the API to
a private address or filter these paths at the proxy if they must not be public)."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder

from api.deps import MaybeToken, State
from api.influx import InfluxError
from api.metrics import MergedExposition
from api.models import CheckResult, Liveness, Readiness
from api.roles import Permission, allows
from api.state import ApiState

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Liveness)
def healthz() -> Liveness:
    """The process answers."""
    return Liveness()


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "at least one dependency is down"}},
)
async def readyz(app: State, token: MaybeToken) -> JSONResponse:
    """Broker, InfluxDB and alert store, each reported; 503 when one is down. Without a token
    the answer says which dependency failed but not how: the error text (host names, database
    messages) only goes to a caller with a valid token of a role that may read."""
    checks = {
        "broker": _broker(app),
        "influxdb": await _influx(app),
        "alert_store": await _store(app),
    }
    if token is None or not allows(token.role, Permission.READ):
        checks = {name: _public(check) for name, check in checks.items()}
    body = Readiness(ready=all(c.ok for c in checks.values()), checks=checks)
    return JSONResponse(body.model_dump(mode="json"), status_code=200 if body.ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}, "application/openmetrics-text": {}}}},
)
def metrics(app: State, request: Request) -> Response:
    """Prometheus metrics: the API's, and those of every other part running in this process
    (collector, rules engine, notifier under `louyu up`), each family once. Text exposition
    format 0.0.4, or OpenMetrics when the `Accept` header asks for it."""
    app.metrics.devices.set(len(app.devices))
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    body = encode(MergedExposition(app.metrics.registry, REGISTRY))
    return Response(body, media_type=content_type, headers={"Vary": "Accept"})


def _public(check: CheckResult) -> CheckResult:
    if check.ok:
        return check
    return CheckResult(ok=False, detail="unavailable")


def _broker(app: ApiState) -> CheckResult:
    if app.feed is None:
        return CheckResult(ok=True, detail="not configured")
    return CheckResult(ok=app.feed.connected, detail=None if app.feed.connected else "not connected")


async def _influx(app: ApiState) -> CheckResult:
    if app.history is None:
        return CheckResult(ok=True, detail="not configured")
    try:
        await app.history.ping()
    except InfluxError as error:
        return CheckResult(ok=False, detail=str(error)[:200])
    return CheckResult(ok=True)


async def _store(app: ApiState) -> CheckResult:
    try:
        await anyio.to_thread.run_sync(app.store.last_event_id)
    except Exception as error:  # noqa: BLE001 (any database failure means "not ready")
        return CheckResult(ok=False, detail=f"{type(error).__name__}: {str(error)[:200]}")
    return CheckResult(ok=True)
