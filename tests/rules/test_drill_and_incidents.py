"""Drills in the engine and incidents from the store: a drill's reading marks the alerts it
raises, and only those; the incident grouping follows the cabinet's episodes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from rules.incidents import find, group, incidents, timings
from tests.rules.conftest import T0, Harness
from tests.rules.test_engine import aed

MIN = dt.timedelta(minutes=1)
MakeHarness = Callable[..., Harness]


def test_a_drill_reading_marks_its_alerts_and_a_real_reading_never_is(make_harness: MakeHarness) -> None:
    h = make_harness()
    opened = h.engine.handle(aed(cabinet_open=True, drill=True), T0)
    in_use = h.engine.handle(aed(state="in_use", cabinet_open=True, drill=True), T0 + MIN)
    alerts = [e.alert for e in (*opened, *in_use)]
    assert [a.rule for a in alerts] == ["aed-cabinet-open", "aed-in-use"]
    for alert in alerts:
        assert alert.labels["drill"] == "true"
        assert alert.summary.startswith("演练/DRILL: ")
        assert alert.labels["summary_zh"].startswith("【演练】AED")
        assert alert.labels["summary_en"].startswith("DRILL: AED")
    back = h.engine.handle(aed(cabinet_open=False, drill=True), T0 + 2 * MIN)
    assert [e.event for e in back] == ["resolved", "resolved"]
    # The cabinet opened for real afterwards: its reading has no drill field, nor its alert a mark.
    real = h.engine.handle(aed(cabinet_open=True), T0 + 3 * MIN)
    assert [e.alert.rule for e in real] == ["aed-cabinet-open"]
    assert "drill" not in real[0].alert.labels
    assert real[0].alert.summary == "AED cabinet opened: Tower A lobby"


def test_incidents_follow_the_cabinet_s_episodes(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.engine.handle(aed(cabinet_open=True), T0)
    h.engine.handle(aed(state="in_use", cabinet_open=True), T0 + MIN)
    # One reading closes the cabinet while the AED is still in use: same incident, still open.
    h.engine.handle(aed(state="in_use", cabinet_open=False), T0 + 2 * MIN)
    (first,) = incidents(h.store)
    assert first.state == "open" and [a.rule for a in first.alerts] == ["aed-cabinet-open", "aed-in-use"]
    # Opened again while the AED is out: it joins the open incident.
    h.engine.handle(aed(state="in_use", cabinet_open=True), T0 + 3 * MIN)
    h.engine.handle(aed(state="ready", cabinet_open=False), T0 + 9 * MIN)  # back
    (first,) = incidents(h.store)
    assert len(first.alerts) == 3 and first.state == "closed" and first.closed_at == T0 + 9 * MIN
    assert timings(first, []).time_to_return_s == 540.0
    # Later, a new episode: a new incident, whose id is its first alert's.
    h.engine.handle(aed(cabinet_open=True), T0 + 30 * MIN)
    older, newer = incidents(h.store)
    assert older.id == first.id and newer.state == "open" and newer.opened_at == T0 + 30 * MIN
    assert find(h.store, first.alerts[2].id) == first
    # Another rule of the cabinet is in no incident.
    fault = h.engine.handle(aed(state="fault", cabinet_open=True), T0 + 31 * MIN)
    assert [e.alert.rule for e in fault] == ["aed-fault"]
    assert find(h.store, fault[0].alert.id) is None
    assert group([fault[0].alert]) == []
