"""What every section builder is given: the period, the scope and where the figures live.

A report kind is a list of section builders (`api/reports/kinds.py`); each builder takes one
`ReportContext` and returns its sections. Builders read InfluxDB through `influx` (InfluxQL,
aggregated there) and the alert store's database through `engine`; they never render.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from api.influx import InfluxQueryClient
from api.reports.model import Period, Scope, Section
from collector.dead_letters import DeadLetters
from collector.registry import DeviceInfo, Registry
from rules.config import RuleSet


@dataclass(frozen=True, slots=True)
class ReportContext:
    period: Period
    scope: Scope
    registry: Registry
    rules: RuleSet
    engine: Engine  # the alert store's database (alerts, events, silences, deliveries)
    influx: InfluxQueryClient | None  # None: the sections that need InfluxDB say so
    now: dt.datetime
    # The collector's rejected messages (data quality); None where this process cannot read them.
    dead_letters: DeadLetters | None = None

    def buildings(self) -> list[str]:
        """The buildings in scope, in registry order."""
        if self.scope.building is not None:
            return [self.scope.building]
        return list(self.registry.buildings)

    def devices(self, kind: str) -> list[DeviceInfo]:
        return [d for d in self.registry.devices(kind) if self.in_scope(d.building)]

    def in_scope(self, building: str) -> bool:
        return self.scope.building is None or building == self.scope.building

    def building_name(self, building: str, lang: str = "en") -> str:
        info = self.registry.buildings.get(building)
        if info is None:
            return building
        return (info.name_en or info.name) if lang == "en" else info.name


SectionBuilder = Callable[[ReportContext], Awaitable[list[Section]]]
