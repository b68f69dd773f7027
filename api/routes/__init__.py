"""The routers the app includes, in this order. A new resource adds its module here.

Each module holds one `router` (an `APIRouter`) and uses the dependency aliases of `api/deps.py`
for its token and role: `Reader`, `Streamer`, `Acker`, `Resolver`, `Silencer`, `Admin`.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routes import (
    alerts,
    deliveries,
    devices,
    drills,
    events,
    fiware,
    health,
    history,
    incidents,
    me,
    reports,
    silences,
    site,
)

ROUTERS: list[APIRouter] = [
    health.router,
    alerts.router,
    silences.router,
    devices.router,
    site.router,
    history.router,
    events.router,
    deliveries.router,
    fiware.router,
    incidents.router,
    drills.router,
    reports.router,
    me.router,
]
