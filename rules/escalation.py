"""Escalation: critical and major alerts nobody acknowledged in time. Pure functions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Final

from rules.records import AlertRecord

if TYPE_CHECKING:
    from rules.config import Rule, RuleSet

ESCALATING: Final = frozenset({"critical", "major"})

EscalateAfter = Callable[[AlertRecord], dt.timedelta | None]


def escalation_interval(ruleset: RuleSet, alert: AlertRecord, rule: Rule | None) -> dt.timedelta | None:
    """How long a firing alert waits, unacknowledged, before it escalates: its rule's
    `escalate_after`, else the file's default for its severity; None below major."""
    if alert.severity not in ESCALATING:
        return None
    if rule is not None:
        return ruleset.escalate_after(rule)
    for severity, after in ruleset.file.defaults.escalate_after.items():
        if severity == alert.severity:
            return after
    return None


def next_escalation(alert: AlertRecord, after: EscalateAfter, max_level: int) -> dt.datetime | None:
    """When the alert escalates next if nobody acknowledges it: `after(alert)` past its start,
    then each interval past its last escalation, up to `max_level`. None when it never will:
    acknowledged, resolved, silenced, at the last level, or of a severity that does not escalate."""
    if alert.state != "firing" or alert.silenced or alert.escalation_level >= max_level:
        return None
    interval = after(alert)
    if interval is None:
        return None
    return (alert.escalated_at or alert.started_at) + interval


def due_escalations(
    alerts: Iterable[AlertRecord], now: dt.datetime, after: EscalateAfter, max_level: int
) -> list[tuple[int, int]]:
    """(alert id, current level) of every firing alert whose escalation is due at `now`."""
    due: list[tuple[int, int]] = []
    for alert in alerts:
        when = next_escalation(alert, after, max_level)
        if when is not None and now >= when:
            due.append((alert.id, alert.escalation_level))
    return due
