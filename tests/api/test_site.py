"""`/api/v1/site`: the registry's plan with each building's most severe open alert, the alarm
flag, and the building summary's figures, against the real app and alert store."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from api.roles import Role
from api.site_plan import site_plan
from collector.latest import LatestState
from collector.models import Reading
from collector.registry import Registry
from collector.summary import summarize
from tests.api.conftest import Api


def test_the_plan_needs_a_token_and_every_role_may_read_it(api: Api) -> None:
    with api.client() as anonymous:
        assert anonymous.get("/api/v1/site").status_code == 401
    for role in Role:
        with api.client(role) as client:
            assert client.get("/api/v1/site").status_code == 200, role


def test_the_plan_has_every_tower_and_colours_each_by_its_worst_open_alert(api: Api) -> None:
    api.raise_alert(rule="aed-battery-low", severity="minor", device="aed-b-12f-lift")
    critical = api.raise_alert()  # aed-cabinet-open at aed-b-1f-lobby
    api.raise_alert(rule="aed-fault", severity="major", building="darong-c", device="aed-c-1f-lobby")
    with api.client(Role.VIEWER) as client:
        plan = client.get("/api/v1/site").json()
    assert plan["unit"] == "m" and plan["bounds"] == [20.0, 20.0, 391.0, 228.0]
    towers = {b["building"]: b for b in plan["buildings"]}
    assert len(towers) == 17
    assert all(len(b["outline"]) >= 5 and b["outline"][0] == b["outline"][-1] for b in towers.values())
    assert (
        towers["darong-b"]["severity"],
        towers["darong-b"]["open_alerts"],
        towers["darong-b"]["alarm"],
    ) == (
        "critical",
        2,
        True,
    )
    assert (towers["darong-c"]["severity"], towers["darong-c"]["alarm"]) == ("major", False)
    assert towers["darong-d"]["severity"] is None and towers["darong-d"]["open_alerts"] == 0
    aeds = {p["device"]: p for p in plan["places"] if p["kind"] == "aed"}
    assert len(aeds) == 21 and all(p["position"] is not None for p in aeds.values())
    assert aeds["aed-b-1f-lobby"]["severity"] == "critical" and aeds["aed-b-12f-lift"]["severity"] == "minor"
    assert aeds["aed-b-1f-lobby"]["location"].startswith("B 座一楼大堂")
    # Acknowledged: still the worst, no longer flashing.
    with api.client(Role.PATROL) as client:
        assert client.post(f"/api/v1/alerts/{critical.alert.id}/ack", json={}).status_code == 200
    with api.client(Role.VIEWER) as client:
        towers = {b["building"]: b for b in client.get("/api/v1/site").json()["buildings"]}
    assert (towers["darong-b"]["severity"], towers["darong-b"]["alarm"]) == ("critical", False)


def test_the_figures_are_the_building_summarys(start_api: Callable[..., Api], registry: Registry) -> None:
    table = LatestState(registry)
    now_ms = int(time.time() * 1000)
    table.apply(Reading("darong-a", "parking_lot", "garage", now_ms, {"occupied": 412, "capacity": 600}))
    table.apply(Reading("darong-b", "canteen", "main-hall", now_ms, {"occupancy": 378, "queue_length": 12}))
    table.apply(
        Reading("darong-b", "aed", "aed-b-1f-lobby", now_ms, {"state": "ready", "cabinet_open": False})
    )
    api = start_api(devices=table)
    with api.client(Role.VIEWER) as client:
        plan = client.get("/api/v1/site").json()
        summary = {b["building"]: b for b in client.get("/api/v1/buildings").json()}
    places = {(p["building"], p["device"]): p for p in plan["places"]}
    garage = places[("darong-a", "garage")]
    assert (garage["free"], garage["capacity"], garage["freshness"]) == (188, 600, "fresh")
    assert garage["free"] == summary["darong-a"]["parking"]["free"]
    assert len(garage["outline"]) == 5
    # The levels are in the floor list, not drawn: only the site is a place.
    assert ("darong-a", "garage-b1") not in places
    hall = places[("darong-b", "main-hall")]
    assert (hall["load"], hall["queue_length"]) == (pytest.approx(0.9), 12)
    assert hall["load"] == summary["darong-b"]["canteens"][0]["load"]
    assert places[("darong-b", "aed-b-1f-lobby")]["ready"] is True
    assert places[("darong-c", "aed-c-1f-lobby")]["ready"] is False
    assert places[("darong-c", "aed-c-1f-lobby")]["freshness"] == "unknown"


def test_a_registry_without_geometry_gives_a_plan_without_shapes() -> None:
    registry = Registry.from_text(
        "area: t\nbuildings:\n  - id: b\n    name: B\n    devices:\n      - {kind: aed, id: e}\n"
    )
    plan = site_plan(registry, summarize(registry, {}, 0), [])
    assert plan.bounds is None
    [building] = plan.buildings
    assert building.outline is None and building.label_at is None and building.severity is None
    [aed] = plan.places
    assert aed.position is None and aed.ready is False
