"""The engine's intake without a broker (reading order, timers across a gap, building scope),
the runner's topics, and the settings."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from collector.registry import Registry
from louyu.settings import Settings
from rules.backlog import ReadingOrder, resumed_since
from rules.engine import RuleEngine, scoped_registry
from rules.metrics import RulesMetrics
from rules.publisher import EventPublisher, MemoryPublisher
from rules.runner import TOPICS, MqttSettings, RulesRunner, building_topics
from rules.store import AlertStore, NewAlert, Pending
from tests.rules.conftest import T0, ruleset_from

CABINET = """
rules:
  - {id: cabinet, severity: critical, match: {kinds: [aed]}, when: {field: cabinet_open, op: eq, value: true}}
"""
KEY = ("darong-a", "aed", "aed-a-1f-lobby")
TOPIC = "louyu/darong-a/aed/aed-a-1f-lobby"


def now_ms() -> int:
    return int(time.time() * 1000)


# ------------------------------------------------------------------ reading order


def test_older_reading_of_a_device_is_stale() -> None:
    order = ReadingOrder()
    t = 1_764_280_000_000
    assert order.accept(KEY, t, t + 50)
    assert order.accept(KEY, t + 10_000, t + 10_050)
    assert not order.accept(KEY, t + 5_000, t + 20_000)  # a gateway's buffered reading, late
    assert order.accept(KEY, t + 10_000, t + 20_000)  # the same instant again: a redelivery, harmless
    assert order.accept(("darong-a", "aed", "other"), t, t + 30_000)  # per device


def test_clock_ahead_then_set_right_is_not_shut_out() -> None:
    order = ReadingOrder()
    t = 1_764_280_000_000
    assert order.accept(KEY, t + 240_000, t)  # device clock 4 minutes ahead
    assert order.accept(KEY, t + 10_000, t + 10_000 + 20)  # clock corrected: 10 s later, accepted


def test_readings_stamped_on_arrival_are_never_stale() -> None:
    order = ReadingOrder()
    t = 1_764_280_000_000
    assert order.accept(KEY, t + 60_000, t + 60_000 + 5)
    assert order.accept(KEY, t, t)  # no `ts`: the time of receipt (even if the host clock stepped back)
    assert order.newest[KEY] == t + 60_000


# -------------------------------------------------------------- timers and gaps


def test_timer_does_not_run_during_a_known_gap() -> None:
    since = T0
    gone, back = T0 + dt.timedelta(seconds=30), T0 + dt.timedelta(minutes=10)
    # 30 s held before the gap; the 9.5 minutes away do not count.
    assert resumed_since(since, back, gone) == back - dt.timedelta(seconds=30)


def test_timer_restarts_when_the_gap_is_unknown() -> None:
    back = T0 + dt.timedelta(minutes=10)
    assert resumed_since(T0, back, None) == back


def test_timer_started_during_the_gap_starts_at_reconnection() -> None:
    gone, back = T0, T0 + dt.timedelta(minutes=10)
    assert resumed_since(T0 + dt.timedelta(minutes=4), back, gone) == back
    assert resumed_since(back + dt.timedelta(seconds=1), back, gone) == back + dt.timedelta(seconds=1)


# ---------------------------------------------------------------- the runner


def make_engine(
    registry: Registry,
    sqlite_db: Engine,
    buildings: tuple[str, ...] = (),
    publisher: EventPublisher | None = None,
) -> RuleEngine:
    engine = RuleEngine(
        ruleset_from(CABINET),
        registry,
        AlertStore(sqlite_db, buildings),
        publisher or MemoryPublisher(),
        buildings=buildings,
        metrics=RulesMetrics(CollectorRegistry()),
    )
    engine.load(dt.datetime.now(dt.UTC))
    return engine


def accept(engine: RuleEngine, topic: str, payload: bytes) -> str:
    return engine.accept(topic, payload, dt.datetime.now(dt.UTC))


def published(engine: RuleEngine) -> MemoryPublisher:
    assert isinstance(engine.publisher, MemoryPublisher)
    return engine.publisher


def test_stale_reading_does_not_reopen_a_closed_cabinet(registry: Registry, sqlite_db: Engine) -> None:
    engine = make_engine(registry, sqlite_db)
    t = now_ms()
    accept(engine, TOPIC, f'{{"ts": {t - 60_000}, "state": "ready", "cabinet_open": true}}'.encode())
    accept(engine, TOPIC, f'{{"ts": {t - 30_000}, "state": "ready", "cabinet_open": false}}'.encode())
    # A reading from before the close, arriving after it: not applied.
    assert (
        accept(engine, TOPIC, f'{{"ts": {t - 45_000}, "state": "ready", "cabinet_open": true}}'.encode())
        == "stale"
    )
    assert published(engine).kinds() == ["raised", "resolved"]
    assert engine.intake.outcomes["stale"] == 1 and engine.intake.outcomes["accepted"] == 2
    assert engine.latest[KEY]["cabinet_open"] is False


def test_engine_owning_buildings_ignores_the_others(registry: Registry, sqlite_db: Engine) -> None:
    engine = make_engine(registry, sqlite_db, ("darong-b",))
    assert accept(engine, TOPIC, b'{"state": "ready", "cabinet_open": true}') == "not_owned"
    assert accept(engine, "louyu/darong-a/availability", b"offline") == "not_owned"
    assert engine.intake.outcomes["not_owned"] == 2
    assert KEY not in engine.latest and "darong-a" not in engine.building_online
    accept(engine, "louyu/darong-b/aed/aed-b-1f-lobby", b'{"state": "ready", "cabinet_open": true}')
    assert [(e.event, e.alert.building) for e in published(engine).events] == [("raised", "darong-b")]
    # Its sweep starts from its own registered devices only.
    assert {k[0] for k in engine.last_seen} == {"darong-b"}
    assert len(engine.last_seen) == len(registry.devices(building="darong-b"))


def test_building_availability_is_parsed_by_the_engine(registry: Registry, sqlite_db: Engine) -> None:
    engine = make_engine(registry, sqlite_db)
    assert accept(engine, "louyu/darong-a/availability", b"offline\n") == "accepted"
    assert engine.building_online == {"darong-a": False}
    assert accept(engine, "louyu/darong-a/availability", b"maybe") == "rejected"
    assert accept(engine, "louyu/alerts/availability", b"online") == "rejected"
    assert engine.building_online == {"darong-a": False}


def test_resume_moves_stored_timers_by_the_gap(registry: Registry, sqlite_db: Engine) -> None:
    engine = make_engine(registry, sqlite_db)
    pending = Pending("cabinet", "darong-a", "aed", "aed-a-1f-lobby", T0, True)
    engine.pending[("cabinet", *KEY)] = pending
    assert engine.resume(T0 + dt.timedelta(minutes=10), T0 + dt.timedelta(minutes=4)) == 1
    assert engine.pending[("cabinet", *KEY)].since == T0 + dt.timedelta(minutes=6)
    assert [p.since for p in engine.store.load_pending()] == [T0 + dt.timedelta(minutes=6)]


def test_runner_subscribes_to_its_engines_buildings(registry: Registry, sqlite_db: Engine) -> None:
    runner = RulesRunner(
        lambda publisher: make_engine(registry, sqlite_db, ("darong-b",), publisher),
        MqttSettings("127.0.0.1", 1),
    )
    assert runner.topics == [
        "louyu/darong-b/+/+",
        "louyu/darong-b/+/+/availability",
        "louyu/darong-b/availability",
    ]
    # The engine was given the publisher of the runner's own connection, at construction.
    assert runner.engine.publisher.client is runner.client  # type: ignore[attr-defined]


def test_building_topics() -> None:
    assert building_topics([]) == list(TOPICS)
    assert building_topics(["a", "b"]) == [
        "louyu/a/+/+",
        "louyu/a/+/+/availability",
        "louyu/a/availability",
        "louyu/b/+/+",
        "louyu/b/+/+/availability",
        "louyu/b/availability",
    ]


def test_scoped_registry(registry: Registry) -> None:
    assert scoped_registry(registry, []) is registry
    scoped = scoped_registry(registry, ["darong-a", "elsewhere"])
    assert set(scoped.buildings) == {"darong-a"}
    assert {d.building for d in scoped} == {"darong-a"}
    assert len(scoped) == len(registry.devices(building="darong-a"))
    assert scoped.timezone == registry.timezone


def test_scoped_store_reads_only_its_buildings(sqlite_db: Engine) -> None:
    shared = AlertStore(sqlite_db)
    for building in ("darong-a", "darong-b"):
        shared.raise_alert(NewAlert("cabinet", "critical", building, "aed", "x", "open", True, {}), T0)
        shared.save_pending(Pending("lot-full", building, "parking_lot", "garage", T0, 0.96))
    scoped = AlertStore(sqlite_db, ["darong-b"])
    assert [a.building for a in scoped.open_alerts()] == ["darong-b"]
    assert [p.building for p in scoped.load_pending()] == ["darong-b"]
    assert scoped.counts()["firing"]["critical"] == 1
    assert shared.counts()["firing"]["critical"] == 2


# ------------------------------------------------------------------ settings


def test_settings_rules_buildings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUYU_RULES_BUILDINGS", "darong-a, darong-b,darong-a")
    assert Settings().rules_buildings == ["darong-a", "darong-b"]
    monkeypatch.setenv("LOUYU_RULES_BUILDINGS", '["darong-c"]')
    assert Settings().rules_buildings == ["darong-c"]
    monkeypatch.setenv("LOUYU_RULES_BUILDINGS", "")
    assert Settings().rules_buildings == []
    monkeypatch.setenv("LOUYU_RULES_BUILDINGS", "Darong A")
    with pytest.raises(ValueError, match="not a building id"):
        Settings()
    monkeypatch.setenv("LOUYU_RULES_BUILDINGS", "alerts")
    with pytest.raises(ValueError, match="not a building id"):
        Settings()


def test_rules_client_id_is_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    from louyu.commands.rules import mqtt_settings

    monkeypatch.setenv("LOUYU_MQTT_CLIENT_ID", "collector-7")
    assert mqtt_settings(Settings()).client_id == "louyu-rules"
    monkeypatch.setenv("LOUYU_MQTT_RULES_CLIENT_ID", "louyu-rules-2")
    monkeypatch.setenv("LOUYU_MQTT_SESSION_EXPIRY_S", "3600")
    wired = mqtt_settings(Settings())
    assert (wired.client_id, wired.session_expiry_s) == ("louyu-rules-2", 3600)
