"""The engine, condition type by condition type, with time passed in (no sleeping)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from collector.models import Availability, FieldValue, Reading
from tests.rules.conftest import T0, Harness

MIN = dt.timedelta(minutes=1)
MakeHarness = Callable[..., Harness]


def reading(kind: str, device: str, building: str = "darong-a", **fields: FieldValue) -> Reading:
    return Reading(building, kind, device, int(T0.timestamp() * 1000), dict(fields))


def _reading(kind: str, device: str, fields: dict[str, FieldValue]) -> Reading:
    return Reading("darong-a", kind, device, int(T0.timestamp() * 1000), fields)


def aed(device: str = "aed-a-1f-lobby", **fields: FieldValue) -> Reading:
    fields.setdefault("state", "ready")
    return _reading("aed", device, fields)


def lot(occupied: int, **fields: FieldValue) -> Reading:
    return _reading("parking_lot", "garage", {"occupied": occupied, **fields})


def test_immediate_cabinet_open_raises_once_then_clears(make_harness: MakeHarness) -> None:
    h = make_harness()
    events = h.engine.handle(aed(cabinet_open=True), T0)
    assert [(e.event, e.alert.rule, e.alert.severity) for e in events] == [
        ("raised", "aed-cabinet-open", "critical")
    ]
    alert = events[0].alert
    assert alert.value is True and alert.summary == "AED cabinet opened: Tower A lobby"
    assert alert.labels == {"floor": "1F", "zone": "lobby", "location": "Tower A lobby"}
    assert h.engine.handle(aed(cabinet_open=True), T0 + MIN) == []  # still open: no second alert
    assert h.engine.handle(aed(), T0 + MIN) == []  # field absent: latest state keeps it open
    cleared = h.engine.handle(aed(cabinet_open=False), T0 + 2 * MIN)
    assert [(e.event, e.alert.resolution) for e in cleared] == [("resolved", "cleared")]
    again = h.engine.handle(aed(cabinet_open=True), T0 + 3 * MIN)
    assert again[0].event == "raised" and again[0].alert_id != alert.id  # a new alert
    assert h.publisher.kinds() == ["raised", "resolved", "raised"]  # every event published


def test_aed_fault_any_of_and_state_values(make_harness: MakeHarness) -> None:
    h = make_harness()
    events = h.engine.handle(aed(self_test="fail"), T0)
    assert [(e.alert.rule, e.alert.value) for e in events] == [("aed-fault", "fail")]
    assert h.engine.handle(aed(self_test="pass", state="fault"), T0 + MIN) == []
    resolved = h.engine.handle(aed(state="ready"), T0 + 2 * MIN)
    assert [e.event for e in resolved] == ["resolved"]
    in_use = h.engine.handle(aed(state="in_use"), T0 + 3 * MIN)
    assert [e.alert.rule for e in in_use] == ["aed-in-use"]


def test_threshold_with_hysteresis_and_duration(make_harness: MakeHarness) -> None:
    h = make_harness()
    assert h.engine.handle(lot(96), T0) == []  # 0.96 >= 0.95, but `for: 2m` has not passed
    assert h.engine.handle(lot(97), T0 + MIN) == []
    fired = h.engine.handle(lot(97), T0 + 2 * MIN)
    assert [(e.alert.rule, e.alert.value) for e in fired] == [("parking-lot-full", 0.97)]
    assert fired[0].alert.summary.startswith("Parking garage nearly full (97% occupied)")
    assert h.engine.handle(lot(92), T0 + 3 * MIN) == []  # below 0.95 but not below 0.90: still open
    cleared = h.engine.handle(lot(89), T0 + 4 * MIN)
    assert [(e.event, e.alert.resolution) for e in cleared] == [("resolved", "cleared")]


def test_duration_resets_when_condition_breaks(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.engine.handle(lot(96), T0)
    h.engine.handle(lot(93), T0 + MIN)  # dropped below 0.95: the 2 minutes start again
    h.engine.handle(lot(96), T0 + 90 * dt.timedelta(seconds=1))
    assert h.engine.handle(lot(96), T0 + 3 * MIN) == []
    assert h.engine.tick(T0 + 3 * MIN) == []
    assert [e.event for e in h.engine.tick(T0 + 3 * MIN + 30 * dt.timedelta(seconds=1))] == ["raised"]


def test_duration_fires_on_tick_without_new_readings(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.engine.handle(lot(99), T0)
    assert h.engine.tick(T0 + MIN) == []
    assert [e.alert.rule for e in h.engine.tick(T0 + 2 * MIN)] == ["parking-lot-full"]


def test_capacity_from_payload_else_registry(make_harness: MakeHarness) -> None:
    h = make_harness()
    # Registry capacity is 100; the payload's 200 wins: 96/200 is not full.
    h.engine.handle(lot(96, capacity=200), T0)
    assert h.engine.tick(T0 + 5 * MIN) == []
    # An unregistered lot: not evaluated (only its building's unknown-devices alert).
    h.engine.handle(reading("parking_lot", "unknown-lot", occupied=10_000), T0)
    assert h.engine.tick(T0 + 10 * MIN) == []
    assert [a.rule for a in h.store.open_alerts()] == ["unknown-devices"]


def test_pending_duration_survives_a_restart(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.engine.handle(lot(99), T0)
    after = h.restart()
    after.engine.load(T0 + MIN)
    assert after.engine.tick(T0 + 3 * MIN) == []  # no state seen since the restart: not assumed
    fired = after.engine.handle(lot(99), T0 + 3 * MIN)  # the 2 minutes count from before the restart
    assert [e.alert.rule for e in fired] == ["parking-lot-full"]
    third = h.restart()
    third.engine.load(T0 + 4 * MIN)
    assert third.engine.handle(lot(99), T0 + 4 * MIN) == []  # open alert loaded: not doubled
    assert [e.event for e in third.engine.handle(lot(50), T0 + 5 * MIN)] == ["resolved"]
    assert len(h.store.list_alerts()[0]) == 1


def test_battery_and_pads_date_check_daily(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.engine.handle(aed(battery_pct=19.5, pads_expiry="2027-03-01"), T0)
    assert [a.rule for a in h.store.open_alerts()] == ["aed-battery-low"]
    # 2027-03-01 is 94 days away on 2026-11-27; the daily check raises it 30 days before.
    assert h.engine.daily(dt.datetime(2027, 1, 29, 15, 50, tzinfo=dt.UTC)) == []  # 23:50 local, 31 days
    due = h.engine.daily(dt.datetime(2027, 1, 29, 16, 30, tzinfo=dt.UTC))  # 00:30 on Jan 30 in Qingdao
    assert [(e.alert.rule, e.alert.value) for e in due] == [("aed-pads-expiring", "2027-03-01")]
    replaced = h.engine.handle(aed(pads_expiry="2029-01-01"), dt.datetime(2027, 2, 1, tzinfo=dt.UTC))
    assert [(e.alert.rule, e.event) for e in replaced] == [("aed-pads-expiring", "resolved")]


def test_silence_sweep_and_recovery(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.engine.handle(aed(), T0)
    h.engine.handle(reading("parking_space", "b1-001", occupied=True), T0)
    assert h.engine.sweep(T0 + 14 * MIN) == []
    raised = h.engine.sweep(T0 + 16 * MIN)
    # AEDs go quiet after 15 minutes; other devices after 30.
    assert {(e.alert.rule, e.alert.device) for e in raised} == {
        ("aed-offline", "aed-a-1f-lobby"),
        ("aed-offline", "aed-b-1f-lobby"),
    }
    assert h.engine.sweep(T0 + 17 * MIN) == []  # already open
    later = h.engine.sweep(T0 + 31 * MIN)
    assert ("device-offline", "b1-001") in {(e.alert.rule, e.alert.device) for e in later}
    back = h.engine.handle(aed(), T0 + 32 * MIN)
    assert [(e.alert.rule, e.event, e.note) for e in back] == [("aed-offline", "resolved", "reporting again")]


def test_availability_offline_and_online(make_harness: MakeHarness) -> None:
    h = make_harness()
    off = Availability("darong-b", "aed", "aed-b-1f-lobby", False, 0)
    events = h.engine.handle(off, T0)
    assert [(e.alert.rule, e.alert.value) for e in events] == [("aed-offline", "offline")]
    # A retained "online" still ends an alert raised by an "offline".
    on = Availability("darong-b", "aed", "aed-b-1f-lobby", True, 0)
    assert [e.event for e in h.engine.handle(on, T0 + MIN, retained=True)] == ["resolved"]


def test_gateway_offline_inhibits_silence_alerts(make_harness: MakeHarness) -> None:
    h = make_harness()
    # gw-b (a registered device of darong-b) goes offline; s-001..s-003 hang off it.
    h.engine.handle(Availability("darong-b", "parking_space", "gw-b", False, 0), T0)
    assert [a.device for a in h.store.open_alerts()] == ["gw-b"]  # its own availability alert
    raised = h.engine.sweep(T0 + 31 * MIN)
    devices = {e.alert.device for e in raised}
    assert not devices & {"s-001", "s-002", "s-003"}  # held back
    assert devices >= {"b1-001", "garage"}  # other buildings' gateways are fine: raised
    inhibited = h.engine.metrics.inhibited.labels("device-offline")._value.get()
    assert inhibited == 3
    # The gateway returns; its devices are still silent: now they are raised.
    h.engine.handle(Availability("darong-b", "parking_space", "gw-b", True, 0), T0 + 32 * MIN)
    h.engine.handle(reading("parking_space", "gw-b", building="darong-b", occupied=False), T0 + 32 * MIN)
    after = {e.alert.device for e in h.engine.sweep(T0 + 33 * MIN)}
    assert after == {"s-001", "s-002", "s-003"}


def test_silent_gateway_and_offline_building_inhibit_too(make_harness: MakeHarness) -> None:
    h = make_harness()
    (offline,) = h.engine.handle_building("darong-a", False, T0)
    assert (offline.alert.rule, offline.alert.severity, offline.alert.kind) == (
        "building-offline",
        "major",
        "building",
    )
    events = h.engine.sweep(T0 + 31 * MIN)
    raised = {e.alert.device for e in events}
    assert not raised & {"b1-001", "garage", "main-hall"}
    # The AED is never held back: raised, and labelled with the outage that would explain it.
    (aed_alert,) = [e.alert for e in events if e.alert.device == "aed-a-1f-lobby"]
    assert aed_alert.rule == "aed-offline" and aed_alert.labels["inhibited_by"] == "building-offline"
    # darong-b: the gateway is itself silent, so it is raised first and its devices held back.
    assert "gw-b" in raised and not raised & {"s-001", "s-002"}


def test_schedule_limits_a_rule_to_service_hours(make_harness: MakeHarness) -> None:
    rules = """
rules:
  - id: canteen-crowded-lunch
    severity: warning
    match: {kinds: [canteen]}
    when: {ratio: [occupancy, capacity], op: ge, value: 0.9}
    clear: {ratio: [occupancy, capacity], op: lt, value: 0.8}
    schedule: {days: [mon, tue, wed, thu, fri], hours: ["11:00-13:30"]}
"""
    h = make_harness(rules)
    crowded = reading("canteen", "main-hall", occupancy=390)
    friday_10 = T0  # 10:00 Asia/Shanghai
    assert h.engine.handle(crowded, friday_10) == []
    friday_noon = T0 + 2 * 60 * MIN
    assert [e.event for e in h.engine.handle(crowded, friday_noon)] == ["raised"]
    closing = h.engine.tick(T0 + 4 * 60 * MIN)  # 14:00: window closed, the alert ends
    assert [(e.event, e.note) for e in closing] == [("resolved", "outside the rule's schedule")]
    saturday_noon = friday_noon + dt.timedelta(days=1)
    assert h.engine.handle(crowded, saturday_noon) == []


def test_escalation_of_unacknowledged_critical(make_harness: MakeHarness) -> None:
    h = make_harness()
    (raised,) = h.engine.handle(aed(cabinet_open=True), T0)
    h.engine.handle(aed(battery_pct=5.0), T0)  # minor: never escalated
    assert h.engine.maintain(T0 + 4 * MIN) == []
    first = h.engine.maintain(T0 + 5 * MIN)
    assert [(e.event, e.alert.escalation_level, e.alert.rule) for e in first] == [
        ("escalated", 1, "aed-cabinet-open")
    ]
    assert h.engine.maintain(T0 + 6 * MIN) == []
    assert [e.alert.escalation_level for e in h.engine.maintain(T0 + 10 * MIN)] == [2]
    h.store.acknowledge(raised.alert_id, "patrol", None, T0 + 11 * MIN)
    assert h.engine.maintain(T0 + 30 * MIN) == []
    assert h.publisher.kinds().count("escalated") == 2


def test_flapping_alert_held_open(make_harness: MakeHarness) -> None:
    h = make_harness()
    t = T0
    for _ in range(3):  # open, close, open, close, open, close: the sixth change flaps
        h.engine.handle(aed(cabinet_open=True), t)
        h.engine.handle(aed(cabinet_open=False), t + MIN)
        t += 2 * MIN
    kinds = h.publisher.kinds()
    assert kinds == ["raised", "resolved", "raised", "resolved", "raised", "flapping"]
    (alert,) = h.store.open_alerts()
    assert alert.flapping and alert.state == "firing"
    h.engine.handle(aed(cabinet_open=True), t)  # on again: same alert, no new raise
    h.engine.handle(aed(cabinet_open=False), t + MIN)
    assert len(h.store.open_alerts()) == 1
    assert h.engine.tick(t + 5 * MIN) == []
    settled = h.engine.tick(t + 12 * MIN)  # clear for the 10-minute settle: resolved
    assert [(e.event, e.alert.id) for e in settled] == [("resolved", alert.id)]


def test_silences_mute_but_never_the_aed_lane(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.store.create_silence(
        building="darong-a", reason="garage works", created_by="op", ends_at=T0 + 60 * MIN, now=T0
    )
    h.engine.maintain(T0)
    (crit,) = h.engine.handle(aed(cabinet_open=True), T0 + MIN)
    assert not crit.alert.silenced  # a building silence does not mute a critical alert
    (minor,) = h.engine.handle(aed(battery_pct=10.0), T0 + MIN)
    assert minor.alert.silenced  # but it does mute the battery alert (event still stored/published)
    unsilenced = [e for e in h.engine.maintain(T0 + 61 * MIN) if e.event == "unsilenced"]
    assert [e.alert.rule for e in unsilenced] == ["aed-battery-low"]
    h.store.create_silence(
        rule="aed-cabinet-open",
        device="aed-b-1f-lobby",
        reason="cabinet repair",
        created_by="op",
        ends_at=T0 + 200 * MIN,
        now=T0 + 61 * MIN,
    )
    h.engine.maintain(T0 + 61 * MIN)
    (named,) = h.engine.handle(
        reading("aed", "aed-b-1f-lobby", building="darong-b", state="ready", cabinet_open=True), T0 + 62 * MIN
    )
    assert named.alert.silenced  # a silence naming the critical rule itself does apply


def test_manual_resolve_while_true_waits_for_a_new_firing(make_harness: MakeHarness) -> None:
    h = make_harness()
    (raised,) = h.engine.handle(aed(cabinet_open=True), T0)
    h.store.resolve(raised.alert_id, "op", "checked", T0 + MIN)
    h.engine.maintain(T0 + MIN)
    assert h.engine.handle(aed(cabinet_open=True), T0 + 2 * MIN) == []
    h.engine.handle(aed(cabinet_open=False), T0 + 3 * MIN)
    assert [e.event for e in h.engine.handle(aed(cabinet_open=True), T0 + 4 * MIN)] == ["raised"]


def test_unknown_fields_never_fire_and_metrics_count(make_harness: MakeHarness) -> None:
    h = make_harness()
    assert h.engine.handle(aed(), T0) == []
    assert h.engine.metrics.evaluations.labels("aed-cabinet-open")._value.get() == 1
    h.engine.maintain(T0)
    assert h.engine.metrics.alerts.labels("firing", "critical")._value.get() == 0


def test_service_acts_and_publishes(make_harness: MakeHarness) -> None:
    from rules.service import AlertService

    h = make_harness()
    service = AlertService(h.store, h.publisher)
    (raised,) = h.engine.handle(aed(battery_pct=3.0), T0)
    silence = service.create_silence(
        device="aed-a-1f-lobby", reason="battery swap", created_by="op", ends_at=T0 + 60 * MIN, now=T0
    )
    assert h.store.get(raised.alert_id).silenced  # type: ignore[union-attr]
    service.end_silence(silence.id, "op", now=T0 + 10 * MIN)
    service.acknowledge(raised.alert_id, "patrol", "swapping", now=T0 + 11 * MIN)
    service.resolve(raised.alert_id, "op", None, now=T0 + 12 * MIN)
    assert h.publisher.kinds() == ["raised", "unsilenced", "acknowledged", "resolved"]
    assert h.publisher.events[-1].alert.resolution == "manual"
