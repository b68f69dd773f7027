"""A known month (October 2026, Asia/Shanghai) for the report tests: readings written straight to
InfluxDB (the contract refuses readings older than 7 days over MQTT) and alerts, silences and
deliveries written to the alert store through its own methods, at the times below. The expected
figures in tests/api/test_reports.py are computed by hand from these."""

from __future__ import annotations

import datetime as dt
from typing import Final

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from louyu.testing.services import Influxd
from rules.database.notifier import DeliveryRow
from rules.store import AlertStore, NewAlert

UTC = dt.UTC
# October in Shanghai: 2026-09-30 16:00 UTC to 2026-10-31 16:00 UTC, 31 days.
MONTH_START: Final = dt.datetime(2026, 9, 30, 16, tzinfo=UTC)
MONTH_END: Final = dt.datetime(2026, 10, 31, 16, tzinfo=UTC)
MONTH_S: Final = 31 * 86400
LOBBY, LIFT = "aed-b-1f-lobby", "aed-b-12f-lift"
BUILDING: Final = "darong-b"
# First opening: the cabinet reading 1.5 s before the alert, acknowledged 40 s after the alert,
# the patrol's "on site" step 3 min after the alert, closed 12 min after the alert, the alert
# cleared 1 s later.
OPEN1: Final = dt.datetime(2026, 10, 5, 2, 0, tzinfo=UTC)
# Second: reading 0.5 s before, acknowledged on arrival ("到场") 25 s after the alert, closed 5 min
# after, cleared 1 s later.
OPEN2: Final = dt.datetime(2026, 10, 15, 6, 0, tzinfo=UTC)
FAULT: Final = dt.datetime(2026, 10, 10, 0, 0, tzinfo=UTC)  # lift: fault 3 h, battery low 02:00-04:00
OFFLINE: Final = dt.datetime(2026, 10, 20, 12, 0, tzinfo=UTC)  # lift: offline 30 min
EARLY_OFFLINE: Final = dt.datetime(2026, 9, 30, 15, 0, tzinfo=UTC)  # lobby: 15:00-17:00, 1 h inside


def _ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def write_influx(server: Influxd) -> None:
    httpx.post(f"{server.url}/query", data={"q": "CREATE DATABASE louyu"}, timeout=10).raise_for_status()
    lobby = f"aed,building={BUILDING},device={LOBBY},floor=1F,zone=lobby"
    lift = f"aed,building={BUILDING},device={LIFT},floor=12F,zone=lift-lobby"
    day1 = dt.datetime(2026, 10, 1, 0, 0, tzinfo=UTC)
    lines = [
        # Pads valid through 2026-10-29 (Shanghai): expired from 2026-10-29 16:00 UTC, 48 h of the month.
        f'{lobby} state="ready",cabinet_open=false,battery_pct=95.0,pads_expiry="2026-10-29" {_ms(day1)}',
        f'{lift} state="ready",cabinet_open=false,battery_pct=80.0,pads_expiry="2027-01-15" {_ms(day1)}',
        # The lift's battery: 80 % on Oct 1, 50 % on Oct 31 (00:00 UTC): 1 % a day, 20 % on Nov 30.
        f"{lift} battery_pct=50.0 {_ms(dt.datetime(2026, 10, 31, 0, 0, tzinfo=UTC))}",
        f"{lobby} battery_pct=95.0 {_ms(dt.datetime(2026, 10, 31, 0, 0, tzinfo=UTC))}",
        f"{lobby} cabinet_open=true {_ms(OPEN1) - 1500}",
        f"{lobby} cabinet_open=false {_ms(OPEN1 + dt.timedelta(minutes=12))}",
        f"{lobby} cabinet_open=true {_ms(OPEN2) - 500}",
        f"{lobby} cabinet_open=false {_ms(OPEN2 + dt.timedelta(minutes=5))}",
    ]
    response = httpx.post(
        f"{server.url}/write", params={"db": "louyu", "precision": "ms"}, content="\n".join(lines), timeout=10
    )
    assert response.status_code == 204, response.text


def _new(rule: str, severity: str, device: str) -> NewAlert:
    return NewAlert(rule, severity, BUILDING, "aed", device, f"{rule} {device}", None, {})


def fill_store(engine: Engine) -> None:
    store = AlertStore(engine)
    s = dt.timedelta(seconds=1)

    def raised(rule: str, severity: str, device: str, at: dt.datetime) -> int:
        event = store.raise_alert(_new(rule, severity, device), at)
        assert event is not None
        return event.alert_id

    a = raised("aed-offline", "major", LOBBY, EARLY_OFFLINE)
    store.clear(a, EARLY_OFFLINE + dt.timedelta(hours=2))
    a = raised("aed-cabinet-open", "critical", LOBBY, OPEN1)
    store.acknowledge(a, "control-1", None, OPEN1 + 40 * s)
    store.record(a, "on_site", "patrol-1", None, OPEN1 + 180 * s)
    store.clear(a, OPEN1 + dt.timedelta(minutes=12) + s)
    a = raised("aed-cabinet-open", "critical", LOBBY, OPEN2)
    store.acknowledge(a, "patrol-3", "到场 B 座大堂", OPEN2 + 25 * s)
    store.clear(a, OPEN2 + dt.timedelta(minutes=5) + s)
    fault = raised("aed-fault", "major", LIFT, FAULT)
    store.escalate(fault, 0, FAULT + dt.timedelta(minutes=15))
    store.acknowledge(fault, "control-1", None, FAULT + dt.timedelta(minutes=20))
    store.clear(fault, FAULT + dt.timedelta(hours=3))
    battery = raised("aed-battery-low", "minor", LIFT, FAULT + dt.timedelta(hours=2))
    store.mark_flapping(battery, FAULT + dt.timedelta(hours=2, minutes=30))
    store.clear(battery, FAULT + dt.timedelta(hours=4))
    a = raised("aed-offline", "major", LIFT, OFFLINE)
    store.clear(a, OFFLINE + dt.timedelta(minutes=30))
    store.create_silence(
        reason="cabinet maintenance", created_by="operator-1", building=BUILDING, kind="aed",
        starts_at=OFFLINE - dt.timedelta(hours=1), ends_at=OFFLINE + dt.timedelta(hours=1),
        now=OFFLINE - dt.timedelta(hours=2),
    )  # fmt: skip
    _deliveries(engine)


def _delivery(n: int, receiver: str, channel: str, created: dt.datetime, status: str, attempts: int,
              latency_ms: int | None) -> DeliveryRow:  # fmt: skip
    delivered = created + dt.timedelta(milliseconds=latency_ms) if latency_ms is not None else None
    return DeliveryRow(
        id=f"evt-{n}-{receiver}", created_at=created, event_id=n, alert_id=None, event="raised", reason="event",
        level=0, route="r", severity="critical", rule="aed-cabinet-open", building=BUILDING, receiver=receiver,
        channel=channel, title="t", payload="{}", status=status, attempts=attempts, next_attempt_at=created,
        deadline=created + dt.timedelta(hours=1), delivered_at=delivered, finished_at=delivered or created,
    )  # fmt: skip


def _deliveries(engine: Engine) -> None:
    with Session(engine) as session, session.begin():
        session.add_all(
            [
                # patrol (mqtt): 4, 10 and 7 ms (the last after a retry), one failed after 3 tries.
                _delivery(1, "patrol", "mqtt", OPEN1, "delivered", 1, 4),
                _delivery(2, "patrol", "mqtt", OPEN2, "delivered", 1, 10),
                _delivery(3, "patrol", "mqtt", FAULT, "delivered", 2, 7),
                _delivery(4, "patrol", "mqtt", OFFLINE, "failed", 3, None),
                # city (webhook): one, 250 ms.
                _delivery(5, "city", "webhook", OPEN1, "delivered", 1, 250),
                # Outside the month: not counted.
                _delivery(6, "city", "webhook", MONTH_END + dt.timedelta(hours=1), "delivered", 1, 999),
            ]
        )
