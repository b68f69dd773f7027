"""The live event stream (SSE) against a real uvicorn: order, resume with Last-Event-ID, and the
prompt wake-up by the MQTT subscription to `louyu/alerts/#`."""

from __future__ import annotations

import datetime as dt
import json
import queue
import time
from collections.abc import Callable

import httpx
import paho.mqtt.client as mqtt
import paho.mqtt.publish as mqtt_publish
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from api.config import ApiConfig
from api.mqtt_feed import MqttConfig
from api.roles import Role
from louyu.testing.services import Mosquitto
from rules.publisher import event_payload
from tests.api.conftest import Api
from tests.api.sse import read_events, take


def _stream(api: Api, role: Role = Role.INTEGRATION) -> httpx.Client:
    return httpx.Client(
        base_url=api.url,
        headers={"Authorization": f"Bearer {api.token[role]}"},
        timeout=httpx.Timeout(10, read=8),
    )


def test_events_arrive_in_order_then_live(api: Api) -> None:
    before = [api.raise_alert(device=f"aed-{n}").id for n in range(3)]
    with _stream(api) as client, client.stream("GET", "/api/v1/events", params={"after": 0}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = read_events(response)
        replayed = [next(events) for _ in range(3)]
        assert [e.id for e in replayed] == before
        assert [e.data["event"] for e in replayed] == ["raised"] * 3
        # Live: an ack through the API, then alerts written by another writer.
        with api.client(Role.PATROL) as patrol:
            alert_id = replayed[0].data["alert"]["id"]
            assert patrol.post(f"/api/v1/alerts/{alert_id}/ack", json={"note": "here"}).status_code == 200
        later = [api.raise_alert(device=f"aed-live-{n}").id for n in range(5)]
        live = [next(events) for _ in range(6)]
    ids = [e.id for e in live]
    assert ids == sorted(ids) and len(set(ids)) == 6
    assert ids[1:] == later
    assert (live[0].data["event"], live[0].data["by"], live[0].data["note"]) == (
        "acknowledged",
        "patrol-1",
        "here",
    )
    assert live[0].data["alert"]["state"] == "acknowledged"
    stored = [e.id for e in api.store.events_after(0, 100)]
    assert [e.id for e in replayed] + ids == stored


def test_without_last_event_id_only_new_events_come(api: Api) -> None:
    api.raise_alert(device="old")
    with _stream(api) as client, client.stream("GET", "/api/v1/events") as response:
        new = api.raise_alert(device="new")
        (first,) = take(response, 1)
    assert first.id == new.id


def test_reconnect_with_last_event_id_resumes_without_a_gap(api: Api) -> None:
    with _stream(api) as client:
        with client.stream("GET", "/api/v1/events") as response:
            for n in range(4):
                api.raise_alert(device=f"first-{n}")
            got = take(response, 2)
        # Disconnected: events keep happening.
        missed = [api.raise_alert(device=f"missed-{n}").id for n in range(3)]
        last = got[-1].id
        with client.stream("GET", "/api/v1/events", headers={"Last-Event-ID": str(last)}) as response:
            events = read_events(response)
            resumed = [next(events) for _ in range(5)]
            live = api.raise_alert(device="after-reconnect").id
            resumed.append(next(events))
    stored = [e.id for e in api.store.events_after(0, 100)]
    assert [e.id for e in got] + [e.id for e in resumed] == stored
    assert [e.id for e in resumed][2:5] == missed and resumed[-1].id == live


def test_bad_last_event_id_is_400(api: Api) -> None:
    with _stream(api) as client:
        assert client.get("/api/v1/events", headers={"Last-Event-ID": "12; DROP TABLE"}).status_code == 400


@pytest.mark.integration
def test_mqtt_alert_event_wakes_the_stream_at_once(
    start_api: Callable[..., Api], mosquitto: Mosquitto
) -> None:
    """Another process (the rules engine) writes the store and publishes on louyu/alerts/...:
    the stream delivers within a fraction of its 30 s fallback poll."""
    api = start_api(
        ApiConfig(mqtt=MqttConfig("127.0.0.1", mosquitto.port, client_id="api-test"), sse_poll_s=30)
    )
    deadline = time.monotonic() + 10
    with httpx.Client(base_url=api.url) as plain:
        while plain.get("/readyz").json()["checks"]["broker"]["ok"] is not True:
            assert time.monotonic() < deadline, "the API never connected to the broker"
            time.sleep(0.05)
    with _stream(api) as client, client.stream("GET", "/api/v1/events") as response:
        time.sleep(0.3)  # the stream is parked waiting for news
        event = api.raise_alert(device="woken")
        started = time.monotonic()
        mqtt_publish.single(
            event.topic, event_payload(event), qos=1, hostname="127.0.0.1", port=mosquitto.port
        )
        (got,) = take(response, 1)
        waited = time.monotonic() - started
    assert got.id == event.id
    assert waited < 3, f"took {waited:.1f} s: the MQTT wake-up did not work"


def test_an_id_beyond_the_newest_follows_from_now(api: Api) -> None:
    api.raise_alert(device="before")
    with (
        _stream(api) as client,
        client.stream("GET", "/api/v1/events", headers={"Last-Event-ID": "999999"}) as response,
    ):
        new = api.raise_alert(device="after")
        (first,) = take(response, 1)
    assert first.id == new.id


def test_the_stream_tells_clients_when_to_reconnect(api: Api) -> None:
    with _stream(api) as client, client.stream("GET", "/api/v1/events") as response:
        lines = response.iter_lines()
        head = [next(lines) for _ in range(2)]
    assert head == [": louyu alert events", "retry: 2000"]


@pytest.mark.integration
def test_acks_and_resolves_are_published_on_mqtt(start_api: Callable[..., Api], mosquitto: Mosquitto) -> None:
    api = start_api(ApiConfig(mqtt=MqttConfig("127.0.0.1", mosquitto.port, client_id="api-publish-test")))
    received: queue.Queue[tuple[str, dict[str, object]]] = queue.Queue()
    listener = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="listener")
    listener.on_message = lambda _c, _u, m: received.put((m.topic, json.loads(m.payload)))
    listener.connect("127.0.0.1", mosquitto.port)
    listener.subscribe("louyu/alerts/#", qos=1)
    listener.loop_start()
    try:
        with httpx.Client(base_url=api.url) as plain:
            deadline = time.monotonic() + 10
            while plain.get("/readyz").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        alert = api.raise_alert().alert
        with api.client(Role.OPERATOR) as client:
            assert client.post(f"/api/v1/alerts/{alert.id}/ack", json={"note": "seen"}).status_code == 200
            assert client.post(f"/api/v1/alerts/{alert.id}/resolve").status_code == 200
        got = [received.get(timeout=5) for _ in range(2)]
    finally:
        listener.loop_stop()
        listener.disconnect()
    stored = api.store.events(alert.id)[1:]
    assert [topic for topic, _ in got] == ["louyu/alerts/darong-b/critical/aed-cabinet-open"] * 2
    assert [(p["event_id"], p["event"], p["by"]) for _, p in got] == [
        (e.id, e.event, "operator-1") for e in stored
    ]


def test_a_stream_ends_once_its_token_is_revoked(start_api: Callable[..., Api]) -> None:
    api = start_api(ApiConfig(rate_per_s=1000, rate_burst=1000, sse_poll_s=0.2, sse_recheck_s=0.3))
    with _stream(api, Role.VIEWER) as client:
        with client.stream("GET", "/api/v1/events") as response:
            events = read_events(response)
            first = api.raise_alert(device="before-revoke")
            assert next(events).id == first.id
            api.tokens.revoke_name("viewer-1", dt.datetime.now(dt.UTC))
            started = time.monotonic()
            rest = list(events)  # returns when the server ends the stream
        assert rest == [] and time.monotonic() - started < 5
        assert client.get("/api/v1/events").status_code == 401
