"""Alert routes against the real app and a real SQLite store: filters, sorting, cursor paging,
one alert with its events, ack and resolve with notes, and the errors a client can meet."""

from __future__ import annotations

import base64
import datetime as dt
import json

import httpx

from api.roles import Role
from rules.store import NewAlert
from tests.api.conftest import Api

T0 = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)


def _fill(api: Api) -> dict[str, int]:
    """A small, known population: 3 AED alerts in darong-b, 2 lot alerts in darong-a, 1 canteen."""
    ids: dict[str, int] = {}
    rows = [
        ("aed-cabinet-open", "critical", "darong-b", "aed", "aed-b-1f-lobby"),
        ("aed-battery-low", "minor", "darong-b", "aed", "aed-b-12f-lift"),
        ("aed-fault", "major", "darong-b", "aed", "aed-b-1f-lobby"),
        ("parking-lot-full", "warning", "darong-a", "parking_lot", "garage"),
        ("parking-lot-full", "warning", "darong-a", "parking_lot", "garage-b1"),
        ("canteen-crowded", "warning", "darong-b", "canteen", "main-hall"),
    ]
    for n, (rule, severity, building, kind, device) in enumerate(rows):
        event = api.store.raise_alert(
            NewAlert(rule, severity, building, kind, device, f"{rule} {device}", n, {}),
            T0 + dt.timedelta(minutes=n),
        )
        assert event is not None
        ids[f"{rule}/{device}"] = event.alert.id
    api.store.acknowledge(ids["aed-fault/aed-b-1f-lobby"], "someone", None, T0 + dt.timedelta(hours=1))
    api.store.resolve(ids["parking-lot-full/garage-b1"], "someone", None, T0 + dt.timedelta(hours=1))
    return ids


def _ids(response_json: dict[str, object]) -> list[int]:
    items = response_json["items"]
    assert isinstance(items, list)
    return [item["id"] for item in items]


def test_filters_combine_and_repeat(api: Api) -> None:
    ids = _fill(api)
    with api.client(Role.VIEWER) as client:

        def get(**params: object) -> list[int]:
            response = client.get("/api/v1/alerts", params=params)  # type: ignore[arg-type]
            assert response.status_code == 200, response.text
            return sorted(_ids(response.json()))

        assert len(get()) == 6
        assert get(state="firing") == sorted(
            ids[k]
            for k in (
                "aed-cabinet-open/aed-b-1f-lobby",
                "aed-battery-low/aed-b-12f-lift",
                "parking-lot-full/garage",
                "canteen-crowded/main-hall",
            )
        )
        assert get(state=["acknowledged", "resolved"]) == sorted(
            [ids["aed-fault/aed-b-1f-lobby"], ids["parking-lot-full/garage-b1"]]
        )
        assert get(building="darong-a") == sorted(
            [ids["parking-lot-full/garage"], ids["parking-lot-full/garage-b1"]]
        )
        assert get(kind="aed", severity="critical") == [ids["aed-cabinet-open/aed-b-1f-lobby"]]
        assert get(device="aed-b-1f-lobby") == sorted(
            [ids["aed-cabinet-open/aed-b-1f-lobby"], ids["aed-fault/aed-b-1f-lobby"]]
        )
        assert get(rule="parking-lot-full", state="firing") == [ids["parking-lot-full/garage"]]
        assert get(building="darong-c") == []
        # Values outside the contract are refused, not passed on.
        assert client.get("/api/v1/alerts", params={"state": "open"}).status_code == 422
        assert client.get("/api/v1/alerts", params={"building": "Darong'--"}).status_code == 422
        assert client.get("/api/v1/alerts", params={"sort": "summary"}).status_code == 422


def test_sorting(api: Api) -> None:
    ids = _fill(api)
    with api.client(Role.VIEWER) as client:
        newest = _ids(client.get("/api/v1/alerts").json())
        oldest = _ids(client.get("/api/v1/alerts", params={"sort": "started_at"}).json())
        by_severity = client.get("/api/v1/alerts", params={"sort": "severity"}).json()["items"]
    assert newest == sorted(ids.values(), reverse=True)  # raised one minute apart, in id order
    assert oldest == sorted(ids.values())
    ranks = ["critical", "major", "minor", "warning", "info"]
    assert [ranks.index(a["severity"]) for a in by_severity] == sorted(
        ranks.index(a["severity"]) for a in by_severity
    )


def test_cursor_paging_visits_every_alert_once(api: Api) -> None:
    for n in range(57):
        api.store.raise_alert(
            NewAlert(
                "device-offline", "minor", "darong-a", "parking_space", f"b1-{n:03d}", "silent", None, {}
            ),
            T0 + dt.timedelta(seconds=n // 3),  # ties on started_at: the cursor must break them by id
        )
    seen: list[int] = []
    cursor = None
    pages = 0
    with api.client(Role.INTEGRATION) as client:
        while True:
            params: dict[str, object] = {"limit": 10, "sort": "-started_at"}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/api/v1/alerts", params=params).json()  # type: ignore[arg-type]
            seen += _ids(page)
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert client.get("/api/v1/alerts", params={"cursor": "not-a-cursor"}).status_code == 400
    assert pages == 6
    assert len(seen) == 57 and len(set(seen)) == 57


def test_one_alert_with_its_events(api: Api) -> None:
    alert = api.raise_alert().alert
    with api.client(Role.OPERATOR) as client:
        assert client.post(f"/api/v1/alerts/{alert.id}/ack", json={"note": "on my way"}).status_code == 200
        resolved = client.post(f"/api/v1/alerts/{alert.id}/resolve", json={"note": "cabinet closed"})
        body = client.get(f"/api/v1/alerts/{alert.id}").json()
    assert resolved.status_code == 200
    assert resolved.json()["state"] == "resolved" and resolved.json()["resolved_by"] == "operator-1"
    assert resolved.json()["resolution"] == "manual"
    assert [(e["event"], e["by"], e["note"]) for e in body["events"]] == [
        ("raised", None, None),
        ("acknowledged", "operator-1", "on my way"),
        ("resolved", "operator-1", "cabinet closed"),
    ]
    assert body["started_at"].endswith("+00:00")
    for key in (
        "id",
        "rule",
        "severity",
        "state",
        "building",
        "kind",
        "device",
        "summary",
        "value",
        "started_at",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
    ):
        assert key in body


def test_errors_a_client_can_meet(api: Api) -> None:
    alert = api.raise_alert().alert
    with api.client(Role.ADMIN) as client:
        assert client.get("/api/v1/alerts/999999").status_code == 404
        assert client.post("/api/v1/alerts/999999/ack").status_code == 404
        assert client.get("/api/v1/alerts/0").status_code == 422
        assert client.get(f"/api/v1/alerts/{2**70}").status_code == 422
        assert client.post(f"/api/v1/alerts/{alert.id}/resolve").status_code == 200
        again = client.post(f"/api/v1/alerts/{alert.id}/ack")
        assert again.status_code == 409
        assert "resolved" in again.json()["detail"]
        assert client.post(f"/api/v1/alerts/{alert.id}/resolve").status_code == 409
        assert (
            client.post(
                f"/api/v1/alerts/{alert.id}/ack",
                content=b"not json",
                headers={"content-type": "application/json"},
            ).status_code
            == 422
        )
        assert client.post(f"/api/v1/alerts/{alert.id}/ack", json={"note": "x" * 2001}).status_code == 422


def test_silences_create_list_end(api: Api) -> None:
    lot = api.raise_alert(
        rule="parking-lot-full",
        severity="warning",
        building="darong-a",
        kind="parking_lot",
        device="garage",
        value=0.97,
    ).alert
    with api.client(Role.OPERATOR) as client:
        created = client.post(
            "/api/v1/silences",
            json={
                "building": "darong-a",
                "rule": "parking-lot-full",
                "duration_minutes": 60,
                "reason": "event day",
            },
        )
        assert created.status_code == 201, created.text
        silence = created.json()
        assert silence["created_by"] == "operator-1" and silence["active"] is True
        assert api.store.get(lot.id).silenced is True  # type: ignore[union-attr]
        listed = client.get("/api/v1/silences", params={"active": True}).json()
        assert [s["id"] for s in listed] == [silence["id"]]
        # Extend by an hour past its end, then set an end outright; neither, both or the past: refused.
        url = f"/api/v1/silences/{silence['id']}"
        longer = client.patch(url, json={"extend_minutes": 60})
        assert longer.status_code == 200, longer.text
        end = dt.datetime.fromisoformat(silence["ends_at"])
        assert dt.datetime.fromisoformat(longer.json()["ends_at"]) == end + dt.timedelta(hours=1)
        later = end + dt.timedelta(hours=5)
        assert client.patch(url, json={"ends_at": later.isoformat()}).json()["ends_at"] == later.isoformat(
            timespec="microseconds"
        )
        assert [
            client.patch(url, json=body).status_code
            for body in ({}, {"extend_minutes": 5, "ends_at": later.isoformat()}, {"ends_at": T0.isoformat()})
        ] == [422, 422, 400]
        assert client.patch("/api/v1/silences/424242", json={"extend_minutes": 5}).status_code == 404
        assert api.store.get(lot.id).silenced is True  # type: ignore[union-attr]
        ended = client.delete(f"/api/v1/silences/{silence['id']}")
        assert ended.status_code == 200 and ended.json()["active"] is False
        assert ended.json()["ended_by"] == "operator-1"
        assert client.get("/api/v1/silences", params={"active": True}).json() == []
        assert api.store.get(lot.id).silenced is False  # type: ignore[union-attr]
        assert api.store.events(lot.id)[-1].event == "unsilenced"
        # Refused: no matcher, both or neither end, a window of years, unknown fields.
        bad = [
            {"duration_minutes": 5, "reason": "all"},
            {"building": "darong-a", "reason": "x"},
            {"building": "darong-a", "reason": "x", "duration_minutes": 5, "ends_at": "2030-01-01T00:00:00Z"},
            {"building": "darong-a", "reason": "x", "ends_at": "2099-01-01T00:00:00Z"},
            {"building": "darong-a", "reason": "x", "ends_at": "2030-01-01T00:00:00"},
            {"building": "darong-a", "reason": "x", "duration_minutes": 5, "severity": "info"},
        ]
        codes = [client.post("/api/v1/silences", json=body).status_code for body in bad]
        assert codes == [400, 422, 422, 400, 422, 422]
        assert client.delete("/api/v1/silences/424242").status_code == 404
        # An ended silence cannot be brought back by extending it.
        assert client.patch(url, json={"extend_minutes": 60}).status_code == 400


def _priority_population(api: Api) -> dict[str, int]:
    """Alerts whose priority order is known: severity first, then urgency, then newest first."""
    ids: dict[str, int] = {}
    rows = [
        # name, rule, severity, device, minute raised
        ("old-critical", "aed-cabinet-open", "critical", "aed-1", 0),
        ("new-critical", "aed-cabinet-open", "critical", "aed-2", 5),
        ("acked-critical", "aed-cabinet-open", "critical", "aed-3", 9),
        ("major", "aed-fault", "major", "aed-4", 10),
        ("minor", "aed-battery-low", "minor", "aed-5", 11),
        ("resolved-critical", "aed-cabinet-open", "critical", "aed-6", 12),
    ]
    for name, rule, severity, device, minute in rows:
        event = api.store.raise_alert(
            NewAlert(rule, severity, "darong-b", "aed", device, f"{rule} {device}", True, {}),
            T0 + dt.timedelta(minutes=minute),
        )
        assert event is not None
        ids[name] = event.alert.id
    later = T0 + dt.timedelta(minutes=30)
    # The older critical went unacknowledged long enough to escalate: it outranks the newer one.
    assert api.store.escalate(ids["old-critical"], 0, later) is not None
    api.store.acknowledge(ids["acked-critical"], "patrol-wang", "on my way", later)
    api.store.resolve(ids["resolved-critical"], "ops-li", None, later)
    return ids


def test_priority_order_puts_escalated_then_firing_critical_first(api: Api) -> None:
    ids = _priority_population(api)
    with api.client(Role.VIEWER) as client:
        body = client.get("/api/v1/alerts", params={"sort": "priority"}).json()
        reverse = client.get("/api/v1/alerts", params={"sort": "-priority"}).json()
    expected = ["old-critical", "new-critical", "acked-critical", "resolved-critical", "major", "minor"]
    assert _ids(body) == [ids[name] for name in expected]
    assert _ids(reverse) == [ids[name] for name in reversed(expected)]
    assert body["counts"] == {
        "severity": {"critical": 4, "major": 1, "minor": 1, "warning": 0, "info": 0},
        "state": {"firing": 4, "acknowledged": 1, "resolved": 1},
    }


def test_counts_follow_the_filter_but_not_their_own_facet(api: Api) -> None:
    _priority_population(api)
    with api.client(Role.VIEWER) as client:
        body = client.get(
            "/api/v1/alerts", params={"state": ["firing", "acknowledged"], "severity": "critical"}
        ).json()
    assert len(body["items"]) == 3
    # Severity counts ignore the severity filter (they say what choosing another would show) ...
    assert body["counts"]["severity"] == {"critical": 3, "major": 1, "minor": 1, "warning": 0, "info": 0}
    # ... and state counts ignore the state filter.
    assert body["counts"]["state"] == {"firing": 2, "acknowledged": 1, "resolved": 1}


def test_priority_paging_visits_every_alert_once_in_order(api: Api) -> None:
    ids = _priority_population(api)
    for n in range(40):
        api.store.raise_alert(
            NewAlert("device-offline", "minor", "darong-a", "parking_space", f"b1-{n:03d}", "x", None, {}),
            T0 + dt.timedelta(seconds=n // 4),  # ties on started_at: broken by id
        )
    with api.client(Role.VIEWER) as client:
        full = _ids(client.get("/api/v1/alerts", params={"sort": "priority", "limit": 1000}).json())
        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, object] = {"limit": 7, "sort": "priority"}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/api/v1/alerts", params=params).json()  # type: ignore[arg-type]
            assert (page["counts"] is None) == (cursor is not None)  # counted on the first page only
            seen += _ids(page)
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert (
            client.get(
                "/api/v1/alerts", params={"sort": "-started_at", "cursor": _cursor_of(client)}
            ).status_code
            == 400
        )
    assert seen == full and len(full) == 46
    assert seen[0] == ids["old-critical"]


def _cursor_of(client: httpx.Client) -> str:
    cursor = client.get("/api/v1/alerts", params={"sort": "priority", "limit": 1}).json()["next_cursor"]
    assert isinstance(cursor, str)
    return cursor  # a priority cursor, refused by another sort


def test_malformed_priority_cursors_are_400(api: Api) -> None:
    api.raise_alert()
    bad = [
        ["priority", [0, 1], 3],
        ["priority", [0, 1, "2026-11-27T01:00:00"], 3],  # naive
        ["priority", [2**70, 1, "2026-11-27T01:00:00+00:00"], 3],
        ["priority", [0, 1, "yesterday"], 3],
        ["priority", [0, 1, "2026-11-27T01:00:00+00:00"], True],
    ]
    with api.client(Role.VIEWER) as client:
        for raw in bad:
            cursor = base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")
            response = client.get("/api/v1/alerts", params={"sort": "priority", "cursor": cursor})
            assert response.status_code == 400, (raw, response.text)


def test_text_and_time_range_filters(api: Api) -> None:
    ids = _fill(api)
    with api.client(Role.VIEWER) as client:

        def get(**params: object) -> list[int]:
            response = client.get("/api/v1/alerts", params=params)  # type: ignore[arg-type]
            assert response.status_code == 200, response.text
            return sorted(_ids(response.json()))

        assert get(q="LOBBY") == sorted(
            [ids["aed-cabinet-open/aed-b-1f-lobby"], ids["aed-fault/aed-b-1f-lobby"]]
        )
        assert get(q="main-hall") == [ids["canteen-crowded/main-hall"]]
        assert get(q="100%_") == []  # LIKE wildcards are matched literally
        since = (T0 + dt.timedelta(minutes=4)).isoformat()
        until = (T0 + dt.timedelta(minutes=5)).isoformat()
        assert get(since=since) == sorted(
            [ids["parking-lot-full/garage-b1"], ids["canteen-crowded/main-hall"]]
        )
        assert get(since=since, until=until) == [ids["parking-lot-full/garage-b1"]]
        assert client.get("/api/v1/alerts", params={"since": "2026-11-27T01:00:00"}).status_code == 422
