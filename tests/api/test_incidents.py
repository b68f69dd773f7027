"""`/api/v1/incidents`: AED incidents from the real store through the real app.

A scripted incident (cabinet open at t0, acknowledged at t1, on site at t2, back at t3) gives
exactly those response times, in the API and in the metrics; cabinet-open and in-use of one
cabinet are one incident; the steps' roles, 404 and 409.
"""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.roles import Role
from collector.models import Reading
from rules.store import AlertStore
from tests.api.conftest import Api, new_alert
from tests.api.sse import take

T0 = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def scripted(store: AlertStore, device: str = "aed-b-1f-lobby") -> int:
    """Cabinet open at t0, in use at t0+20 s, acknowledged at t0+45 s; the caller records the
    steps; `back` resolves both."""
    opened = store.raise_alert(new_alert(device=device), at(0))
    in_use = store.raise_alert(new_alert(device=device, rule="aed-in-use", value="in_use"), at(20))
    assert opened is not None and in_use is not None
    store.acknowledge(opened.alert_id, "patrol-li", "on my way", at(45))
    return opened.alert_id


def back(store: AlertStore, incident_id: int, seconds: float) -> None:
    """The AED back in its cabinet: the engine clears both alerts."""
    for alert_id in (incident_id, incident_id + 1):
        store.clear(alert_id, at(seconds), "condition cleared")


def test_scripted_incident_gives_the_script_s_response_times(api: Api) -> None:
    incident_id = scripted(api.store)
    api.store.record(incident_id, "en_route", "patrol-li", None, at(50))
    api.store.record(incident_id, "on_site", "patrol-li", "patient breathing", at(170))
    api.store.record(incident_id, "on_site", "patrol-wang", "second patrol", at(200))  # counted once
    with api.client(Role.PATROL) as client:
        open_body = client.get(f"/api/v1/incidents/{incident_id}").json()
        assert open_body["state"] == "open"
        assert open_body["closed_at"] is None
        assert open_body["timings"] == {
            "time_to_ack_s": 45.0,
            "time_to_site_s": 170.0,
            "time_to_return_s": None,
        }
        back(api.store, incident_id, 600)
        body = client.get(f"/api/v1/incidents/{incident_id}").json()
    assert body["state"] == "closed"
    assert body["timings"] == {"time_to_ack_s": 45.0, "time_to_site_s": 170.0, "time_to_return_s": 600.0}
    assert body["acknowledged_by"] == "patrol-li"
    assert [s["step"] for s in body["steps"]] == ["en_route", "on_site", "on_site"]
    assert dt.datetime.fromisoformat(body["closed_at"]) == at(600)
    assert body["escalation_due_at"] is None
    events = [(t["event"], t["rule"]) for t in body["timeline"]]
    assert events == [
        ("raised", "aed-cabinet-open"),
        ("raised", "aed-in-use"),
        ("acknowledged", "aed-cabinet-open"),
        ("en_route", "aed-cabinet-open"),
        ("on_site", "aed-cabinet-open"),
        ("on_site", "aed-cabinet-open"),
        ("resolved", "aed-cabinet-open"),
        ("resolved", "aed-in-use"),
    ]
    with api.client(Role.VIEWER) as client:
        metrics = client.get("/metrics").text
    samples = {
        (s.name, s.labels.get("drill"), s.labels.get("le")): s.value
        for family in text_string_to_metric_families(metrics)
        if family.name.startswith("louyu_incident_")
        for s in family.samples
    }
    assert samples[("louyu_incident_time_to_ack_seconds_sum", "false", None)] == 45.0
    assert samples[("louyu_incident_time_to_site_seconds_sum", "false", None)] == 170.0
    assert samples[("louyu_incident_time_to_return_seconds_sum", "false", None)] == 600.0
    assert samples[("louyu_incident_time_to_site_seconds_bucket", "false", "120.0")] == 0.0
    assert samples[("louyu_incident_time_to_site_seconds_bucket", "false", "180.0")] == 1.0
    assert samples[("louyu_incident_time_to_return_seconds_count", "true", None)] == 0.0


def test_cabinet_open_and_in_use_are_one_incident_the_alerts_stay_listed(api: Api) -> None:
    incident_id = scripted(api.store)
    back(api.store, incident_id, 300)
    # Later, the same cabinet again: a new incident. Another cabinet: its own.
    again = api.store.raise_alert(new_alert(), at(900))
    other = api.store.raise_alert(new_alert(device="aed-b-12f-lift"), at(950))
    fault = api.store.raise_alert(new_alert(rule="aed-fault", severity="major", value="fault"), at(960))
    assert again is not None and other is not None and fault is not None
    with api.client(Role.PATROL) as client:
        page = client.get("/api/v1/incidents").json()
        assert [i["id"] for i in page["items"]] == [other.alert_id, again.alert_id, incident_id]
        assert page["items"][2]["alert_ids"] == [incident_id, incident_id + 1]
        assert page["items"][2]["state"] == "closed"
        assert [i["id"] for i in client.get("/api/v1/incidents?state=open").json()["items"]] == [
            other.alert_id,
            again.alert_id,
        ]
        assert [i["id"] for i in client.get("/api/v1/incidents?state=closed").json()["items"]] == [
            incident_id
        ]
        first = client.get("/api/v1/incidents?limit=2").json()
        assert first["next_cursor"] == str(again.alert_id)
        rest = client.get(f"/api/v1/incidents?limit=2&cursor={first['next_cursor']}").json()
        assert [i["id"] for i in rest["items"]] == [incident_id] and rest["next_cursor"] is None
        since = at(899).isoformat()
        assert len(client.get("/api/v1/incidents", params={"since": since}).json()["items"]) == 2
        # Any alert of the incident finds it; an alert of no incident (aed-fault) does not.
        assert client.get(f"/api/v1/incidents/{incident_id + 1}").json()["id"] == incident_id
        assert client.get(f"/api/v1/incidents/{fault.alert_id}").status_code == 404
        assert client.get("/api/v1/incidents/999999").status_code == 404
        # Grouped, never hidden: every alert is still in the alert list.
        listed = {a["id"] for a in client.get("/api/v1/alerts?limit=100").json()["items"]}
    assert {incident_id, incident_id + 1, again.alert_id, other.alert_id, fault.alert_id} <= listed


def test_incident_body_tells_where_and_when_it_escalates(api: Api) -> None:
    opened = api.store.raise_alert(new_alert(), dt.datetime.now(dt.UTC))
    assert opened is not None
    with api.client(Role.PATROL) as client:
        body = client.get(f"/api/v1/incidents/{opened.alert_id}").json()
    location = body["location"]
    assert location["building"] == "darong-b" and location["floor"] and location["location"]
    assert location["building_name"]
    # Shipped rules: critical alerts escalate 5 minutes after they were raised.
    due = dt.datetime.fromisoformat(body["escalation_due_at"])
    assert due == opened.alert.started_at + dt.timedelta(minutes=5)
    assert body["drill"] is False
    assert body["device_state"]["state"] is None  # the API has heard nothing from it
    # The cabinet's latest state: a drill's reading, then a real one (no drill field).
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    key = ("darong-b", "aed", "aed-b-1f-lobby")
    api.devices.apply(Reading(*key, now_ms, {"state": "in_use", "cabinet_open": True, "drill": True}))
    with api.client(Role.PATROL) as client:
        drill_state = client.get(f"/api/v1/incidents/{opened.alert_id}").json()["device_state"]
        api.devices.apply(Reading(*key, now_ms + 1000, {"state": "ready", "cabinet_open": False}))
        real_state = client.get(f"/api/v1/incidents/{opened.alert_id}").json()["device_state"]
    assert (drill_state["state"], drill_state["cabinet_open"], drill_state["drill"]) == ("in_use", True, True)
    assert (real_state["state"], real_state["cabinet_open"], real_state["drill"]) == ("ready", False, False)
    assert dt.datetime.fromisoformat(real_state["ts"]).timestamp() * 1000 == now_ms + 1000


@pytest.mark.parametrize(
    ("role", "step", "status"),
    [
        (Role.VIEWER, "en_route", 403),
        (Role.INTEGRATION, "on_site", 403),
        (Role.PATROL, "en_route", 200),
        (Role.PATROL, "on_site", 200),
        (Role.PATROL, "handed_over", 403),
        (Role.PATROL, "closing_note", 403),
        (Role.OPERATOR, "handed_over", 200),
        (Role.OPERATOR, "closing_note", 200),
        (Role.ADMIN, "handed_over", 200),
    ],
)
def test_steps_and_who_may_record_them(api: Api, role: Role, step: str, status: int) -> None:
    opened = api.raise_alert()
    with api.client(role) as client:
        answer = client.post(f"/api/v1/incidents/{opened.alert_id}/steps", json={"step": step, "note": "n"})
    assert answer.status_code == status, answer.text
    recorded = [e for e in api.store.events(opened.alert_id) if e.event == step]
    if status == 200:
        assert answer.json()["steps"][-1]["step"] == step
        assert len(recorded) == 1 and recorded[0].by == f"{role.value}-1" and recorded[0].note == "n"
    else:
        assert recorded == []


def test_steps_on_a_closed_incident(api: Api) -> None:
    opened = api.raise_alert()
    api.store.clear(opened.alert_id, dt.datetime.now(dt.UTC))
    with api.client(Role.OPERATOR) as client:
        assert (
            client.post(f"/api/v1/incidents/{opened.alert_id}/steps", json={"step": "on_site"}).status_code
            == 409
        )
        note = client.post(
            f"/api/v1/incidents/{opened.alert_id}/steps",
            json={"step": "closing_note", "note": "pads replaced"},
        )
        assert note.status_code == 200
        assert client.post("/api/v1/incidents/424242/steps", json={"step": "on_site"}).status_code == 404
        assert (
            client.post(f"/api/v1/incidents/{opened.alert_id}/steps", json={"step": "dancing"}).status_code
            == 422
        )
    assert note.json()["steps"][-1]["note"] == "pads replaced"


def test_a_step_reaches_every_open_console_live(api: Api) -> None:
    opened = api.raise_alert()
    headers = {"Authorization": f"Bearer {api.token[Role.VIEWER]}"}
    with (
        httpx.Client(base_url=api.url, headers=headers, timeout=10) as console,
        console.stream("GET", "/api/v1/events") as wall,
        console.stream("GET", "/api/v1/events") as desk,
    ):
        with api.client(Role.PATROL) as phone:
            answer = phone.post(f"/api/v1/incidents/{opened.alert_id}/steps", json={"step": "en_route"})
            assert answer.status_code == 200
        for stream in (wall, desk):
            (event,) = take(stream, 1)
            assert (event.data["event"], event.data["by"], event.data["alert"]["id"]) == (
                "en_route",
                "patrol-1",
                opened.alert_id,
            )
            assert event.id == answer.json()["steps"][0]["event_id"]
