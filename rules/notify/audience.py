"""Who the routing file pages about an alert, and which receivers a signed-in person is.

Pure functions over the routing file, `now` passed in, for the API's "routed to me" view
(`GET /api/v1/me/alerts`): the notifier decides with the same routes (`rules/notify/planner.py`),
so the phone of a patrol shows first what that patrol's handset is sent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rules.notify.config import Receiver, RoutingConfig
from rules.notify.policy import levels
from rules.notify.routing import matching_routes
from rules.notify.schedule import on_duty


@dataclass(frozen=True, slots=True)
class Paged:
    """One receiver one route calls about an alert, at one level."""

    receiver: str
    route: str
    level: int  # 0: the route's receivers; k >= 1: its escalation step k
    # When that level is called: the alert's start, plus the step's delay for an escalation (the
    # notifier measures from its first notice, which follows the start within a second).
    due_at: dt.datetime
    on_duty: bool

    def called_by(self, now: dt.datetime) -> bool:
        """Called by now: its level has come and the receiver is on duty."""
        return self.on_duty and self.due_at <= now


def receivers_of(config: RoutingConfig, person: str) -> list[Receiver]:
    """The receivers an API token's name stands for: a receiver of that name, and every receiver
    listing the name among its `people`."""
    return [r for r in config.receivers if r.name == person or person in r.people]


def paged_about(
    config: RoutingConfig,
    alert: Mapping[str, Any],
    started_at: dt.datetime,
    now: dt.datetime,
    among: frozenset[str] | set[str] | None = None,
) -> list[Paged]:
    """Every (receiver, route, level) the routes call about an alert when it is raised and left
    unacknowledged, limited to the receivers `among` when given. Routes that do not take `raised`
    events, and silenced alerts on routes that do not ask for them, page nobody."""
    out: list[Paged] = []
    for index in matching_routes(config, alert):
        route = config.routes[index]
        if not route.takes("raised") or (alert.get("silenced") and not route.include_silenced):
            continue
        for level, names in enumerate(levels(route)):
            due = started_at if level == 0 else started_at + route.escalate[level - 1].after
            for name in names:
                if among is not None and name not in among:
                    continue
                receiver = config.receiver(name)
                out.append(
                    Paged(name, config.route_name(index), level, due, on_duty(receiver, now, config.tz))
                )
    return out
