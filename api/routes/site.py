"""`/api/v1/site`: the site plan, the registry's buildings and places with what their alerts and
figures say now (docs/api.md)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from api.deps import Devices, Now, Reader, RegistryDep, Store
from api.site_models import SitePlan
from api.site_plan import site_plan
from collector.summary import summarize

router = APIRouter(tags=["devices"])


def _ms(now: dt.datetime) -> int:
    return int(now.timestamp() * 1000)


@router.get("/api/v1/site", response_model=SitePlan)
def get_site(_: Reader, registry: RegistryDep, devices: Devices, store: Store, now: Now) -> SitePlan:
    """The site plan: each building's outline (metres, x east, y north, in the registry's site
    frame), its most severe open alert and whether a critical one fires unacknowledged; every AED,
    parking site and canteen with its position and figure (AED readiness, free parking, canteen
    load, as `/api/v1/buildings`). A registry without geometry gives null outlines and positions."""
    return site_plan(registry, summarize(registry, devices.snapshot(), _ms(now)), store.open_alerts())
