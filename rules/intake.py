"""Which messages the engine evaluates, and the bounded tables behind that decision.

A message is evaluated only when it belongs to a building the engine owns, comes from a device in
the registry (or `accept_unregistered`, up to `max_unregistered` devices), is not a retained
reading whose time is unknown or old, and is not older than what its device already reported
(`ReadingOrder`). Everything else is counted by outcome (`louyu_rules_messages_total{outcome}`).
docs/rules.md explains each decision.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Final, Literal

from collector.models import Availability, Reading
from collector.registry import Registry
from rules.backlog import ReadingOrder
from rules.unknown import UnknownDevices

Key = tuple[str, str, str]  # building, kind, device
Outcome = Literal["accepted", "rejected", "stale", "not_owned", "unregistered", "over_limit", "retained"]
OUTCOMES: Final[tuple[Outcome, ...]] = (
    "accepted",
    "rejected",
    "stale",
    "not_owned",
    "unregistered",
    "over_limit",
    "retained",
)


class Intake:
    def __init__(
        self,
        registry: Registry,
        buildings: Collection[str],
        *,
        accept_unregistered: bool,
        max_unregistered: int,
        retained_max_age: dt.timedelta,
    ) -> None:
        self.registry = registry
        self.buildings = frozenset(buildings)
        self.accept_unregistered = accept_unregistered
        self.max_unregistered = max_unregistered
        self.retained_max_age_ms = int(retained_max_age.total_seconds() * 1000)
        self.order = ReadingOrder()
        self.outcomes: dict[Outcome, int] = dict.fromkeys(OUTCOMES, 0)
        # Per building (or the area, for unknown buildings): bounded by the registry's buildings.
        self.unknown: dict[str, UnknownDevices] = {}
        self.unregistered: set[Key] = set()  # tracked with accept_unregistered, at most max_unregistered

    def owns(self, building: str) -> bool:
        return not self.buildings or building in self.buildings

    def admit(self, message: Reading | Availability, now: dt.datetime, retained: bool) -> Outcome:
        """`accepted` (evaluate it), or why not. `unregistered` has been counted in `unknown`."""
        key = (message.building, message.kind, message.device)
        if not self.owns(key[0]):
            return "not_owned"
        if self.registry.get(*key) is None and (outcome := self._unregistered(key, now)) != "accepted":
            return outcome
        if isinstance(message, Reading):
            now_ms = int(now.timestamp() * 1000)
            # A reading without `ts` is stamped on arrival: for a retained one that time is the
            # subscription's, not the reading's, which may be days old.
            if retained and (message.ts_ms == now_ms or now_ms - message.ts_ms > self.retained_max_age_ms):
                return "retained"
            if not self.order.accept(key, message.ts_ms, now_ms):
                return "stale"
        return "accepted"

    def admit_building(self, building: str, now: dt.datetime) -> Outcome:
        """Whether a building's own availability is taken: a registered building's; another's
        counts as an unknown device of the area (or, with `accept_unregistered`, is taken within
        the same bound as unregistered devices)."""
        if building in self.registry.buildings:
            return "accepted"
        return self._unregistered((building, "building", building), now)

    def _unregistered(self, key: Key, now: dt.datetime) -> Outcome:
        if not self.accept_unregistered:
            self.see_unknown(key, now)
            return "unregistered"
        if key not in self.unregistered:
            if len(self.unregistered) >= self.max_unregistered:
                return "over_limit"
            self.unregistered.add(key)
        return "accepted"

    def unknown_building(self, building: str) -> str:
        """The building whose `unknown-devices` alert counts a device of `building`: itself, or
        the registry's area for a building that is not in the registry."""
        return building if building in self.registry.buildings else self.registry.area

    def see_unknown(self, key: Key, now: dt.datetime) -> str:
        """Count a device outside the registry; returns `unknown_building` of it."""
        building = self.unknown_building(key[0])
        bucket = self.unknown.get(building)
        if bucket is None:
            bucket = self.unknown[building] = UnknownDevices()
        bucket.see(key, now.timestamp())
        return building
