"""Reminders and escalation: pure decisions with `now` passed in."""

from __future__ import annotations

import datetime as dt

import pytest

from rules.notify.config import parse_routing
from rules.notify.policy import Track, apply, decide, next_due

MIN = dt.timedelta(minutes=1)
T0 = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)

ROUTES = parse_routing("""
receivers:
  - {name: patrol, mqtt: {}}
  - {name: supervisor, mqtt: {}}
  - {name: manager, mqtt: {}}
routes:
  - name: urgent
    receivers: [patrol]
    repeat_every: 2m
    escalate:
      - {after: 5m, receivers: [supervisor]}
      - {after: 15m, receivers: [manager]}
""")
ROUTE = ROUTES.routes[0]


def run(
    until: dt.timedelta, state_at: dict[dt.timedelta, str] | None = None, step: dt.timedelta = MIN / 4
) -> list[tuple[dt.timedelta, str, int]]:
    """Drive a track through time, as the service's timer does; returns what happened, when."""
    track = Track(T0, 0, T0, 0)
    happened: list[tuple[dt.timedelta, str, int]] = []
    state = "firing"
    t = dt.timedelta(0)
    while t <= until:
        for at, new_state in (state_at or {}).items():
            if t >= at:
                state = new_state
        now = T0 + t
        decision = decide(ROUTE, track, state, now)
        if decision.stop:
            happened.append((t, "stop", track.level))
            break
        if decision.escalate_to is not None:
            happened.append((t, "escalate", decision.escalate_to))
        elif decision.remind:
            happened.append((t, "remind", track.level))
        track = apply(track, decision, now)
        t += step
    return happened


def test_reminds_then_escalates_patrol_supervisor_manager() -> None:
    assert run(20 * MIN) == [
        (2 * MIN, "remind", 0),
        (4 * MIN, "remind", 0),
        (5 * MIN, "escalate", 1),
        (7 * MIN, "remind", 1),
        (9 * MIN, "remind", 1),
        (11 * MIN, "remind", 1),
        (13 * MIN, "remind", 1),
        (15 * MIN, "escalate", 2),
        (17 * MIN, "remind", 2),
        (19 * MIN, "remind", 2),
    ]


@pytest.mark.parametrize("state", ["acknowledged", "resolved"])
def test_acknowledgement_stops_reminders_and_escalation_at_once(state: str) -> None:
    happened = run(30 * MIN, {dt.timedelta(minutes=3, seconds=10): state})
    assert happened == [(2 * MIN, "remind", 0), (dt.timedelta(minutes=3, seconds=15), "stop", 0)]
    assert not [h for h in happened if h[1] == "escalate"]


def test_acknowledged_after_escalation_stops_before_the_manager() -> None:
    happened = run(30 * MIN, {10 * MIN: "acknowledged"})
    assert ("escalate", 1) in [(h[1], h[2]) for h in happened]
    assert ("escalate", 2) not in [(h[1], h[2]) for h in happened]
    assert happened[-1] == (10 * MIN, "stop", 1)


def test_after_a_long_outage_only_the_highest_due_level_is_called() -> None:
    track = Track(T0, 0, T0, 0)
    decision = decide(ROUTE, track, "firing", T0 + 20 * MIN)
    assert decision.escalate_to == 2 and decision.skipped == [1]


def test_nothing_due_says_when_to_look_again() -> None:
    track = Track(T0, 0, T0, 0)
    decision = decide(ROUTE, track, "firing", T0 + MIN)
    assert not decision.remind and decision.escalate_to is None
    assert decision.next_due == T0 + 2 * MIN
    assert next_due(ROUTE, Track(T0, 0, T0 + 4 * MIN, 2)) == T0 + 5 * MIN  # the escalation comes first


def test_max_reminders_and_the_end_of_the_chain() -> None:
    config = parse_routing("""
receivers: [{name: patrol, mqtt: {}}]
routes: [{receivers: [patrol], repeat_every: 1m, max_reminders: 2}]
""")
    route = config.routes[0]
    track = Track(T0, 0, T0, 0)
    reminders = 0
    for minute in range(1, 10):
        now = T0 + minute * MIN
        decision = decide(route, track, "firing", now)
        reminders += decision.remind
        track = apply(track, decision, now)
    assert reminders == 2
    assert next_due(route, track) is None  # nothing more will happen: the track can end
