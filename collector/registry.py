"""The registry: which buildings and devices exist, where they are, and their capacities.

Loaded from a YAML file. A `group` entry expands into many numbered devices, so that
600 parking spaces take three lines rather than 600.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from collector.models import DeviceKey

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
KindName = Literal["parking_space", "parking_lot", "aed", "canteen"]
# Tag values go into line protocol and InfluxQL; keep them to printable text without newlines.
TagText = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\n\r\t\\\"']+$")]


class RegistryError(Exception):
    def __init__(self, path: Path | str, problem: str) -> None:
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
    gateway: Name | None = None


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
    devices: list[_DeviceSpec] = Field(default_factory=list)
    groups: list[_GroupSpec] = Field(default_factory=list)


class _RegistrySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    area: str
    area_name: str | None = None
    timezone: str = "Asia/Shanghai"
    buildings: list[_BuildingSpec]

    @model_validator(mode="after")
    def _unique_buildings(self) -> _RegistrySpec:
        seen: set[str] = set()
        for building in self.buildings:
            if building.id in seen:
                raise ValueError(f"building {building.id!r} is listed twice")
            seen.add(building.id)
        return self


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
    lot: str | None = None
    gateway: str | None = None

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


@dataclass(slots=True)
class Registry:
    area: str
    area_name: str | None
    timezone: str
    buildings: dict[str, BuildingInfo]
    _devices: dict[tuple[str, str, str], DeviceInfo] = field(default_factory=dict)

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
        try:
            raw: Any = yaml.safe_load(text)
            spec = _RegistrySpec.model_validate(raw)
        except yaml.YAMLError as error:
            raise RegistryError(where, f"not valid YAML: {error}") from error
        except ValidationError as error:
            first = error.errors(include_url=False)[0]
            loc = ".".join(str(p) for p in first["loc"])
            raise RegistryError(where, f"{loc}: {first['msg']}") from error
        registry = cls(
            area=spec.area,
            area_name=spec.area_name,
            timezone=spec.timezone,
            buildings={b.id: BuildingInfo(b.id, b.name, b.name_en, b.address) for b in spec.buildings},
        )
        for building in spec.buildings:
            for dev in building.devices:
                registry._add(
                    DeviceInfo(
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
                    ),
                    where,
                )
            for group in building.groups:
                for n in range(group.start, group.start + group.count):
                    registry._add(
                        DeviceInfo(
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
                        ),
                        where,
                    )
        return registry

    def _add(self, info: DeviceInfo, where: Path | str) -> None:
        key = (info.building, info.kind, info.device)
        if key in self._devices:
            raise RegistryError(where, f"device {info.building}/{info.kind}/{info.device} is listed twice")
        self._devices[key] = info

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
        return [
            d
            for d in self._devices.values()
            if (kind is None or d.kind == kind) and (building is None or d.building == building)
        ]

    def tags(self, building: str, kind: str, device: str) -> dict[str, str]:
        info = self._devices.get((building, kind, device))
        return info.tags() if info else {}

    def capacity(self, building: str, kind: str, device: str) -> int | None:
        info = self._devices.get((building, kind, device))
        return info.capacity if info else None
