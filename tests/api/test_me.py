"""`/api/v1/me` and `/api/v1/me/alerts` against the real app and alert store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from api.roles import Role
from louyu.commands.api import routing_for_api
from louyu.settings import Settings
from rules.notify.config import parse_routing
from rules.store import NewAlert
from tests.api.conftest import Api

ROUTES = parse_routing("""
receivers:
  - {name: patrol-b, mqtt: {}, people: [wang], description: Tower B handset}
  - {name: supervisor, mqtt: {}}
routes:
  - name: tower-b
    match: {building: darong-b, severity: [critical, major]}
    receivers: [patrol-b]
    escalate: [{after: 5m, receivers: [supervisor]}]
""")


def raise_at(api: Api, device: str, building: str, severity: str, minutes_ago: float) -> int:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    event = api.store.raise_alert(
        NewAlert("aed-fault", severity, building, "aed", device, f"fault {device}", True, {}), at
    )
    assert event is not None
    return event.alert.id


def test_me_names_the_receivers_a_token_stands_for(start_api: Callable[..., Api]) -> None:
    api = start_api(routing=ROUTES)
    _, wang = api.tokens.create("wang", Role.PATROL, dt.datetime.now(dt.UTC))
    with api.client(token=wang) as client:
        body = client.get("/api/v1/me").json()
    assert body["name"] == "wang" and body["role"] == "patrol" and "ack" in body["permissions"]
    assert body["receivers"] == [
        {"name": "patrol-b", "channel": "mqtt", "description": "Tower B handset", "on_duty": True}
    ]
    with api.client(Role.VIEWER) as client:
        assert client.get("/api/v1/me").json()["receivers"] == []
    with api.client() as client:
        assert client.get("/api/v1/me").status_code == 401
        assert client.get("/api/v1/me/alerts").status_code == 401


def test_my_alerts_are_those_paged_to_me_called_ones_first(start_api: Callable[..., Api]) -> None:
    api = start_api(routing=ROUTES)
    now = dt.datetime.now(dt.UTC)
    _, wang = api.tokens.create("wang", Role.PATROL, now)
    _, boss = api.tokens.create("supervisor", Role.OPERATOR, now)
    fresh = raise_at(api, "aed-b-1f-lobby", "darong-b", "major", 1)
    old = raise_at(api, "aed-b-12f-lift", "darong-b", "major", 6)
    elsewhere = raise_at(api, "aed-c-1f-lobby", "darong-c", "critical", 1)
    done = raise_at(api, "aed-b-2f", "darong-b", "critical", 2)
    api.store.resolve(done, "operator", None, now)
    with api.client(token=wang) as client:
        body = client.get("/api/v1/me/alerts").json()
    assert body["receivers"] == ["patrol-b"]
    assert [i["alert"]["id"] for i in body["items"]] == [fresh, old]  # priority: newest first
    assert all(i["called"] for i in body["items"])
    assert elsewhere not in [i["alert"]["id"] for i in body["items"]]
    # The supervisor is called on the one unacknowledged for five minutes; the other comes later.
    with api.client(token=boss) as client:
        items = client.get("/api/v1/me/alerts").json()["items"]
    assert [(i["alert"]["id"], i["called"]) for i in items] == [(old, True), (fresh, False)]
    [paged] = items[1]["paged"]
    assert (paged["receiver"], paged["level"], paged["called"]) == ("supervisor", 1, False)
    due = dt.datetime.fromisoformat(paged["due_at"])
    assert abs(due - (now - dt.timedelta(minutes=1) + dt.timedelta(minutes=5))) < dt.timedelta(seconds=5)


def test_the_api_reads_the_notifiers_routing_file_and_starts_without_a_broken_one(tmp_path: Path) -> None:
    good = tmp_path / "routes.yaml"
    good.write_text(
        "receivers:\n  - {name: patrol-b, mqtt: {}, people: [wang]}\nroutes: [{receivers: [patrol-b]}]\n"
    )
    settings = Settings(notify_file=good, environment="development")
    assert [r.people for r in routing_for_api(settings).receivers] == [["wang"]]
    broken = tmp_path / "broken.yaml"
    broken.write_text("receivers:\n  - {name: patrol-b, mqtt: {}, people: wang}\n")
    # The notifier refuses such a file; the API, which shows AED alerts, routes to nobody instead.
    assert routing_for_api(Settings(notify_file=broken, environment="development")).receivers == []
