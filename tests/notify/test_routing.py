"""Route matching and the first-match-wins walk, table-driven."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from collector.registry import Registry
from rules.notify.config import parse_routing
from rules.notify.planner import plan_event
from rules.notify.routing import matching_routes

CONFIG = parse_routing("""
receivers:
  - {name: city, mqtt: {}}
  - {name: patrol, mqtt: {}}
  - {name: garage-desk, mqtt: {}}
  - {name: facilities, mqtt: {}}
routes:
  - {name: city, receivers: [city], events: all, include_silenced: true, continue: true}
  - {name: aed, match: {rule: "aed-*", severity: [critical, major]}, receivers: [patrol]}
  - {name: garage, match: {kind: parking_lot, labels: {zone: garage}}, receivers: [garage-desk]}
  - {name: rest, match: {building: ["darong-*"]}, receivers: [facilities]}
""")


def alert(**fields: Any) -> dict[str, Any]:
    base = {
        "id": 7,
        "rule": "aed-cabinet-open",
        "severity": "critical",
        "state": "firing",
        "building": "darong-b",
        "kind": "aed",
        "device": "aed-b-1f-lobby",
        "summary": "x",
        "labels": {"floor": "1F", "zone": "lobby"},
        "silenced": False,
        "started_at": "2026-11-27T01:00:00+00:00",
    }
    return base | fields


@pytest.mark.parametrize(
    ("fields", "routes"),
    [
        ({}, ["city", "aed"]),
        ({"severity": "minor", "rule": "aed-battery-low"}, ["city", "rest"]),
        (
            {"rule": "parking-lot-full", "kind": "parking_lot", "labels": {"zone": "garage"}},
            ["city", "garage"],
        ),
        ({"rule": "parking-lot-full", "kind": "parking_lot", "labels": {}}, ["city", "rest"]),
        ({"building": "elsewhere", "severity": "warning", "rule": "canteen-crowded"}, ["city"]),
    ],
)
def test_first_match_wins_unless_continue(fields: dict[str, Any], routes: list[str]) -> None:
    assert [CONFIG.route_name(i) for i in matching_routes(CONFIG, alert(**fields))] == routes


def plan(kind: str, **fields: Any) -> list[str]:
    event = {
        "event_id": 99,
        "event": kind,
        "at": "2026-11-27T01:00:00+00:00",
        "by": None,
        "note": None,
        "alert": alert(**fields),
    }
    now = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)
    return [d.receiver for d in plan_event(CONFIG, Registry.load(), event, now).deliveries]


def test_silenced_alerts_reach_only_routes_that_ask_for_them() -> None:
    assert plan("raised") == ["city", "patrol"]
    assert plan("raised", silenced=True) == ["city"]


def test_events_a_route_does_not_take_are_not_sent() -> None:
    assert plan("flapping") == ["city"]  # the aed route takes the default events only
    assert plan("acknowledged", state="acknowledged") == ["city", "patrol"]
    assert plan("unsilenced") == ["city", "patrol"]
    assert plan("unsilenced", state="acknowledged") == ["city"]
