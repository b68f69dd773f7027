"""A drill end to end on the real pieces: the API publishes the cabinet's messages on a real
mosquitto, the real rules engine raises the alerts, the real notifier pages a patrol (webhook) and
feeds the city platform (CloudEvents), and the API shows the incident. Everything says it is a
drill; a response step recorded through the API reaches the event stream and the city platform.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from api.config import ApiConfig
from api.roles import Role
from collector.registry import Registry
from louyu.cli import build as build_cli
from louyu.commands.rules import build as build_rules
from louyu.settings import Settings
from louyu.testing.services import Mosquitto
from rules.notify.config import parse_routing
from rules.notify.service import NotifierService
from tests.api.conftest import Api, new_alert
from tests.api.sse import SseEvent, read_events
from tests.notify.helpers import SECRET, HttpReceiver

pytestmark = pytest.mark.integration

DEVICE = "aed-b-1f-lobby"


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture
def pipeline(
    mosquitto: Mosquitto, engine: Engine, start_api: Callable[..., Api], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Api, HttpReceiver, HttpReceiver]]:
    monkeypatch.setenv("LOUYU_TEST_HOOK_SECRET", SECRET)
    settings = Settings(mqtt_url=mosquitto.url, database_url=str(engine.url))
    registry = Registry.load()
    rules = build_rules(settings, registry)
    patrol, city = HttpReceiver(), HttpReceiver()
    notifier = NotifierService(
        parse_routing(f"""
receivers:
  - name: patrol
    webhook: {{url: "{patrol.url}", secret_env: LOUYU_TEST_HOOK_SECRET}}
  - name: city
    cloudevents: {{url: "{city.url}", secret_env: LOUYU_TEST_HOOK_SECRET, source: /louyu/darong}}
routes:
  - {{receivers: [city], events: all, continue: true}}
  - {{match: {{rule: ["aed-*"]}}, receivers: [patrol]}}
"""),
        registry,
        engine,
        None,
        poll_s=0.05,
    )
    rules.start()
    notifier.start()
    api = start_api(config=ApiConfig(rate_per_s=1000, rate_burst=1000, sse_poll_s=0.2, mqtt=settings.broker))
    wait_for(
        lambda: (
            api.server.app.state.louyu.feed is not None
            and api.server.app.state.louyu.feed.client.is_connected()
        )
    )
    try:
        yield api, patrol, city
    finally:
        notifier.stop()
        rules.stop()
        patrol.close()
        city.close()


def test_a_drill_runs_through_the_real_pipeline_marked_as_a_drill(
    pipeline: tuple[Api, HttpReceiver, HttpReceiver],
) -> None:
    api, patrol, city = pipeline
    stream_events: list[SseEvent] = []
    streaming = threading.Event()

    def follow() -> None:
        headers = {"Authorization": f"Bearer {api.token[Role.VIEWER]}"}
        with httpx.stream("GET", f"{api.url}/api/v1/events", headers=headers, timeout=30) as response:
            streaming.set()
            for event in read_events(response):
                stream_events.append(event)
                if event.data["event"] == "on_site":
                    return

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    assert streaming.wait(10)
    with api.client(Role.PATROL) as client:
        refused = client.post("/api/v1/drills", json={"device": DEVICE})
        assert refused.status_code == 403  # operators start drills
    with api.client(Role.OPERATOR) as operator, api.client(Role.PATROL) as patrol_client:
        started = operator.post("/api/v1/drills", json={"device": DEVICE, "interval_s": 3})
        assert started.status_code == 202, started.text
        assert started.json()["building"] == "darong-b"
        listed = wait_for(lambda: operator.get("/api/v1/incidents", params={"drill": "true"}).json()["items"])
        incident_id = listed[0]["id"]
        step = patrol_client.post(f"/api/v1/incidents/{incident_id}/steps", json={"step": "on_site"})
        assert step.status_code == 200, step.text
        closed = wait_for(
            lambda: (
                (body := operator.get(f"/api/v1/incidents/{incident_id}").json())["state"] == "closed"
                and body
            ),
            timeout=30,
        )
        assert operator.get("/api/v1/incidents", params={"drill": "false"}).json()["items"] == []

    # The incident: a drill, cabinet-open then in-use, both marked and prefixed.
    assert closed["drill"] is True
    assert [a["rule"] for a in closed["alerts"]] == ["aed-cabinet-open", "aed-in-use"]
    for alert in closed["alerts"]:
        assert alert["labels"]["drill"] == "true"
        assert alert["summary"].startswith("演练/DRILL: ")
        assert alert["labels"]["summary_zh"].startswith("【演练】")
        assert alert["resolution"] == "cleared"  # the drill's "back" message cleared it
    assert closed["timings"]["time_to_site_s"] is not None
    assert closed["timings"]["time_to_return_s"] is not None
    assert closed["device_state"] == {
        "state": "ready",
        "cabinet_open": False,
        "online": None,  # no availability message: unknown, not assumed
        "drill": True,
        "ts": closed["device_state"]["ts"],
    }

    # The patrol's notifications say so in both languages.
    wait_for(lambda: len(patrol.ok()) >= 2)
    for request in patrol.ok():
        data = json.loads(request.body)["data"]
        assert data["drill"] is True
        assert data["title"]["zh"].startswith("【演练】") and data["title"]["en"].startswith("[DRILL] ")

    # The city platform: every event a CloudEvent with the extension attribute `drill`,
    # the response step among them.
    city_events = wait_for(
        lambda: (
            [json.loads(r.body) for r in city.ok()]
            if any(json.loads(r.body)["type"] == "cn.louyu.alert.on_site" for r in city.ok())
            else None
        )
    )
    assert {e["type"] for e in city_events} >= {"cn.louyu.alert.raised", "cn.louyu.alert.on_site"}
    assert all(e["drill"] is True for e in city_events)
    on_site = next(e for e in city_events if e["type"] == "cn.louyu.alert.on_site")
    assert on_site["data"]["by"] == "patrol-1" and on_site["data"]["alert"]["id"] == incident_id

    # Every open console saw the step live on the event stream.
    reader.join(10)
    assert "on_site" in [e.data["event"] for e in stream_events]

    # Deliveries of the incident: who was paged on which channel.
    channels = {(d["receiver"], d["channel"]) for d in closed["deliveries"]}
    assert ("patrol", "webhook") in channels and ("city", "cloudevents") in channels
    assert dt.datetime.fromisoformat(closed["closed_at"]) > dt.datetime.fromisoformat(closed["opened_at"])


def test_the_command_line_drill_runs_through_the_same_pipeline(
    pipeline: tuple[Api, HttpReceiver, HttpReceiver],
    mosquitto: Mosquitto,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api, _patrol, _city = pipeline
    monkeypatch.setenv("LOUYU_MQTT_URL", mosquitto.url)
    monkeypatch.setenv("LOUYU_DATABASE_URL", str(engine.url))
    runner = CliRunner()
    command = build_cli(["drill"])
    opened = runner.invoke(command, ["drill", "start", "--device", DEVICE, "--stage", "cabinet_open"])
    assert opened.exit_code == 0, opened.output
    assert "darong-b/aed-b-1f-lobby: cabinet_open" in opened.output
    with api.client(Role.PATROL) as client:
        (incident,) = wait_for(
            lambda: client.get("/api/v1/incidents", params={"drill": "true"}).json()["items"]
        )
        assert incident["state"] == "open" and incident["summary"].startswith("演练/DRILL: ")
        # The drill carried on stage by stage: its own open incident is no obstacle.
        back = runner.invoke(
            command, ["drill", "start", "--device", DEVICE, "--stage", "back", "--building", "darong-b"]
        )
        assert back.exit_code == 0, back.output
        wait_for(lambda: client.get(f"/api/v1/incidents/{incident['id']}").json()["state"] == "closed")
        # A real incident open on the cabinet: no drill over it, from the command line or the API.
        api.store.raise_alert(new_alert(), dt.datetime.now(dt.UTC))
        refused = runner.invoke(command, ["drill", "start", "--device", DEVICE])
        assert refused.exit_code == 1 and "open incident" in refused.output
        with api.client(Role.OPERATOR) as operator:
            assert operator.post("/api/v1/drills", json={"device": DEVICE}).status_code == 409
        unknown = runner.invoke(command, ["drill", "start", "--device", "no-such-aed"])
        assert unknown.exit_code == 1 and "no single AED" in unknown.output
