"""The building summary: one pure function from (registry, latest device states, now) to what
every output reports about the buildings: free parking per site, per level and per building, AED
readiness, canteen load, each with the age of the readings it rests on.

`/api/v1/buildings`, `/api/v1/board`, the city status snapshot and the NGSI-LD entities are all
views of this value, so they give the same numbers for the same readings.

The rules (docs/registry.md, "The building summary"):

- A figure rests on readings. It is `fresh` when every one of them is (collector/latest.py's
  `freshness`: within its kind's silence window, not offline), `unknown` when one was never
  received, `stale` otherwise. Only a fresh figure has values; the others keep the time of the
  oldest reading they rest on, so that their age can be shown.
- A lot's free count is its own counter when fresh: capacity (reported, else registered) minus
  occupied, never below 0. Else it is made of its parts: a site's levels (and the spaces in the
  site but in no level), a level's spaces; a set of space sensors counts when every sensor is fresh.
- A building's free count is the sum over its sites and over the spaces in no lot: a level is only
  ever counted through its site, so a garage and its levels are never added together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from collector.latest import DeviceState, Freshness, freshness
from collector.models import DeviceKey, FieldValue
from collector.registry import BuildingInfo, DeviceInfo, Registry
from collector.site import BuildingLayout, Level, Site, layout

Source = Literal["counter", "sensors", "parts", "none"]


@dataclass(frozen=True, slots=True)
class Count:
    """Free parking in one place (a level, a site, a building's loose spaces, a building)."""

    capacity: int | None  # the spaces this figure covers
    free: int | None  # None unless fresh
    occupied: int | None  # None unless fresh
    source: Source  # where the figure comes from: the place's own counter, its sensors, its parts
    freshness: Freshness
    observed_ms: int | None  # the oldest reading the figure rests on
    age_s: float | None

    @property
    def known(self) -> bool:
        return self.freshness == "fresh" and self.free is not None


@dataclass(frozen=True, slots=True)
class SpaceTally:
    """Space sensors of a place: each fresh one says free or occupied; the rest are unknown."""

    total: int
    free: int
    occupied: int
    unknown: int


@dataclass(frozen=True, slots=True)
class LevelSummary:
    lot: DeviceInfo
    count: Count
    counter: Count  # the level's own counter, whatever `count` came from
    spaces: SpaceTally


@dataclass(frozen=True, slots=True)
class SiteSummary:
    lot: DeviceInfo
    count: Count
    counter: Count
    levels: tuple[LevelSummary, ...]
    spaces: SpaceTally  # every space of the site, its levels' included


@dataclass(frozen=True, slots=True)
class ParkingSummary:
    count: Count  # the building's free parking
    sites: tuple[SiteSummary, ...]
    loose: Count | None  # the spaces in no lot, counted by their sensors; None when there are none
    spaces: SpaceTally  # every registered space of the building


@dataclass(frozen=True, slots=True)
class AedStatus:
    info: DeviceInfo
    state: str | None
    cabinet_open: bool | None
    battery_pct: float | None
    ready: bool  # fresh, `state: ready`, cabinet not reported open
    freshness: Freshness
    observed_ms: int | None
    age_s: float | None


@dataclass(frozen=True, slots=True)
class AedReadiness:
    total: int
    ready: int
    devices: tuple[AedStatus, ...]
    observed_ms: int | None  # the oldest reading among them
    age_s: float | None

    @property
    def not_ready(self) -> list[str]:
        return [a.info.device for a in self.devices if not a.ready]


@dataclass(frozen=True, slots=True)
class CanteenLoad:
    info: DeviceInfo
    capacity: int | None
    occupancy: int | None  # None unless fresh
    load: float | None  # occupancy / capacity, rounded to 3 places; None unless fresh
    queue_length: int | None
    freshness: Freshness
    observed_ms: int | None
    age_s: float | None


@dataclass(frozen=True, slots=True)
class BuildingSummary:
    building: BuildingInfo
    parking: ParkingSummary | None  # None: the building has no parking registered
    aed: AedReadiness | None
    canteens: tuple[CanteenLoad, ...]


@dataclass(frozen=True, slots=True)
class AreaSummary:
    area: str
    area_name: str | None
    timezone: str
    now_ms: int
    buildings: tuple[BuildingSummary, ...]

    def building(self, building: str) -> BuildingSummary | None:
        return next((b for b in self.buildings if b.building.id == building), None)


def summarize(registry: Registry, latest: Mapping[DeviceKey, DeviceState], now_ms: int) -> AreaSummary:
    return AreaSummary(
        registry.area,
        registry.area_name,
        registry.timezone,
        now_ms,
        tuple(_building(place, latest, now_ms) for place in layout(registry)),
    )


# ---------------------------------------------------------------------------------------------


def _int(value: FieldValue | None) -> int | None:
    # bool is an int in Python; a boolean here is a malformed reading, not a count.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _age(observed_ms: int | None, now_ms: int) -> float | None:
    return None if observed_ms is None else max(0.0, (now_ms - observed_ms) / 1000)


def worst(values: Iterable[Freshness]) -> Freshness:
    found = set(values)
    return "unknown" if "unknown" in found else "stale" if "stale" in found else "fresh"


def _oldest(values: Iterable[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _building(place: BuildingLayout, latest: Mapping[DeviceKey, DeviceState], now_ms: int) -> BuildingSummary:
    aeds = tuple(_aed(info, latest.get(info.key), now_ms) for info in place.aeds)
    return BuildingSummary(
        place.building,
        _parking(place, latest, now_ms) if place.has_parking else None,
        AedReadiness(
            len(aeds),
            sum(1 for a in aeds if a.ready),
            aeds,
            _oldest(a.observed_ms for a in aeds),
            _age(_oldest(a.observed_ms for a in aeds), now_ms),
        )
        if aeds
        else None,
        tuple(_canteen(info, latest.get(info.key), now_ms) for info in place.canteens),
    )


def _parking(place: BuildingLayout, latest: Mapping[DeviceKey, DeviceState], now_ms: int) -> ParkingSummary:
    sites = tuple(_site(site, latest, now_ms) for site in place.sites)
    loose = _sensors(place.spaces, latest, now_ms) if place.spaces else None
    parts = [s.count for s in sites] + ([loose] if loose is not None else [])
    every_space = [s for site in place.sites for s in site.all_spaces()] + list(place.spaces)
    count = parts[0] if len(parts) == 1 else _combine(parts, now_ms)
    return ParkingSummary(count, sites, loose, _tally(every_space, latest, now_ms))


def _site(site: Site, latest: Mapping[DeviceKey, DeviceState], now_ms: int) -> SiteSummary:
    counter = _counter(site.lot, latest.get(site.lot.key), now_ms)
    levels = tuple(_level(level, latest, now_ms) for level in site.levels)
    count = counter
    if not counter.known and (levels or site.spaces):
        parts = [level.count for level in levels]
        if site.spaces:
            parts.append(_sensors(site.spaces, latest, now_ms))
        # A site of sensors only is counted by them; one with levels by the sum of its parts.
        combined = parts[0] if not levels else _combine(parts, now_ms)
        if combined.known or counter.freshness == "unknown":
            count = combined
    return SiteSummary(site.lot, count, counter, levels, _tally(site.all_spaces(), latest, now_ms))


def _level(level: Level, latest: Mapping[DeviceKey, DeviceState], now_ms: int) -> LevelSummary:
    counter = _counter(level.lot, latest.get(level.lot.key), now_ms)
    count = counter
    if not counter.known and level.spaces:
        sensors = _sensors(level.spaces, latest, now_ms)
        if sensors.known or counter.freshness == "unknown":
            count = sensors
    return LevelSummary(level.lot, count, counter, _tally(level.spaces, latest, now_ms))


def _counter(info: DeviceInfo, state: DeviceState | None, now_ms: int) -> Count:
    fields = state.fields if state is not None else {}
    capacity = _int(fields.get("capacity")) or info.capacity
    occupied = _int(fields.get("occupied"))
    fresh = freshness(state, now_ms)
    observed = state.reading_ts_ms if state is not None else None
    if fresh == "fresh" and (occupied is None or capacity is None):
        fresh = "unknown"  # heard, but not enough to count (no occupied, or no capacity anywhere)
    if fresh != "fresh" or occupied is None or capacity is None:
        return Count(capacity, None, None, "counter", fresh, observed, _age(observed, now_ms))
    taken = min(occupied, capacity)
    return Count(capacity, capacity - taken, taken, "counter", fresh, observed, _age(observed, now_ms))


def _sensors(spaces: Sequence[DeviceInfo], latest: Mapping[DeviceKey, DeviceState], now_ms: int) -> Count:
    states = [latest.get(space.key) for space in spaces]
    fresh = worst(freshness(s, now_ms) for s in states)
    observed = _oldest(s.reading_ts_ms for s in states if s is not None)
    if fresh != "fresh":
        return Count(len(spaces), None, None, "sensors", fresh, observed, _age(observed, now_ms))
    free = sum(1 for s in states if s is not None and s.fields.get("occupied") is False)
    return Count(len(spaces), free, len(spaces) - free, "sensors", fresh, observed, _age(observed, now_ms))


def _combine(parts: Sequence[Count], now_ms: int) -> Count:
    if not parts:
        return Count(None, None, None, "none", "unknown", None, None)
    capacities = [p.capacity for p in parts]
    capacity = None if any(c is None for c in capacities) else sum(c for c in capacities if c is not None)
    fresh = worst(p.freshness for p in parts)
    observed = _oldest(p.observed_ms for p in parts)
    if fresh != "fresh":
        return Count(capacity, None, None, "parts", fresh, observed, _age(observed, now_ms))
    free = sum(p.free or 0 for p in parts)
    occupied = sum(p.occupied or 0 for p in parts)
    return Count(capacity, free, occupied, "parts", fresh, observed, _age(observed, now_ms))


def _tally(spaces: Sequence[DeviceInfo], latest: Mapping[DeviceKey, DeviceState], now_ms: int) -> SpaceTally:
    free = occupied = 0
    for space in spaces:
        state = latest.get(space.key)
        if state is None or freshness(state, now_ms) != "fresh":
            continue
        value = state.fields.get("occupied")
        if value is True:
            occupied += 1
        elif value is False:
            free += 1
    return SpaceTally(len(spaces), free, occupied, len(spaces) - free - occupied)


def _aed(info: DeviceInfo, state: DeviceState | None, now_ms: int) -> AedStatus:
    fields = state.fields if state is not None else {}
    fresh = freshness(state, now_ms)
    kind = fields.get("state")
    cabinet = fields.get("cabinet_open")
    battery = fields.get("battery_pct")
    observed = state.reading_ts_ms if state is not None else None
    return AedStatus(
        info,
        kind if isinstance(kind, str) else None,
        cabinet if isinstance(cabinet, bool) else None,
        float(battery) if isinstance(battery, int | float) and not isinstance(battery, bool) else None,
        fresh == "fresh" and kind == "ready" and cabinet is not True,
        fresh,
        observed,
        _age(observed, now_ms),
    )


def _canteen(info: DeviceInfo, state: DeviceState | None, now_ms: int) -> CanteenLoad:
    fields = state.fields if state is not None else {}
    capacity = _int(fields.get("capacity")) or info.capacity
    fresh = freshness(state, now_ms)
    occupancy = _int(fields.get("occupancy")) if fresh == "fresh" else None
    observed = state.reading_ts_ms if state is not None else None
    return CanteenLoad(
        info,
        capacity,
        occupancy,
        round(occupancy / capacity, 3) if occupancy is not None and capacity else None,
        _int(fields.get("queue_length")) if fresh == "fresh" else None,
        fresh,
        observed,
        _age(observed, now_ms),
    )
