"""Escalation: critical and major alerts nobody acknowledged in time. Pure function."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from rules.records import AlertRecord


def due_escalations(
    alerts: Iterable[AlertRecord],
    now: dt.datetime,
    after: Callable[[AlertRecord], dt.timedelta | None],
    max_level: int,
) -> list[tuple[int, int]]:
    """(alert id, current level) of every firing alert whose escalation is due at `now`.

    An alert is due `after(alert)` past its start, then again each interval past its last
    escalation, up to `max_level`. Acknowledged, resolved and silenced alerts never escalate.
    """
    due: list[tuple[int, int]] = []
    for alert in alerts:
        if alert.state != "firing" or alert.silenced or alert.escalation_level >= max_level:
            continue
        interval = after(alert)
        if interval is None:
            continue
        since = alert.escalated_at or alert.started_at
        if now - since >= interval:
            due.append((alert.id, alert.escalation_level))
    return due
