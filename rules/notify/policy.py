"""When to remind and when to escalate: pure decisions over a route's timing, with `now` passed in.

A timed route notifies its receivers (level 0) when the alert is raised, then, until the alert is
acknowledged or resolved:
- escalates to the receivers of step k once `escalate[k].after` has passed since the first notice
  (patrol on duty -> shift supervisor -> property manager);
- reminds the receivers of the current level every `repeat_every` since they were last told.
A level with nobody on duty is passed over at once, so that somebody is always told.
The service keeps the `Track` in the database and calls `decide()` about once a second.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from rules.notify.config import Route

STOPPING_STATES = frozenset({"acknowledged", "resolved"})


@dataclass(frozen=True, slots=True)
class Track:
    """Where one alert stands on one timed route."""

    started_at: dt.datetime  # first notice on this route
    level: int  # 0: the route's receivers; k >= 1: escalate[k - 1]
    last_notified_at: dt.datetime  # last time the current level was told (first notice or reminder)
    reminders: int  # reminders sent at the current level


@dataclass(frozen=True, slots=True)
class Decision:
    stop: bool = False
    escalate_to: int | None = None  # the level to notify now (the latest one due)
    remind: bool = False
    next_due: dt.datetime | None = None  # when to ask again; None: nothing more will happen
    skipped: list[int] = field(default_factory=list)  # levels overtaken by a later one


def levels(route: Route) -> list[list[str]]:
    return [list(route.receivers), *[list(step.receivers) for step in route.escalate]]


def level_due_at(route: Route, track: Track, level: int) -> dt.datetime:
    return track.started_at + route.escalate[level - 1].after


def decide(route: Route, track: Track, alert_state: str, now: dt.datetime) -> Decision:
    """What to do now for one alert on one timed route."""
    if alert_state in STOPPING_STATES:
        return Decision(stop=True)
    due = [
        lv for lv in range(track.level + 1, len(route.escalate) + 1) if level_due_at(route, track, lv) <= now
    ]
    if due:
        # After a long pause (the notifier was down) only the highest due level is told: telling the
        # supervisor and the manager at the same instant helps nobody.
        target = due[-1]
        after = Track(track.started_at, target, now, 0)
        return Decision(escalate_to=target, next_due=next_due(route, after), skipped=due[:-1])
    if (
        route.repeat_every is not None
        and now >= track.last_notified_at + route.repeat_every
        and (route.max_reminders is None or track.reminders < route.max_reminders)
    ):
        after = Track(track.started_at, track.level, now, track.reminders + 1)
        return Decision(remind=True, next_due=next_due(route, after))
    return Decision(next_due=next_due(route, track))


def next_due(route: Route, track: Track) -> dt.datetime | None:
    candidates: list[dt.datetime] = []
    if track.level < len(route.escalate):
        candidates.append(level_due_at(route, track, track.level + 1))
    if route.repeat_every is not None and (
        route.max_reminders is None or track.reminders < route.max_reminders
    ):
        candidates.append(track.last_notified_at + route.repeat_every)
    return min(candidates) if candidates else None


def apply(track: Track, decision: Decision, now: dt.datetime) -> Track:
    """The track after acting on a decision."""
    if decision.escalate_to is not None:
        return Track(track.started_at, decision.escalate_to, now, 0)
    if decision.remind:
        return Track(track.started_at, track.level, now, track.reminders + 1)
    return track
