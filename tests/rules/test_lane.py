"""The AED lane cannot be hidden: invented devices, building outages, large sweeps, retained
readings and bounded tables. Engine tests with time passed in; MQTT claims on a real mosquitto."""

from __future__ import annotations

import datetime as dt
import json
import queue
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from collector.models import Reading
from collector.registry import Registry
from louyu.commands.rules import build
from louyu.settings import Settings
from louyu.testing.services import Mosquitto
from rules import unknown
from rules.config import load_rules
from rules.engine import RuleEngine
from rules.metrics import RulesMetrics
from rules.publisher import MemoryPublisher
from rules.runner import RulesRunner
from rules.store import AlertStore
from tests.rules.conftest import T0, Harness
from tests.rules.test_e2e import Listener

MIN = dt.timedelta(minutes=1)
MakeHarness = Callable[..., Harness]


def reading(building: str, kind: str, device: str, at: dt.datetime = T0, **fields: object) -> Reading:
    return Reading(building, kind, device, int(at.timestamp() * 1000), dict(fields))  # type: ignore[arg-type]


def engine_with(registry: Registry, db: Engine, **options: object) -> RuleEngine:
    engine = RuleEngine(
        load_rules(),
        registry,
        AlertStore(db),
        MemoryPublisher(),
        metrics=RulesMetrics(CollectorRegistry()),
        **options,  # type: ignore[arg-type]
    )
    engine.load(T0)
    return engine


def open_alerts(engine: RuleEngine) -> list[tuple[str, str, str]]:
    return sorted((a.rule, a.building, a.device) for a in engine.store.open_alerts())


# ----------------------------------------------------------------- unknown devices


def test_unknown_devices_are_not_evaluated_and_raise_one_alert_per_building(
    registry: Registry, sqlite_db: Engine
) -> None:
    engine = engine_with(registry, sqlite_db)
    assert engine.handle(reading("darong-a", "aed", "aed-invented", state="in_use", cabinet_open=True), T0)
    for i in range(300):
        engine.handle(reading("darong-a", "parking_space", f"fake-{i}", occupied=True), T0)
        engine.handle(reading("darong-b", "parking_space", f"fake-{i}", occupied=True), T0)
    # A building that is not in the registry at all counts towards the area's one alert.
    for i in range(50):
        engine.handle(reading(f"nowhere-{i}", "aed", "x", state="in_use"), T0)
    assert open_alerts(engine) == [
        ("unknown-devices", "darong-a", "darong-a"),
        ("unknown-devices", "darong-b", "darong-b"),
        ("unknown-devices", "test", "test"),
    ]
    assert engine.intake.outcomes["unregistered"] == 651
    # Nothing of theirs is kept beyond the bounded count: no state, no liveness, no order.
    assert not any(k[2].startswith("fake-") or k[2] == "aed-invented" for k in engine.latest)
    assert len(engine.last_seen) == len(registry)
    assert engine.intake.order.newest == {}
    engine.maintain(T0 + MIN)
    values = {a.building: a.value for a in engine.store.open_alerts()}
    assert values == {"darong-a": 301, "darong-b": 300, "test": 50}
    assert engine.metrics.tables.labels("unknown_devices")._value.get() == 651
    assert engine.metrics.tables.labels("latest")._value.get() == 0
    # A real AED still pages at once.
    (event,) = engine.handle(
        reading("darong-a", "aed", "aed-a-1f-lobby", state="ready", cabinet_open=True), T0
    )
    assert (event.alert.rule, event.alert.severity) == ("aed-cabinet-open", "critical")
    # Quiet for 30 minutes: the building's alert clears.
    cleared = engine.sweep(T0 + 31 * MIN)
    assert {e.alert.rule for e in cleared if e.event == "resolved"} == {"unknown-devices"}
    assert [a.rule for a in engine.store.open_alerts() if a.rule == "unknown-devices"] == []


def test_unknown_device_count_is_bounded(
    registry: Registry, sqlite_db: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(unknown, "MAX_PER_BUILDING", 20)
    engine = engine_with(registry, sqlite_db)
    for i in range(100):
        engine.handle(reading("darong-a", "parking_space", f"fake-{i}", occupied=True), T0)
    bucket = engine.intake.unknown["darong-a"]
    assert (bucket.count, bucket.overflow) == (20, True)


def test_open_registry_evaluates_unknown_devices_up_to_a_bound(registry: Registry, sqlite_db: Engine) -> None:
    engine = engine_with(registry, sqlite_db, accept_unregistered=True, max_unregistered=3)
    (event,) = engine.handle(reading("darong-a", "aed", "aed-x", state="ready", cabinet_open=True), T0)
    assert event.alert.rule == "aed-cabinet-open"
    for i in range(10):
        engine.handle(reading("darong-a", "parking_space", f"fake-{i}", occupied=True), T0)
    assert engine.intake.unregistered == {
        ("darong-a", "aed", "aed-x"),
        ("darong-a", "parking_space", "fake-0"),
        ("darong-a", "parking_space", "fake-1"),
    }
    assert engine.intake.outcomes["over_limit"] == 8
    # A building outside the registry counts within the same bound.
    assert engine.handle_building("invented", False, T0) == []
    assert engine.intake.outcomes["over_limit"] == 9 and "invented" not in engine.building_online
    assert engine.intake.unknown == {}  # the site chose this: no unknown-devices alert


def test_building_alerts_left_open_are_taken_up_after_a_restart(
    registry: Registry, sqlite_db: Engine
) -> None:
    engine = engine_with(registry, sqlite_db)
    engine.handle(reading("darong-a", "parking_space", "fake-1", occupied=True), T0)
    engine.handle_building("darong-b", False, T0)
    restarted = engine_with(registry, sqlite_db)  # loads at T0
    # darong-b is still offline for the new engine: its minor liveness alerts stay held back.
    assert restarted.building_online == {"darong-b": False}
    assert restarted.sweep(T0 + 14 * MIN) == []  # nothing silent yet, the unknown alert stays
    assert ("unknown-devices", "darong-a", "darong-a") in open_alerts(restarted)
    events = restarted.sweep(T0 + 31 * MIN)
    raised = {(e.alert.rule, e.alert.device) for e in events if e.event == "raised"}
    assert ("device-offline", "gw-b") not in raised and ("aed-offline", "aed-b-1f-lobby") in raised
    # No unknown device since the restart: its alert clears 30 minutes after the start.
    resolved = {(e.alert.rule, e.alert.building) for e in events if e.event == "resolved"}
    assert resolved == {("unknown-devices", "darong-a")}


# ----------------------------------------------------------- building outages


def test_building_offline_is_an_alert_and_aeds_stay_visible(registry: Registry, sqlite_db: Engine) -> None:
    engine = engine_with(registry, sqlite_db)
    (offline,) = engine.handle_building("darong-b", False, T0)
    assert (offline.alert.rule, offline.alert.severity, offline.alert.value) == (
        "building-offline",
        "major",
        "offline",
    )
    events = engine.sweep(T0 + 31 * MIN)
    b = [e.alert for e in events if e.alert.building == "darong-b"]
    # Minor liveness alerts of the building are held back; its AED is raised, marked inhibited.
    assert {(a.rule, a.device, a.labels.get("inhibited_by")) for a in b} == {
        ("aed-offline", "aed-b-1f-lobby", "building-offline")
    }
    assert engine.metrics.inhibited.labels("device-offline")._value.get() == 5
    (online,) = engine.handle_building("darong-b", True, T0 + 32 * MIN)
    assert (online.event, online.alert.rule) == ("resolved", "building-offline")
    # An invented building's word is not taken: counted as unknown, no outage alert.
    engine.handle_building("invented", False, T0)
    assert "invented" not in engine.building_online


# ------------------------------------------------------------------ large sweeps


SWEEP_RULES = """
rules:
  - {id: aed-offline, severity: major, match: {kinds: [aed]}, silent_for: 15m}
  - {id: device-offline, severity: minor, match: {kinds: [parking_space, parking_lot, canteen]}, silent_for: 30m}
"""


def test_a_large_sweep_raises_one_summary_per_building(make_harness: MakeHarness) -> None:
    h = make_harness(SWEEP_RULES)
    h.engine.liveness_summary_over = 4
    events = h.engine.sweep(T0 + 31 * MIN)
    raised = sorted((e.alert.rule, e.alert.building, e.alert.device, e.alert.value) for e in events)
    # darong-a: 5 spaces + garage + canteen silent (7 > 4): one summary; its AED on its own.
    # darong-b: gw-b is raised first and holds its 3 spaces back: 2 alerts, not summarised.
    assert raised == [
        ("aed-offline", "darong-a", "aed-a-1f-lobby", "silent"),
        ("aed-offline", "darong-b", "aed-b-1f-lobby", "silent"),
        ("device-offline", "darong-b", "gw-a-peer", "silent"),
        ("device-offline", "darong-b", "gw-b", "silent"),
        ("devices-silent", "darong-a", "darong-a", 7),
    ]
    assert h.engine.sweep(T0 + 32 * MIN) == []  # still 7: the summary stays, nothing new
    # Most report again: 3 left, raised one by one, and the summary clears.
    at = T0 + 33 * MIN
    for device in ("b1-001", "b1-002", "b1-003", "b1-004"):
        h.engine.handle(reading("darong-a", "parking_space", device, at, occupied=True), at)
    events = h.engine.sweep(T0 + 34 * MIN)
    assert sorted((e.event, e.alert.rule, e.alert.device) for e in events) == [
        ("raised", "device-offline", "b1-005"),
        ("raised", "device-offline", "garage"),
        ("raised", "device-offline", "main-hall"),
        ("resolved", "devices-silent", "darong-a"),
    ]


# -------------------------------------------------------- retained readings


def test_retained_readings_without_a_fresh_ts_are_not_applied(make_harness: MakeHarness) -> None:
    h = make_harness()
    now = T0 + 60 * MIN
    now_ms = int(now.timestamp() * 1000)
    untimed = Reading("darong-a", "aed", "aed-a-1f-lobby", now_ms, {"state": "ready", "cabinet_open": True})
    assert h.engine.handle(untimed, now, retained=True) == []
    old = Reading("darong-a", "aed", "aed-a-1f-lobby", now_ms - 16 * 60_000, {"state": "in_use"})
    assert h.engine.handle(old, now, retained=True) == []
    assert h.engine.intake.outcomes["retained"] == 2
    assert ("darong-a", "aed", "aed-a-1f-lobby") not in h.engine.latest
    fresh = Reading("darong-a", "aed", "aed-a-1f-lobby", now_ms - 60_000, {"state": "in_use"})
    (event,) = h.engine.handle(fresh, now, retained=True)
    assert event.alert.rule == "aed-in-use"
    # Not a sign of life: the device counts as seen when the engine started, not now.
    assert h.engine.last_seen[("darong-a", "aed", "aed-a-1f-lobby")] == T0.timestamp()


# ------------------------------------------------------- on a real mosquitto


@pytest.fixture
def listener(mosquitto: Mosquitto) -> Iterator[Listener]:
    client = Listener(mosquitto.port)
    yield client
    client.close()


def start(mosquitto: Mosquitto, tmp_path: Path, client_id: str = "louyu-rules") -> RulesRunner:
    settings = Settings(
        mqtt_url=mosquitto.url,
        database_url=f"sqlite:///{tmp_path}/louyu.db",
        mqtt_rules_client_id=client_id,
    )
    runner = build(settings, Registry.load())
    runner.start()
    return runner


def drain(listener: Listener, seconds: float) -> list[tuple[str, dict[str, object]]]:
    got: list[tuple[str, dict[str, object]]] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            got.append(listener.next(timeout=left))
        except queue.Empty:
            break
    return got


@pytest.mark.integration
def test_invented_devices_page_nobody_on_mqtt(
    mosquitto: Mosquitto, tmp_path: Path, listener: Listener
) -> None:
    runner = start(mosquitto, tmp_path)
    try:
        listener.publish("louyu/darong-b/aed/aed-made-up", b'{"state": "ready", "cabinet_open": true}')
        for i in range(200):
            listener.client.publish(f"louyu/darong-b/parking_space/fake-{i}", b'{"occupied": true}', qos=1)
        listener.publish("louyu/darong-b/aed/aed-b-1f-lobby", b'{"state": "ready", "cabinet_open": true}')
        got = drain(listener, 3.0)
        assert [(t, b["event"]) for t, b in got] == [
            ("louyu/alerts/darong-b/warning/unknown-devices", "raised"),
            ("louyu/alerts/darong-b/critical/aed-cabinet-open", "raised"),
        ]
        cabinet = got[1][1]["alert"]
        assert isinstance(cabinet, dict) and cabinet["device"] == "aed-b-1f-lobby"
        runner.engine.maintain(dt.datetime.now(dt.UTC))
        (count,) = [a.value for a in runner.engine.store.open_alerts() if a.rule == "unknown-devices"]
        assert count == 201
    finally:
        runner.stop()


@pytest.mark.integration
def test_building_offline_on_mqtt(mosquitto: Mosquitto, tmp_path: Path, listener: Listener) -> None:
    # Retained, as gateways publish it: seen by an engine that starts later.
    listener.publish("louyu/darong-c/availability", b"offline", retain=True)
    runner = start(mosquitto, tmp_path)
    try:
        topic, body = listener.next()
        assert (topic, body["event"]) == ("louyu/alerts/darong-c/major/building-offline", "raised")
        listener.publish("louyu/darong-c/availability", b"online", retain=True)
        topic, body = listener.next()
        assert (topic, body["event"]) == ("louyu/alerts/darong-c/major/building-offline", "resolved")
    finally:
        runner.stop()


@pytest.mark.integration
def test_retained_reading_without_ts_raises_nothing_on_a_new_session(
    mosquitto: Mosquitto, tmp_path: Path, listener: Listener
) -> None:
    listener.publish(
        "louyu/darong-b/aed/aed-b-1f-lobby", b'{"state": "ready", "cabinet_open": true}', retain=True
    )
    fresh_ts = int(time.time() * 1000) - 5_000
    listener.publish(
        "louyu/darong-b/aed/aed-b-12f-lift",
        json.dumps({"ts": fresh_ts, "state": "ready", "cabinet_open": True}).encode(),
        retain=True,
    )
    for session in ("louyu-rules-1", "louyu-rules-2"):  # every new engine session
        runner = start(mosquitto, tmp_path / session, client_id=session)
        try:
            got = drain(listener, 2.0)
            # Only the retained reading whose time is known (and recent) is applied.
            assert [(b["alert"]["device"], b["event"]) for _, b in got] == [  # type: ignore[index]
                ("aed-b-12f-lift", "raised")
            ]
            assert runner.engine.intake.outcomes["retained"] == 1
        finally:
            runner.stop()
