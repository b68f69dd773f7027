"""The registry: which buildings and devices exist, where they are, their capacities, and what
contains what.

Loaded from a YAML file. A `group` entry expands into many numbered devices, so that
600 parking spaces take three lines rather than 600.

Containment (docs/registry.md): a parking lot without `part_of` is a *site* (a garage, a surface
lot); a lot with `part_of: SITE` is a *level* of that site. A parking space names its lot (a level
or a site) with `lot`, or names none and belongs directly to its building. Loading checks all of it
and names every inconsistency with its line; `collector/site.py` turns the result into the layout
the building summary walks.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import time
from importlib import resources
from pathlib import Path
from typing import Annotated, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError

from collector.geometry import MAX_COORDINATE_M, Point, Ring, contains, overlap, ring_problems
from collector.models import DeviceKey
from collector.yaml_text import compose_and_load

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
KindName = Literal["parking_space", "parking_lot", "aed", "canteen"]
# Tag values go into line protocol and InfluxQL; keep them to printable text without newlines.
TagText = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\n\r\t\\\"']+$")]
# A canteen's meal service, local time, "HH:MM-HH:MM" (end not included).
ServiceWindow = Annotated[
    str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")
]
ServiceHours = tuple[tuple[time, time], ...]
# The site plan's frame (collector/geometry.py): metres, x east, y north, finite and within 100 km.
Coordinate = Annotated[float, Strict(), Field(allow_inf_nan=False, ge=-MAX_COORDINATE_M, le=MAX_COORDINATE_M)]
PointSpec = tuple[Coordinate, Coordinate]
# A canteen without `service_hours` serves breakfast, lunch and dinner at these times (the Darong
# staff canteen's). Outside service the hall is closed, and the board never advises going then.
DEFAULT_SERVICE_HOURS: Final[ServiceHours] = (
    (time(7, 30), time(9, 0)),
    (time(11, 0), time(13, 30)),
    (time(17, 0), time(19, 0)),
)


def _service_hours(windows: list[str] | None) -> ServiceHours | None:
    if windows is None:
        return None
    hours = []
    for window in windows:
        start, end = (time.fromisoformat(part) for part in window.split("-"))
        hours.append((start, end))
    return tuple(sorted(hours))


class RegistryError(Exception):
    """A registry that cannot be used; `problems` lists each inconsistency, most with its line."""

    def __init__(self, path: Path | str, problem: str, *more: str) -> None:
        self.path = path
        self.problems = [problem, *more]
        if more:
            listed = "\n".join(f"  {p}" for p in self.problems)
            super().__init__(f"registry {path}: {len(self.problems)} problems:\n{listed}")
        else:
            super().__init__(f"registry {path}: {problem}")


class _DeviceSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: KindName
    id: Name
    name: str | None = None
    floor: TagText | None = None
    zone: TagText | None = None
    location: str | None = None
    capacity: int | None = Field(default=None, gt=0)
    lot: Name | None = None
    part_of: Name | None = None
    gateway: Name | None = None
    service_hours: list[ServiceWindow] | None = Field(default=None, min_length=1)
    # On the site plan: where the device is (an AED cabinet, a canteen, a lot's entrance) and a
    # parking lot's footprint.
    position: PointSpec | None = None
    outline: list[PointSpec] | None = None


class _GroupSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: KindName
    prefix: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")
    count: int = Field(gt=0, le=100_000)
    start: int = Field(default=1, ge=0)
    width: int = Field(default=3, ge=1, le=8)
    floor: TagText | None = None
    zone: TagText | None = None
    location: str | None = None
    lot: Name | None = None
    gateway: Name | None = None


class _BuildingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Name
    name: str
    name_en: str | None = None
    address: str | None = None
    outline: list[PointSpec] | None = None  # the footprint on the site plan
    devices: list[_DeviceSpec] = Field(default_factory=list)
    groups: list[_GroupSpec] = Field(default_factory=list)


class _RegistrySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    area: str
    area_name: str | None = None
    timezone: str = "Asia/Shanghai"
    buildings: list[_BuildingSpec]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    building: str
    kind: str
    device: str
    name: str | None = None
    floor: str | None = None
    zone: str | None = None
    location: str | None = None
    capacity: int | None = None
    # A parking space: the lot (level or site) it is in; None: directly in its building.
    lot: str | None = None
    gateway: str | None = None
    # A parking lot: the site it is a level of; None: it is a site.
    part_of: str | None = None
    # A canteen: its meal service; None: DEFAULT_SERVICE_HOURS (see `meal_service`).
    service_hours: ServiceHours | None = None
    # On the site plan (metres, site frame): a point, and a parking lot's footprint.
    position: Point | None = None
    outline: Ring | None = None

    @property
    def meal_service(self) -> ServiceHours:
        """When a canteen serves, local time: its own hours, else the default ones."""
        return self.service_hours if self.service_hours is not None else DEFAULT_SERVICE_HOURS

    @property
    def key(self) -> DeviceKey:
        return DeviceKey(self.building, self.kind, self.device)

    def tags(self) -> dict[str, str]:
        """Registry tags stored with every point of this device."""
        tags: dict[str, str] = {}
        if self.floor:
            tags["floor"] = self.floor
        if self.zone:
            tags["zone"] = self.zone
        return tags


@dataclass(frozen=True, slots=True)
class BuildingInfo:
    id: str
    name: str
    name_en: str | None
    address: str | None
    outline: Ring | None = None  # the footprint on the site plan; None: not drawn


@dataclass(slots=True)
class Registry:
    area: str
    area_name: str | None
    timezone: str
    buildings: dict[str, BuildingInfo]
    _devices: dict[tuple[str, str, str], DeviceInfo] = field(default_factory=dict)
    # The same devices per building, in order: asking for one building's devices must not walk the
    # whole district's (140 buildings x 98,000 devices took 4 s of every part's start).
    _by_building: dict[str, list[DeviceInfo]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Registry:
        return cls(area="none", area_name=None, timezone="UTC", buildings={})

    @classmethod
    def load(cls, path: Path | str | None = None) -> Registry:
        """Load a registry file; None means the shipped Darong example."""
        if path is None:
            text = resources.files("collector.data").joinpath("darong.yaml").read_text("utf-8")
            where: Path | str = "darong.yaml (shipped)"
        else:
            where = Path(path)
            try:
                text = where.read_text("utf-8")
            except OSError as error:
                raise RegistryError(where, f"cannot read: {error.strerror}") from error
        return cls.from_text(text, where)

    @classmethod
    def from_text(cls, text: str, where: Path | str = "<text>") -> Registry:
        """Parse and check a registry; every problem found is in the RegistryError, with its line."""
        try:
            root, raw = compose_and_load(text)
        except yaml.YAMLError as error:
            raise RegistryError(where, f"not valid YAML: {error}") from error
        try:
            spec = _RegistrySpec.model_validate(raw)
        except ValidationError as error:
            raise RegistryError(where, *_schema_problems(root, error)) from error
        registry = cls(
            area=spec.area,
            area_name=spec.area_name,
            timezone=spec.timezone,
            buildings={
                b.id: BuildingInfo(b.id, b.name, b.name_en, b.address, _ring(b.outline))
                for b in spec.buildings
            },
        )
        problems: list[tuple[int, str]] = []
        lines: dict[tuple[str, str, str], int] = {}
        seen_buildings: dict[str, int] = {}
        for b, building in enumerate(spec.buildings):
            line = _line(root, ("buildings", b))
            if building.id in seen_buildings:
                problems.append(
                    (
                        line,
                        f"building {building.id!r} is listed twice (first at line {seen_buildings[building.id]})",
                    )
                )
                continue
            seen_buildings[building.id] = line
            for d, dev in enumerate(building.devices):
                info = DeviceInfo(
                    building.id,
                    dev.kind,
                    dev.id,
                    dev.name,
                    dev.floor,
                    dev.zone,
                    dev.location,
                    dev.capacity,
                    dev.lot,
                    dev.gateway,
                    dev.part_of,
                    _service_hours(dev.service_hours),
                    dev.position,
                    _ring(dev.outline),
                )
                registry._collect(info, _line(root, ("buildings", b, "devices", d)), lines, problems)
            for g, group in enumerate(building.groups):
                line = _line(root, ("buildings", b, "groups", g))
                for n in range(group.start, group.start + group.count):
                    info = DeviceInfo(
                        building.id,
                        group.kind,
                        f"{group.prefix}{n:0{group.width}d}",
                        None,
                        group.floor,
                        group.zone,
                        group.location,
                        None,
                        group.lot,
                        group.gateway,
                    )
                    registry._collect(info, line, lines, problems)
        problems += _containment_problems(registry, lines)
        problems += _plan_problems(spec, root)
        if problems:
            raise RegistryError(where, *_numbered(problems))
        return registry

    def _collect(
        self,
        info: DeviceInfo,
        line: int,
        lines: dict[tuple[str, str, str], int],
        problems: list[tuple[int, str]],
    ) -> None:
        key = (info.building, info.kind, info.device)
        if key in lines:
            problems.append(
                (
                    line,
                    f"device {info.building}/{info.kind}/{info.device} is listed twice (first at line {lines[key]})",
                )
            )
            return
        lines[key] = line
        self._put(key, info)

    def _add(self, info: DeviceInfo, where: Path | str) -> None:
        key = (info.building, info.kind, info.device)
        if key in self._devices:
            raise RegistryError(where, f"device {info.building}/{info.kind}/{info.device} is listed twice")
        self._put(key, info)

    def _put(self, key: tuple[str, str, str], info: DeviceInfo) -> None:
        self._devices[key] = info
        self._by_building.setdefault(info.building, []).append(info)

    def add(self, info: DeviceInfo) -> None:
        self._add(info, "<added>")

    def get(self, building: str, kind: str, device: str) -> DeviceInfo | None:
        return self._devices.get((building, kind, device))

    def __contains__(self, key: DeviceKey) -> bool:
        return (key.building, key.kind, key.device) in self._devices

    def __iter__(self) -> Iterator[DeviceInfo]:
        return iter(self._devices.values())

    def __len__(self) -> int:
        return len(self._devices)

    def devices(self, kind: str | None = None, building: str | None = None) -> list[DeviceInfo]:
        found = self._devices.values() if building is None else self._by_building.get(building, ())
        return [d for d in found if kind is None or d.kind == kind]

    def tags(self, building: str, kind: str, device: str) -> dict[str, str]:
        info = self._devices.get((building, kind, device))
        return info.tags() if info else {}

    def capacity(self, building: str, kind: str, device: str) -> int | None:
        info = self._devices.get((building, kind, device))
        return info.capacity if info else None


def _ring(points: list[tuple[float, float]] | None) -> Ring | None:
    return tuple(points) if points is not None else None


# ---------------------------------------------------------------------------- checks


def _line(root: yaml.Node | None, loc: tuple[int | str, ...]) -> int:
    """The 1-based line of the YAML node at `loc` (keys and list indexes), or of the nearest
    enclosing node that exists."""
    node = root
    line = 1 if root is None else root.start_mark.line + 1
    for step in loc:
        found: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if getattr(k, "value", None) == step), None)
            if found is None:
                # A key that is there but wrong: point at the key itself.
                found = next((k for k, _ in node.value if getattr(k, "value", None) == step), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(step, int) and step < len(node.value):
            found = node.value[step]
        if found is None:
            break
        node = found
        line = node.start_mark.line + 1
    return line


def _schema_problems(root: yaml.Node | None, error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        where = ".".join(str(p) for p in loc) or "top level"
        problems.append(f"line {_line(root, loc)}: {where}: {item['msg']}")
    return problems


def _numbered(problems: list[tuple[int, str]]) -> list[str]:
    """In line order, and one problem per line and text: a group of 300 spaces in an unknown lot
    is one mistake on one line, not 300."""
    out: list[str] = []
    for line, text in sorted(dict.fromkeys(problems), key=lambda p: p[0]):
        out.append(f"line {line}: {text}")
    return out


def _containment_problems(
    registry: Registry, lines: Mapping[tuple[str, str, str], int]
) -> list[tuple[int, str]]:
    """What contains what, checked per building: spaces in lots that exist, levels in sites, no
    cycle, and no level or set of levels larger than its site."""
    problems: list[tuple[int, str]] = []

    def line_of(info: DeviceInfo) -> int:
        return lines.get((info.building, info.kind, info.device), 0)

    for building in registry.buildings:
        devices = registry.devices(building=building)
        lots = {d.device: d for d in devices if d.kind == "parking_lot"}
        others = {d.device: d.kind for d in devices if d.kind != "parking_lot"}

        def not_a_lot(name: str, others: Mapping[str, str] = others) -> str:
            kind = others.get(name)
            return f"{name!r}, which is {_a(kind)}, not a parking lot" if kind else f"unknown lot {name!r}"

        for d in devices:
            here = f"{d.building}/{d.kind}/{d.device}"
            if d.lot is not None and d.kind == "parking_lot":
                problems.append(
                    (line_of(d), f"{here}: a lot names the site it is a level of with part_of, not lot")
                )
            elif d.lot is not None and d.lot not in lots:
                # Named without the device id, so that a group's devices make one problem. (An AED or
                # a canteen may name a lot too: a tag for the rules, not counted in the parking.)
                what = "parking spaces" if d.kind == "parking_space" else f"{d.kind} devices"
                problems.append((line_of(d), f"{what} of {building} are in {not_a_lot(d.lot)}"))
            if d.part_of is not None and d.kind != "parking_lot":
                problems.append((line_of(d), f"{here}: only a parking lot can be part_of another lot"))
            if d.service_hours is not None:
                if d.kind != "canteen":
                    problems.append((line_of(d), f"{here}: only a canteen has service_hours"))
                for start, end in d.service_hours:
                    if end <= start:
                        problems.append(
                            (
                                line_of(d),
                                f"{here}: service_hours {start:%H:%M}-{end:%H:%M} ends before it starts",
                            )
                        )
        reported_cycles: set[frozenset[str]] = set()
        for lot in lots.values():
            here = f"{lot.building}/parking_lot/{lot.device}"
            if lot.part_of is None:
                continue
            if lot.part_of not in lots:
                problems.append((line_of(lot), f"{here} is part of {not_a_lot(lot.part_of)}"))
                continue
            chain = [lot.device]
            step: str | None = lot.part_of
            while step is not None and step in lots and step not in chain:
                chain.append(step)
                step = lots[step].part_of
            if step == lot.device:
                cycle = frozenset(chain)
                if cycle not in reported_cycles:
                    reported_cycles.add(cycle)
                    problems.append(
                        (
                            line_of(lot),
                            f"lots of {building} form a cycle: {' -> '.join([*chain, lot.device])}",
                        )
                    )
                continue
            site = lots[lot.part_of]
            if site.part_of is not None:
                problems.append(
                    (
                        line_of(lot),
                        f"{here} is part of {site.device!r}, which is itself part of {site.part_of!r}: "
                        "a site holds levels, and a level holds no other lot",
                    )
                )
                continue
            if lot.capacity is not None and site.capacity is not None and lot.capacity > site.capacity:
                problems.append(
                    (
                        line_of(lot),
                        f"{here}: level capacity {lot.capacity} is larger than its site "
                        f"{site.device!r} ({site.capacity})",
                    )
                )
        for site in lots.values():
            if site.part_of is not None or site.capacity is None:
                continue
            levels = [x for x in lots.values() if x.part_of == site.device]
            total = sum(x.capacity or 0 for x in levels)
            if len(levels) > 1 and total > site.capacity:
                problems.append(
                    (
                        line_of(site),
                        f"{site.building}/parking_lot/{site.device}: its levels "
                        f"({', '.join(x.device for x in levels)}) hold {total} spaces, more than its "
                        f"capacity {site.capacity}",
                    )
                )
        for lot in lots.values():
            inside = {lot.device} | {x.device for x in lots.values() if x.part_of == lot.device}
            spaces = sum(1 for d in devices if d.kind == "parking_space" and d.lot in inside)
            if lot.capacity is not None and spaces > lot.capacity:
                problems.append(
                    (
                        line_of(lot),
                        f"{lot.building}/parking_lot/{lot.device} holds {spaces} registered spaces, "
                        f"more than its capacity {lot.capacity}",
                    )
                )
    return problems


def _a(kind: str | None) -> str:
    return {"aed": "an AED", "canteen": "a canteen", "parking_space": "a parking space"}.get(kind or "", "?")


def _plan_problems(spec: _RegistrySpec, root: yaml.Node | None) -> list[tuple[int, str]]:
    """The site plan: every outline a closed simple polygon in metres, buildings that do not
    overlap, an outline only on a building or a parking lot, an AED or a canteen placed inside its
    building."""
    problems: list[tuple[int, str]] = []
    drawn: list[tuple[str, Ring, int]] = []  # the buildings with a usable outline
    for b, building in enumerate(spec.buildings):
        if building.outline is None:
            continue
        line = _line(root, ("buildings", b, "outline"))
        ring = tuple(building.outline)
        found = ring_problems(ring)
        problems += [(line, f"building {building.id}: {text}") for text in found]
        if found:
            continue
        for other, other_ring, other_line in drawn:
            if overlap(ring, other_ring):
                problems.append(
                    (line, f"building {building.id}: its outline overlaps {other}'s (line {other_line})")
                )
        drawn.append((building.id, ring, line))
    usable = {name: ring for name, ring, _ in drawn}
    for b, building in enumerate(spec.buildings):
        for d, dev in enumerate(building.devices):
            here = f"{building.id}/{dev.kind}/{dev.id}"
            if dev.outline is not None:
                line = _line(root, ("buildings", b, "devices", d, "outline"))
                if dev.kind != "parking_lot":
                    problems.append((line, f"{here}: only a building or a parking lot has an outline"))
                else:
                    problems += [(line, f"{here}: {text}") for text in ring_problems(tuple(dev.outline))]
            # An AED or a canteen is in its building (a lot may reach under a plaza, a space out of it).
            home = usable.get(building.id)
            if (
                dev.position is not None
                and dev.kind in ("aed", "canteen")
                and home is not None
                and not contains(home, dev.position)
            ):
                problems.append(
                    (
                        _line(root, ("buildings", b, "devices", d, "position")),
                        f"{here}: position [{dev.position[0]:g}, {dev.position[1]:g}] is outside "
                        f"its building's outline",
                    )
                )
    return problems
