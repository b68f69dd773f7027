"""The alert store: lifecycle, events, paging, silences, and the one-open-alert guarantee.

Every test here runs on SQLite and on PostgreSQL (the `store_url` fixture)."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from rules.database import make_engine, normalize_url
from rules.database.migrate import upgrade
from rules.errors import AlertNotFound, InvalidCursor, InvalidSilence, InvalidTransition, SilenceNotFound
from rules.store import AlertStore, NewAlert, Pending
from tests.rules.conftest import T0

MIN = dt.timedelta(minutes=1)


def new(
    rule: str = "aed-cabinet-open", device: str = "aed-1", severity: str = "critical", **kw: object
) -> NewAlert:
    return NewAlert(
        rule=rule,
        severity=severity,
        building=str(kw.get("building", "darong-b")),
        kind=str(kw.get("kind", "aed")),
        device=device,
        summary="AED cabinet opened",
        value=True,
        labels={"floor": "1F"},
    )


def test_raise_ack_resolve_writes_events_in_order(store: AlertStore) -> None:
    raised = store.raise_alert(new(), T0)
    assert raised is not None and raised.event == "raised"
    alert_id = raised.alert_id
    acked = store.acknowledge(alert_id, "patrol-li", "on my way", T0 + MIN)
    resolved = store.resolve(alert_id, "op-wang", "pads replaced", T0 + 2 * MIN)

    alert = store.get(alert_id)
    assert alert is not None
    assert (alert.state, alert.acknowledged_by, alert.resolved_by, alert.resolution) == (
        "resolved",
        "patrol-li",
        "op-wang",
        "manual",
    )
    assert alert.acknowledged_at == T0 + MIN and alert.resolved_at == T0 + 2 * MIN
    history = store.events(alert_id)
    assert [e.event for e in history] == ["raised", "acknowledged", "resolved"]
    assert [e.id for e in history] == sorted(e.id for e in history)
    assert history[1].by == "patrol-li" and history[1].note == "on my way"
    # Each event carries the alert as it was right after it.
    assert [e.alert.state for e in history] == ["firing", "acknowledged", "resolved"]
    assert acked.to_json()["alert"]["acknowledged_by"] == "patrol-li"
    assert resolved.topic == "louyu/alerts/darong-b/critical/aed-cabinet-open"


def test_alert_json_has_the_documented_fields(store: AlertStore) -> None:
    raised = store.raise_alert(new(), T0)
    assert raised is not None
    body = raised.to_json()
    assert set(body) == {"event_id", "event", "at", "by", "note", "alert"}
    assert body["at"] == "2026-11-27T02:00:00.000000+00:00"
    for name in (
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
        "resolved_by",
        "resolution",
        "escalated_at",
        "escalation_level",
        "flapping",
        "silenced",
        "labels",
        "updated_at",
    ):
        assert name in body["alert"], name
    assert body["alert"]["labels"] == {"floor": "1F"}


def test_invalid_transitions_and_missing_alerts(store: AlertStore) -> None:
    raised = store.raise_alert(new(), T0)
    assert raised is not None
    store.resolve(raised.alert_id, "op", None, T0)
    with pytest.raises(InvalidTransition, match="resolved"):
        store.acknowledge(raised.alert_id, "op", None, T0)
    with pytest.raises(InvalidTransition):
        store.resolve(raised.alert_id, "op", None, T0)
    with pytest.raises(AlertNotFound):
        store.acknowledge(9999, "op", None, T0)
    assert store.get(9999) is None
    # A second ack of an acknowledged alert is refused as well.
    second = store.raise_alert(new(device="aed-2"), T0)
    assert second is not None
    store.acknowledge(second.alert_id, "a", None, T0)
    with pytest.raises(InvalidTransition):
        store.acknowledge(second.alert_id, "b", None, T0)


def test_one_open_alert_per_rule_and_device(store: AlertStore) -> None:
    first = store.raise_alert(new(), T0)
    assert first is not None
    assert store.raise_alert(new(), T0 + MIN) is None  # refused by the partial unique index
    assert store.raise_alert(new(device="aed-2"), T0) is not None
    assert store.raise_alert(new(rule="aed-in-use"), T0) is not None
    store.acknowledge(first.alert_id, "a", None, T0)
    assert store.raise_alert(new(), T0 + MIN) is None  # acknowledged is still unresolved
    cleared = store.clear(first.alert_id, T0 + 2 * MIN, "condition cleared")
    assert cleared is not None and cleared.alert.resolution == "cleared" and cleared.by is None
    assert store.clear(first.alert_id, T0 + 2 * MIN) is None  # already resolved: no second event
    again = store.raise_alert(new(), T0 + 3 * MIN)
    assert again is not None and again.alert_id != first.alert_id  # a new firing is a new alert


def test_two_stores_racing_open_exactly_one_alert(db: Engine, store_url: str) -> None:
    # Two engines (two connection pools) on one database, as two processes would have.
    engines = [db, make_engine(store_url)]
    stores = [AlertStore(e) for e in engines]
    barrier = threading.Barrier(8)
    results: list[bool] = []
    lock = threading.Lock()

    def race(index: int) -> None:
        barrier.wait()
        for attempt in range(10):
            event = stores[index % 2].raise_alert(new(device=f"aed-{attempt}"), T0)
            with lock:
                results.append(event is not None)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(results) == 10  # one winner per device, 70 refusals, no error
    assert len(stores[0].open_alerts()) == 10
    assert len(stores[1].events_after(0)) == 10
    engines[1].dispose()


def test_racing_acknowledgements_write_one_event(db: Engine, store_url: str) -> None:
    # Two engines (two connection pools) on one database, as two processes would have.
    engines = [db, make_engine(store_url)]
    stores = [AlertStore(e) for e in engines]
    raised = stores[0].raise_alert(new(), T0)
    assert raised is not None
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def ack(index: int) -> None:
        barrier.wait()
        try:
            stores[index % 2].acknowledge(raised.alert_id, f"p{index}", None, T0)
            outcomes.append("ok")
        except InvalidTransition:
            outcomes.append("refused")

    threads = [threading.Thread(target=ack, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * 5
    assert [e.event for e in stores[1].events(raised.alert_id)] == ["raised", "acknowledged"]
    engines[1].dispose()


def test_events_after_resumes_across_alerts(store: AlertStore) -> None:
    a = store.raise_alert(new(device="aed-1"), T0)
    b = store.raise_alert(new(device="aed-2"), T0)
    assert a is not None and b is not None
    store.acknowledge(a.alert_id, "x", None, T0)
    every = store.events_after(0)
    assert [(e.alert_id, e.event) for e in every] == [
        (a.alert_id, "raised"),
        (b.alert_id, "raised"),
        (a.alert_id, "acknowledged"),
    ]
    assert [e.id for e in store.events_after(every[0].id)] == [every[1].id, every[2].id]
    assert [e.id for e in store.events_after(every[0].id, limit=1)] == [every[1].id]
    assert store.events_after(every[-1].id) == []
    assert store.last_event_id() == every[-1].id


def test_list_alerts_filters_and_pages_stably(store: AlertStore) -> None:
    ids = []
    for i in range(7):
        event = store.raise_alert(
            new(device=f"aed-{i}", severity="critical" if i % 2 else "major", building=f"b{i % 3}"),
            T0 + i * MIN,
        )
        assert event is not None
        ids.append(event.alert_id)
    page, cursor = store.list_alerts(limit=3)
    assert [a.id for a in page] == ids[::-1][:3]
    # An alert that arrives between pages does not shift the next page.
    late = store.raise_alert(new(device="aed-late", severity="info"), T0 + 30 * MIN)
    assert late is not None
    seen = [a.id for a in page]
    while cursor:
        page, cursor = store.list_alerts(limit=3, cursor=cursor)
        seen += [a.id for a in page]
    assert seen == ids[::-1]

    crit, _ = store.list_alerts(severity="critical", sort="started_at")
    assert [a.id for a in crit] == [ids[1], ids[3], ids[5]]
    two, _ = store.list_alerts(building=["b0", "b1"], severity="major", state="firing", sort="id")
    assert [a.id for a in two] == [ids[0], ids[4], ids[6]]
    by_severity, next_cursor = store.list_alerts(sort="severity", limit=4)
    assert [a.severity for a in by_severity] == ["critical"] * 3 + ["major"] and next_cursor
    rest, _ = store.list_alerts(sort="severity", limit=10, cursor=next_cursor)
    assert [a.severity for a in rest] == ["major"] * 3 + ["info"]
    assert [a.id for a in rest[:3]] == [ids[2], ids[4], ids[6]]
    assert store.list_alerts(rule="nope")[0] == []
    with pytest.raises(InvalidCursor):
        store.list_alerts(cursor="garbage!")
    with pytest.raises(InvalidCursor):
        store.list_alerts(cursor=cursor or store.list_alerts(limit=1)[1] or "", sort="id")
    with pytest.raises(ValueError, match="sort"):
        store.list_alerts(sort="summary")


def test_counts_by_state_and_severity(store: AlertStore) -> None:
    a = store.raise_alert(new(device="a"), T0)
    store.raise_alert(new(device="b", severity="minor", rule="aed-battery-low"), T0)
    assert a is not None
    store.acknowledge(a.alert_id, "x", None, T0)
    counts = store.counts()
    assert counts["acknowledged"]["critical"] == 1
    assert counts["firing"]["minor"] == 1
    assert counts["firing"]["critical"] == 0 and counts["resolved"]["info"] == 0


def test_escalate_only_once_per_level(store: AlertStore) -> None:
    raised = store.raise_alert(new(), T0)
    assert raised is not None
    first = store.escalate(raised.alert_id, 0, T0 + 5 * MIN)
    assert first is not None and first.event == "escalated" and first.alert.escalation_level == 1
    assert store.escalate(raised.alert_id, 0, T0 + 5 * MIN) is None  # a second engine, same level
    store.acknowledge(raised.alert_id, "x", None, T0 + 6 * MIN)
    assert store.escalate(raised.alert_id, 1, T0 + 10 * MIN) is None  # acknowledged: never


def test_silences_mute_and_unmute_with_an_event(store: AlertStore) -> None:
    minor = store.raise_alert(
        new(rule="device-offline", severity="minor", kind="parking_space", device="s1"), T0
    )
    critical = store.raise_alert(new(), T0)
    assert minor is not None and critical is not None
    silence = store.create_silence(
        building="darong-b", reason="lift works", created_by="op", ends_at=T0 + 60 * MIN, now=T0
    )
    assert store.get(minor.alert_id).silenced  # type: ignore[union-attr]
    assert not store.get(critical.alert_id).silenced  # type: ignore[union-attr]  # AED lane
    assert [s.id for s in store.list_silences(active_at=T0 + MIN)] == [silence.id]
    assert store.list_silences(active_at=T0 + 61 * MIN) == []
    assert store.close_ended_silences(T0 + 30 * MIN) == []
    ended = store.end_silence(silence.id, "op2", T0 + 30 * MIN)
    assert ended.ends_at == T0 + 30 * MIN and ended.ended_by == "op2"
    events = store.close_ended_silences(T0 + 30 * MIN)
    assert [(e.alert_id, e.event, e.by) for e in events] == [(minor.alert_id, "unsilenced", "op2")]
    assert store.close_ended_silences(T0 + 31 * MIN) == []  # processed once
    assert not store.get(minor.alert_id).silenced  # type: ignore[union-attr]
    with pytest.raises(SilenceNotFound):
        store.end_silence(999, "x", T0)
    with pytest.raises(InvalidSilence):
        store.create_silence(reason="x", created_by="op", ends_at=T0 + MIN, now=T0)
    with pytest.raises(InvalidSilence):
        store.create_silence(rule="r", reason="x", created_by="op", ends_at=T0, now=T0)


def test_pending_timers_survive(store: AlertStore) -> None:
    store.save_pending(Pending("parking-lot-full", "darong-a", "parking_lot", "garage", T0, 0.97))
    store.save_pending(Pending("parking-lot-full", "darong-a", "parking_lot", "garage", T0 + MIN, 0.98))
    (pending,) = AlertStore(store.engine).load_pending()
    assert pending.since == T0 + MIN and pending.value == 0.98
    store.delete_pending("parking-lot-full", "darong-a", "parking_lot", "garage")
    assert store.load_pending() == []


def test_postgres_urls_use_psycopg_and_sqlite_parent_is_created(tmp_path: Path) -> None:
    assert normalize_url("postgresql://u:p@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u:p@h/db").drivername == "postgresql+psycopg"
    engine = make_engine(f"sqlite:///{tmp_path}/deep/er/louyu.db")
    upgrade(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (tmp_path / "deep" / "er" / "louyu.db").exists()
    engine.dispose()
