"""Reminders and escalation through the service and its database, with the clock passed in."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from collector.registry import Registry
from rules.database.notifier import DeliveryRow, TrackRow
from rules.notify.config import parse_routing
from rules.notify.service import MqttOptions, NotifierService
from rules.store import AlertStore
from tests.notify.helpers import new_alert

MIN = dt.timedelta(minutes=1)
# Friday 2026-11-27 10:00 in Shanghai.
T0 = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)

ROUTING = """
timezone: Asia/Shanghai
receivers:
  - {name: patrol-day, mqtt: {}, on_duty: [{start: "08:00", end: "20:00"}]}
  - {name: patrol-night, mqtt: {}, on_duty: [{start: "20:00", end: "08:00"}]}
  - {name: supervisor, mqtt: {}, on_duty: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}]}
  - {name: manager, mqtt: {}}
routes:
  - name: urgent
    match: {severity: [critical, major]}
    receivers: [patrol-day, patrol-night]
    repeat_every: 2m
    escalate:
      - {after: 5m, receivers: [supervisor]}
      - {after: 15m, receivers: [manager]}
"""


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def deliveries(engine: Engine) -> list[tuple[str, str, int]]:
    with Session(engine) as session:
        rows = session.scalars(select(DeliveryRow).order_by(DeliveryRow.seq)).all()
        return [(r.receiver, r.reason, r.level) for r in rows]


def step(service: NotifierService, clock: Clock, until: dt.timedelta, every: dt.timedelta = MIN / 2) -> None:
    end = clock.now + until
    while clock.now < end:
        clock.now += every
        service.ingest_once()
        service.tick_once()


def test_patrol_reminded_then_supervisor_then_manager_until_acknowledged(
    engine: Engine, store: AlertStore, registry: Registry
) -> None:
    clock = Clock(T0)
    service = make_without_mqtt(engine, registry, clock)
    raised = store.raise_alert(new_alert(), T0)
    assert raised is not None
    service.ingest_once()
    assert deliveries(engine) == [("patrol-day", "event", 0)]  # only the patrol on duty
    step(service, clock, 16 * MIN)
    assert deliveries(engine) == [
        ("patrol-day", "event", 0),
        ("patrol-day", "reminder", 0),  # 2 min
        ("patrol-day", "reminder", 0),  # 4 min
        ("supervisor", "escalation", 1),  # 5 min
        ("supervisor", "reminder", 1),  # 7
        ("supervisor", "reminder", 1),  # 9
        ("supervisor", "reminder", 1),  # 11
        ("supervisor", "reminder", 1),  # 13
        ("manager", "escalation", 2),  # 15
    ]
    clock.now += MIN / 2
    store.acknowledge(raised.alert_id, "patrol-7", None, clock.now)
    service.ingest_once()
    before = deliveries(engine)
    # The acknowledgement reaches everyone who was called: patrol, supervisor and manager.
    assert before[-3:] == [("patrol-day", "event", 0), ("supervisor", "event", 0), ("manager", "event", 0)]
    step(service, clock, 60 * MIN)
    assert deliveries(engine) == before  # not one reminder or escalation more
    with Session(engine) as session:
        track = session.scalars(select(TrackRow)).one()
        assert not track.active and track.stopped_reason == "acknowledged"


def test_acknowledged_between_passes_is_seen_from_the_store_at_once(
    engine: Engine, store: AlertStore, registry: Registry
) -> None:
    """The timer asks the store, not only the events read so far: an acknowledgement not yet ingested
    still stops the reminder due in the same instant."""
    clock = Clock(T0)
    service = make_without_mqtt(engine, registry, clock)
    raised = store.raise_alert(new_alert(), T0)
    assert raised is not None
    service.ingest_once()
    clock.now = T0 + 2 * MIN
    store.acknowledge(raised.alert_id, "patrol-7", None, clock.now - dt.timedelta(seconds=1))
    service.tick_once()  # before ingest sees the acknowledgement
    assert deliveries(engine) == [("patrol-day", "event", 0)]


def test_night_shift_and_a_supervisor_off_duty_at_the_weekend(
    engine: Engine, store: AlertStore, registry: Registry
) -> None:
    saturday_night = dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC)  # 23:00 Saturday in Shanghai
    clock = Clock(saturday_night)
    service = make_without_mqtt(engine, registry, clock)
    raised = store.raise_alert(new_alert(), clock.now)
    assert raised is not None
    service.ingest_once()
    step(service, clock, 6 * MIN)
    got = deliveries(engine)
    assert got[0] == ("patrol-night", "event", 0)
    # No supervisor at the weekend: the escalation at 5 minutes goes straight to the manager.
    assert ("manager", "escalation", 2) in got and not any(r == "supervisor" for r, _, _ in got)


def test_handset_message_says_where_and_what_to_do(
    engine: Engine, store: AlertStore, registry: Registry
) -> None:
    clock = Clock(T0)
    service = make_without_mqtt(engine, registry, clock)
    raised = store.raise_alert(new_alert(), T0)
    assert raised is not None
    service.ingest_once()
    with Session(engine) as session:
        row = session.scalars(select(DeliveryRow)).one()
    message = json.loads(row.payload)
    assert message["delivery_id"] == row.id == f"evt-{raised.id}-patrol-day"
    assert message["building"] == {
        "id": "darong-b",
        "name": "大荣中心 B 座",
        "name_en": "Darong Centre Tower B",
    }
    assert message["floor"] == "1F"
    assert message["location"] == "B 座一楼大堂前台旁 / Tower B lobby, beside reception"
    assert any("120" in step for step in message["actions"]["zh"])
    assert any("bring the aed" in step.lower() for step in message["actions"]["en"])
    assert "B 座一楼大堂前台旁" in message["text"]["zh"] and "Tower B lobby" in message["text"]["en"]
    assert message["alert"]["id"] == raised.alert_id and message["event"] == "raised"


_made: list[NotifierService] = []


def make_without_mqtt(engine: Engine, registry: Registry, clock: Clock) -> NotifierService:
    """MQTT receivers need a client to exist; this one never connects: deliveries are only planned
    here and read from the database (dispatch is not started)."""
    service = NotifierService(
        parse_routing(ROUTING), registry, engine, MqttOptions("127.0.0.1", 1), clock=clock
    )
    _made.append(service)
    return service


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    while _made:
        _made.pop().stop()
