"""The site as data: per building, its parking sites, their levels and the spaces in each, from
the registry's containment (`part_of` on a level, `lot` on a space; docs/registry.md).

Pure and cheap (one pass over the registry); the registry's loader has already refused anything
inconsistent, so every reference here resolves.
"""

from __future__ import annotations

from dataclasses import dataclass

from collector.registry import BuildingInfo, DeviceInfo, Registry


@dataclass(frozen=True, slots=True)
class Level:
    """A lot counted inside a site (a garage level), with the spaces registered in it."""

    lot: DeviceInfo
    spaces: tuple[DeviceInfo, ...]


@dataclass(frozen=True, slots=True)
class Site:
    """A lot that is part of no other: a garage or a surface lot, with its levels, and the spaces
    registered in the site itself (in none of its levels)."""

    lot: DeviceInfo
    levels: tuple[Level, ...]
    spaces: tuple[DeviceInfo, ...]

    def all_spaces(self) -> tuple[DeviceInfo, ...]:
        return self.spaces + tuple(s for level in self.levels for s in level.spaces)


@dataclass(frozen=True, slots=True)
class BuildingLayout:
    building: BuildingInfo
    sites: tuple[Site, ...]
    spaces: tuple[DeviceInfo, ...]  # parking spaces in no lot: directly in the building
    aeds: tuple[DeviceInfo, ...]
    canteens: tuple[DeviceInfo, ...]

    @property
    def has_parking(self) -> bool:
        return bool(self.sites or self.spaces)


def building_layout(registry: Registry, building: BuildingInfo) -> BuildingLayout:
    devices = registry.devices(building=building.id)
    lots = [d for d in devices if d.kind == "parking_lot"]
    spaces = [d for d in devices if d.kind == "parking_space"]
    in_lot: dict[str | None, list[DeviceInfo]] = {}
    for space in spaces:
        in_lot.setdefault(space.lot, []).append(space)
    sites = tuple(
        Site(
            site,
            tuple(
                Level(level, tuple(in_lot.get(level.device, ())))
                for level in lots
                if level.part_of == site.device
            ),
            tuple(in_lot.get(site.device, ())),
        )
        for site in lots
        if site.part_of is None
    )
    return BuildingLayout(
        building,
        sites,
        tuple(in_lot.get(None, ())),
        tuple(d for d in devices if d.kind == "aed"),
        tuple(d for d in devices if d.kind == "canteen"),
    )


def layout(registry: Registry) -> list[BuildingLayout]:
    """Every building of the registry, in registry order."""
    return [building_layout(registry, b) for b in registry.buildings.values()]
