"""Which routes take an alert event: pure matching over the alert's fields and labels."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from rules.notify.config import Match, RoutingConfig


def _any(patterns: list[str] | None, value: object) -> bool:
    if patterns is None:
        return True
    if value is None:
        return False
    text = str(value)
    return any(fnmatchcase(text, pattern) for pattern in patterns)


def matches(match: Match, alert: Mapping[str, Any]) -> bool:
    labels = alert.get("labels") or {}
    return (
        _any(match.severity, alert.get("severity"))
        and _any(match.rule, alert.get("rule"))
        and _any(match.kind, alert.get("kind"))
        and _any(match.building, alert.get("building"))
        and _any(match.device, alert.get("device"))
        and all(_any(patterns, labels.get(name)) for name, patterns in match.labels.items())
    )


def matching_routes(config: RoutingConfig, alert: Mapping[str, Any]) -> list[int]:
    """Indexes of the routes that take this alert, in order. As in Alertmanager, the walk stops at the
    first matching route unless that route says `continue: true`."""
    taken: list[int] = []
    for index, route in enumerate(config.routes):
        if matches(route.match, alert):
            taken.append(index)
            if not route.continue_:
                break
    return taken
