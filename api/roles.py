"""Roles and what each may do (contract section 4).

A role grants a set of permissions; a route asks for one permission, never for a role, so the
table below is the only place that says who may do what.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    VIEWER = "viewer"
    PATROL = "patrol"
    OPERATOR = "operator"
    ADMIN = "admin"
    INTEGRATION = "integration"


class Permission(StrEnum):
    READ = "read"  # alerts, devices, buildings, history
    EVENTS = "events"  # the live event stream
    ACK = "ack"
    RESOLVE = "resolve"
    SILENCE = "silence"  # create, list and end silences
    ADMIN = "admin"  # everything else an administrator does (deliveries, replays, ...)


_READ: Final = frozenset({Permission.READ, Permission.EVENTS})

GRANTS: Final[dict[Role, frozenset[Permission]]] = {
    Role.VIEWER: _READ,
    # The city platform: read-only, and the event stream it follows.
    Role.INTEGRATION: _READ,
    Role.PATROL: _READ | {Permission.ACK},
    Role.OPERATOR: _READ | {Permission.ACK, Permission.RESOLVE, Permission.SILENCE},
    Role.ADMIN: frozenset(Permission),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in GRANTS[role]
