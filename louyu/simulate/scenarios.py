"""Named scenarios: events injected on top of the normal day, to drive the alert rules.

Each scenario is a pure function of the real seconds elapsed since the simulator started:
`apply(elapsed_s, effect)` adds what it does at that moment to an `Effect`, which the traffic
engine (`traffic.py`) turns into messages. Timelines are in real seconds, not simulated ones,
because the rules measure durations on message times, and an accelerated run sends the real
time of sending (see `clock.payload_ts`).

| name | what it publishes | rules it drives |
|---|---|---|
| `aed-cabinet-open` | `cabinet_open: true`; 45 s later `state: in_use`; 8 min later closed and `ready` | aed-cabinet-open, aed-in-use |
| `sensor-outage` | an AED and 12 space sensors fall silent, availability `offline`; back after 20 min | aed-offline, device-offline |
| `garage-full` | cars fill the garage to 97 % within a minute, for 5 minutes, then leave | parking-lot-full |
| `lunch-rush` | the canteen fills to 95 % within 90 s, for 8 minutes, then empties to its normal level | canteen-crowded |
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Final

from collector.models import DeviceKey
from collector.registry import DeviceInfo, Registry
from louyu.simulate.errors import SimulateError, UnknownScenarioError


@dataclass(frozen=True, slots=True)
class AedOverride:
    state: str
    cabinet_open: bool


@dataclass(slots=True)
class Effect:
    """What the active scenarios do at one moment; empty means the plain day."""

    lot_fill: dict[str, tuple[float, float]] = field(default_factory=dict)  # lot -> (fill, target ratio)
    canteen_fill: dict[str, tuple[float, float]] = field(default_factory=dict)
    aed: dict[str, AedOverride] = field(default_factory=dict)
    silenced: set[DeviceKey] = field(default_factory=set)


def _ramp(elapsed: float, up_s: float, hold_s: float, down_s: float) -> float | None:
    """0 -> 1 over `up_s`, 1 for `hold_s`, 1 -> 0 over `down_s`; None outside."""
    if elapsed < 0 or elapsed >= up_s + hold_s + down_s:
        return None
    if elapsed < up_s:
        return elapsed / up_s if up_s else 1.0
    if elapsed < up_s + hold_s:
        return 1.0
    return 1.0 - (elapsed - up_s - hold_s) / down_s if down_s else 0.0


class Scenario(ABC):
    name: ClassVar[str]

    def __init__(self, at_s: float = 0.0) -> None:
        self.at_s = at_s

    @property
    @abstractmethod
    def length_s(self) -> float:
        """How long the scenario lasts once it has begun."""

    @abstractmethod
    def _apply(self, elapsed_s: float, effect: Effect) -> None: ...

    def apply(self, elapsed_s: float, effect: Effect) -> bool:
        """Add this scenario's doing at `elapsed_s` (since the simulator started); True if active."""
        since = elapsed_s - self.at_s
        if since < 0 or since >= self.length_s:
            return False
        self._apply(since, effect)
        return True

    def finished(self, elapsed_s: float) -> bool:
        return elapsed_s >= self.at_s + self.length_s

    def __repr__(self) -> str:
        return f"{self.name}@{self.at_s:g}s"


class AedCabinetOpen(Scenario):
    """Someone opens an AED cabinet, takes the AED to a patient, and it is returned later."""

    name = "aed-cabinet-open"

    STEPS: ClassVar[tuple[str, ...]] = ("ready", "in_use")  # the cabinet open throughout

    def __init__(self, device: str, at_s: float = 0.0, open_s: float = 45.0, in_use_s: float = 480.0) -> None:
        super().__init__(at_s)
        self.device, self.open_s, self.in_use_s = device, open_s, in_use_s
        self._shown = -1  # the last step applied to a tick

    @property
    def length_s(self) -> float:
        return self.open_s + self.in_use_s

    def apply(self, elapsed_s: float, effect: Effect) -> bool:
        # Each step lasts at least one tick, even when a slow tick (a loaded machine, a short
        # scaled scenario) jumps past it: the cabinet is seen opening, then in use, then closed,
        # never straight from closed to in use, or from opened to closed.
        since = elapsed_s - self.at_s
        if since < 0 or (since >= self.length_s and self._shown == len(self.STEPS) - 1):
            return False
        self._apply(since, effect)
        return True

    def _apply(self, since: float, effect: Effect) -> None:
        due = 0 if since < self.open_s else 1
        self._shown = min(due, self._shown + 1)
        effect.aed[self.device] = AedOverride(self.STEPS[self._shown], True)


class SensorOutage(Scenario):
    """A gateway fails: its devices fall silent and say `offline`, until it is back."""

    name = "sensor-outage"

    def __init__(self, devices: Sequence[DeviceKey], at_s: float = 0.0, outage_s: float = 1200.0) -> None:
        super().__init__(at_s)
        self.devices, self.outage_s = tuple(devices), outage_s

    @property
    def length_s(self) -> float:
        return self.outage_s

    def _apply(self, since: float, effect: Effect) -> None:
        effect.silenced.update(self.devices)


class _Ramp(Scenario):
    """Drives a load to `target` over `fill_s`, holds it for `hold_s`, lets it go over `leave_s`."""

    def __init__(self, at_s: float, target: float, fill_s: float, hold_s: float, leave_s: float) -> None:
        super().__init__(at_s)
        self.target = target
        self.fill_s, self.hold_s, self.leave_s = fill_s, hold_s, leave_s

    @property
    def length_s(self) -> float:
        return self.fill_s + self.hold_s + self.leave_s

    def _fill(self, since: float) -> float | None:
        return _ramp(since, self.fill_s, self.hold_s, self.leave_s)


class GarageFull(_Ramp):
    """An event in the area: cars pour in until the garage is nearly full, then leave."""

    name = "garage-full"

    def __init__(
        self,
        lot: str,
        at_s: float = 0.0,
        target: float = 0.97,
        fill_s: float = 60.0,
        hold_s: float = 300.0,
        leave_s: float = 60.0,
    ) -> None:
        super().__init__(at_s, target, fill_s, hold_s, leave_s)
        self.lot = lot

    def _apply(self, since: float, effect: Effect) -> None:
        fill = self._fill(since)
        if fill is not None:
            effect.lot_fill[self.lot] = (fill, self.target)


class LunchRush(_Ramp):
    """A rainy day or a company event: the canteen fills far beyond its usual lunch."""

    name = "lunch-rush"

    def __init__(
        self,
        canteen: str,
        at_s: float = 0.0,
        target: float = 0.95,
        fill_s: float = 90.0,
        hold_s: float = 480.0,
        leave_s: float = 180.0,
    ) -> None:
        super().__init__(at_s, target, fill_s, hold_s, leave_s)
        self.canteen = canteen

    def _apply(self, since: float, effect: Effect) -> None:
        fill = self._fill(since)
        if fill is not None:
            effect.canteen_fill[self.canteen] = (fill, self.target)


SCENARIOS: Final[dict[str, type[Scenario]]] = {
    s.name: s for s in (AedCabinetOpen, SensorOutage, GarageFull, LunchRush)
}
SCENARIO_NAMES: Final = tuple(SCENARIOS)


def _pick(devices: list[DeviceInfo], preferred: str, what: str) -> DeviceInfo:
    if not devices:
        raise SimulateError(f"the registry has no {what} for this scenario")
    return next((d for d in devices if d.device == preferred), devices[0])


# How long the lunch rush holds the canteen full, before `scale` (louyu up --demo fits it to lunch).
LUNCH_RUSH_HOLD_S: Final = 480.0


def build_scenario(name: str, registry: Registry, at_s: float = 0.0, scale: float = 1.0) -> Scenario:
    """A scenario by name, aimed at the registry's devices; `scale` shortens or stretches its timeline."""
    if name not in SCENARIOS:
        raise UnknownScenarioError(name, SCENARIO_NAMES)
    if name == "aed-cabinet-open":
        aed = _pick(registry.devices("aed"), "aed-b-1f-lobby", "AED")
        return AedCabinetOpen(aed.device, at_s, 45.0 * scale, 480.0 * scale)
    if name == "garage-full":
        lots = sorted(registry.devices("parking_lot"), key=lambda d: -(d.capacity or 0))
        if not registry.devices("parking_space"):
            raise SimulateError("the registry has no parking space for garage-full")
        lot = _pick(lots, "garage", "parking lot")
        return GarageFull(lot.device, at_s, 0.97, 60.0 * scale, 300.0 * scale, 60.0 * scale)
    if name == "lunch-rush":
        canteens = sorted(registry.devices("canteen"), key=lambda d: -(d.capacity or 0))
        canteen = _pick(canteens, "main-hall", "canteen")
        return LunchRush(canteen.device, at_s, 0.95, 90.0 * scale, LUNCH_RUSH_HOLD_S * scale, 180.0 * scale)
    # sensor-outage: one AED and the last twelve space sensors, as if their gateway had failed.
    devices = [d.key for d in registry.devices("aed")[-1:]]
    devices += [d.key for d in registry.devices("parking_space")[-12:]]
    if not devices:
        raise SimulateError("the registry has no device for sensor-outage")
    return SensorOutage(devices, at_s, 1200.0 * scale)


def parse_scenario_spec(spec: str) -> tuple[str, str | None]:
    """`garage-full` or `garage-full@10m`: the name and the offset text, if any."""
    name, _, at = spec.partition("@")
    return name.strip(), (at.strip() or None)
