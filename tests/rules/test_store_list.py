"""The alert list at scale: every sort pages exactly like a full sort, the severity rank the
database keeps, the indexes each common filter is served by. (The upgrade of an alert table created
by an earlier version, without rank and list indexes: tests/database/test_migrations.py.)

Store tests run on SQLite and on PostgreSQL (the `store_url` fixture); query plans are SQLite's.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, event, insert, select

from rules.alert_query import SORTS, urgency_rank
from rules.database.alerts import AlertRow
from rules.errors import InvalidCursor
from rules.records import SEVERITIES, AlertRecord
from rules.store import AlertStore, NewAlert
from tests.rules.conftest import T0

MIN = dt.timedelta(minutes=1)


def rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def new(device: str, severity: str, building: str = "darong-a", kind: str = "aed") -> NewAlert:
    return NewAlert(
        rule="aed-cabinet-open",
        severity=severity,
        building=building,
        kind=kind,
        device=device,
        summary=f"{severity} at {device}",
        value=1,
        labels={},
    )


def fill(store: AlertStore) -> list[AlertRecord]:
    """Alerts of every severity (and one the rules never use), with equal start times in threes
    and some acknowledged or resolved later, so that every sort key has ties to break."""
    severities = [*SEVERITIES, "page"]
    for i in range(20):
        event = store.raise_alert(
            new(f"d{i:02d}", severities[(i * 7) % len(severities)], building=f"b{i % 3}", kind=f"k{i % 2}"),
            T0 + (i // 3) * MIN,
        )
        assert event is not None
        if i % 4 == 1:
            store.acknowledge(event.alert_id, "patrol-wang", None, T0 + 30 * MIN)
        elif i % 5 == 2:
            store.resolve(event.alert_id, "patrol-wang", None, T0 + 40 * MIN + (i % 2) * MIN)
    every, _ = store.list_alerts(sort="id", limit=1000)
    assert len(every) == 20
    return every


def walk(store: AlertStore, page_size: int, **filters: Any) -> list[int]:
    ids: list[int] = []
    page, cursor = store.list_alerts(limit=page_size, **filters)
    ids += [a.id for a in page]
    while cursor:
        page, cursor = store.list_alerts(limit=page_size, cursor=cursor, **filters)
        ids += [a.id for a in page]
    return ids


def reference(alerts: list[AlertRecord], sort: str, keep: Callable[[AlertRecord], bool]) -> list[int]:
    name = sort.lstrip("-")
    key: Callable[[AlertRecord], tuple[Any, ...]] = {
        "started_at": lambda a: (a.started_at, a.id),
        "updated_at": lambda a: (a.updated_at, a.id),
        "id": lambda a: (a.id, a.id),
        "severity": lambda a: (rank(a.severity), a.id),
        # Most urgent first: severity, then state, then newest first; "-priority" the reverse.
        "priority": lambda a: (rank(a.severity), urgency_rank(a), -a.started_at.timestamp(), -a.id),
    }[name]
    return [a.id for a in sorted(filter(keep, alerts), key=key, reverse=sort.startswith("-"))]


def test_every_sort_pages_like_a_full_sort(store: AlertStore) -> None:
    every = fill(store)
    for name in SORTS:
        for sort in (name, f"-{name}"):
            expected = reference(every, sort, lambda a: True)
            for page_size in (1, 2, 3, 7):
                assert walk(store, page_size, sort=sort) == expected, (sort, page_size)
    # Filters served by their own index page the same way.
    cases: list[tuple[dict[str, Any], Callable[[AlertRecord], bool]]] = [
        ({"device": ["d03", "d04", "d05", "d11"]}, lambda a: a.device in ("d03", "d04", "d05", "d11")),
        (
            {"building": "b1", "severity": ["critical", "minor", "page"]},
            lambda a: a.building == "b1" and a.severity in ("critical", "minor", "page"),
        ),
        ({"state": ["firing", "acknowledged"]}, lambda a: a.state != "resolved"),
        ({"state": "resolved"}, lambda a: a.state == "resolved"),
        ({"building": "b0", "kind": "k1"}, lambda a: a.building == "b0" and a.kind == "k1"),
    ]
    for filters, keep in cases:
        for sort in ("-started_at", "severity", "-severity", "-updated_at"):
            assert walk(store, 2, sort=sort, **filters) == reference(every, sort, keep), (filters, sort)


def test_a_cursor_with_a_key_of_the_wrong_type_is_refused(store: AlertStore) -> None:
    fill(store)
    for sort, key in (("severity", "critical"), ("-id", 3.5), ("id", True), ("severity", None)):
        raw = json.dumps([sort, key, 1]).encode()
        with pytest.raises(InvalidCursor):
            store.list_alerts(sort=sort, cursor=base64.urlsafe_b64encode(raw).decode())


def test_severity_rank_is_kept_by_the_database_and_stays_internal(store: AlertStore) -> None:
    every = fill(store)
    # Rows inserted without the store (a bulk load) are ranked all the same.
    with store.engine.begin() as conn:
        conn.execute(
            insert(AlertRow),
            [
                {
                    "rule": "bulk",
                    "severity": severity,
                    "state": "resolved",
                    "building": "b9",
                    "kind": "aed",
                    "device": f"bulk-{severity}",
                    "summary": "loaded",
                    "value": None,
                    "started_at": T0,
                    "updated_at": T0,
                    "escalation_level": 0,
                    "flapping": False,
                    "silenced": False,
                    "labels": {},
                }
                for severity in ("info", "critical", "odd")
            ],
        )
    with store.engine.connect() as conn:
        ranks = conn.execute(select(AlertRow.severity, AlertRow.severity_rank)).all()
    assert len(ranks) == len(every) + 3
    assert all(r == rank(s) for s, r in ranks)
    assert {rank(s) for s, _ in ranks} == set(range(len(SEVERITIES) + 1))
    assert "severity_rank" not in every[0].to_json()


@pytest.fixture
def sqlite_store(sqlite_db: Engine) -> AlertStore:
    return AlertStore(sqlite_db)


def plan(store: AlertStore, **query: Any) -> str:
    """SQLite's plan for the SELECT that `list_alerts(**query)` runs."""
    statements: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        store.list_alerts(**query)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    (statement, parameters), *_ = statements
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    return "; ".join(str(r[-1]) for r in rows)


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ({"device": "dev-012345"}, "ix_alerts_device_started"),
        ({"building": "darong-c", "severity": "minor"}, "ix_alerts_building_started"),
        ({"sort": "severity"}, "ix_alerts_severity_rank"),
        ({"sort": "-severity"}, "ix_alerts_severity_rank"),
        ({"state": "firing"}, "ix_alerts_state_started"),
        ({"state": "resolved", "sort": "-updated_at"}, "ix_alerts_state_updated"),
        ({"building": "darong-c", "kind": "aed", "device": "aed-1"}, "ix_alerts_place_started"),
        ({}, "ix_alerts_started"),
    ],
)
def test_list_queries_read_one_index_range_without_sorting(
    sqlite_store: AlertStore, query: dict[str, Any], index: str
) -> None:
    for i in range(3):
        sqlite_store.raise_alert(new(f"aed-{i}", "minor", building="darong-c"), T0 + i * MIN)
    first = plan(sqlite_store, limit=1, **query)
    assert f"USING INDEX {index}" in first and "TEMP B-TREE" not in first, first
    _, cursor = sqlite_store.list_alerts(limit=1, **query)
    if cursor is not None:
        # A later page seeks to the cursor in the same index instead of scanning up to it.
        later = plan(sqlite_store, limit=1, cursor=cursor, **query)
        assert f"SEARCH alerts USING INDEX {index}" in later and "TEMP B-TREE" not in later, later
