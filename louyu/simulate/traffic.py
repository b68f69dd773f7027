"""The traffic engine: what to publish at each moment of a simulated day.

`Traffic.step(sim_ms, real_ms, elapsed_s)` compares the area model's readings (plus the
active scenarios) with what was last published and returns the messages due: a change (a car
arrives, a cabinet opens), a heartbeat, a self-test result, an availability change. No I/O
and no clock of its own, so tests drive it through a day in a loop.

Heartbeats are due after a simulated interval, but never more often than a real floor (an
accelerated run would otherwise flood the broker) nor less often than a real ceiling (so the
rules' silence timers, which run on message times, never fire for a working device).
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from collector.cadence import HEARTBEAT_MS
from collector.models import DeviceKey
from collector.registry import DeviceInfo
from louyu.simulate.aed import AedReading
from louyu.simulate.canteen import CanteenReading
from louyu.simulate.clock import local_date, payload_ts
from louyu.simulate.model import (
    AreaModel,
    aed_payload,
    availability_topic,
    canteen_payload,
    lot_payload,
    space_payload,
    topic,
)
from louyu.simulate.parking import LotCounts
from louyu.simulate.scenarios import Effect, Scenario

_S: Final = 1000


@dataclass(frozen=True, slots=True)
class Outgoing:
    topic: str
    payload: bytes
    retain: bool = False
    availability: bool = False


@dataclass(frozen=True, slots=True)
class Cadence:
    every_sim_ms: int
    floor_real_ms: int
    ceiling_real_ms: int


# Each kind beats at its heartbeat (collector/cadence.py, the one owner, which the data-quality
# report also counts by). Ceilings stay well inside the 15-minute (AED) and 30-minute silences.
SPACE_CADENCE: Final = Cadence(HEARTBEAT_MS["parking_space"], 60 * _S, HEARTBEAT_MS["parking_space"])
LOT_CADENCE: Final = Cadence(HEARTBEAT_MS["parking_lot"], 10 * _S, HEARTBEAT_MS["parking_lot"])
AED_CADENCE: Final = Cadence(HEARTBEAT_MS["aed"], 30 * _S, HEARTBEAT_MS["aed"])
CANTEEN_CADENCE: Final = Cadence(HEARTBEAT_MS["canteen"], 5 * _S, HEARTBEAT_MS["canteen"])


class _Beat:
    __slots__ = ("cadence", "last_real", "last_sim")

    def __init__(self, cadence: Cadence, sim_ms: int, real_ms: int, phase: float) -> None:
        # A phase spreads the heartbeats of many devices over the interval instead of a burst.
        self.cadence = cadence
        self.last_sim = sim_ms - int(phase * cadence.every_sim_ms)
        self.last_real = real_ms - int(phase * cadence.floor_real_ms)

    def due(self, sim_ms: int, real_ms: int) -> bool:
        c = self.cadence
        since_real = real_ms - self.last_real
        return (sim_ms - self.last_sim >= c.every_sim_ms and since_real >= c.floor_real_ms) or (
            since_real >= c.ceiling_real_ms
        )

    def mark(self, sim_ms: int, real_ms: int) -> None:
        self.last_sim, self.last_real = sim_ms, real_ms


class Traffic:
    """Turns the model and the scenarios into the stream of messages a real area would send."""

    def __init__(
        self,
        model: AreaModel,
        speed: float = 1.0,
        scenarios: Sequence[Scenario] = (),
        availability: bool = True,
    ) -> None:
        self.model = model
        self.speed = speed
        self.scenarios = list(scenarios)
        self.availability = availability
        self.spaces = model.spaces
        self.lots = model.lots
        self.aeds = model.aeds
        self.canteens = model.canteens
        self.space_state: list[bool] = []
        self.lot_counts: dict[str, LotCounts] = {}
        self._lots_of_space: list[list[str]] = [[] for _ in self.spaces]
        for lot in self.lots:
            for i in model.parking.members[lot.device]:
                self._lots_of_space[i].append(lot.device)
        self._fill_order: dict[str, list[int]] = {}
        for lot in self.lots:
            order = list(model.parking.members[lot.device])
            random.Random(f"{model.seed}/fill/{lot.device}").shuffle(order)
            self._fill_order[lot.device] = order
        self._beats: dict[DeviceKey, _Beat] = {}
        self._aed_sent: dict[str, tuple[str, bool]] = {}
        self.silenced: set[DeviceKey] = set()
        self.active: list[str] = []
        self._day: dt.date | None = None
        self._last_sim = 0
        self.started = False

    # -- the first moment ---------------------------------------------------------------------

    def begin(self, sim_ms: int, real_ms: int) -> list[Outgoing]:
        """Availability `online` for every device, then every device's current reading."""
        out: list[Outgoing] = []
        if self.availability:
            out += [Outgoing(availability_topic(d), b"online", True, True) for d in self.model.devices()]
        self.space_state = self.model.parking.occupancy(sim_ms)
        for lot in self.lots:
            self.lot_counts[lot.device] = self.model.parking.lot_counts(lot, sim_ms)
        rng = random.Random(f"{self.model.seed}/phase")
        for devices, cadence in (
            (self.spaces, SPACE_CADENCE),
            (self.lots, LOT_CADENCE),
            (self.aeds, AED_CADENCE),
            (self.canteens, CANTEEN_CADENCE),
        ):
            for d in devices:
                self._beats[d.key] = _Beat(cadence, sim_ms, real_ms, rng.random())
        self._day = local_date(sim_ms, self.model.parking.tz)
        self._last_sim = sim_ms
        self.started = True
        ts = payload_ts(sim_ms, real_ms, self.speed)
        for i, space in enumerate(self.spaces):
            out.append(self._space(space, i, ts, sim_ms, heartbeat=True))
        for lot in self.lots:
            out.append(Outgoing(topic(lot), lot_payload(ts, self.lot_counts[lot.device])))
        for aed in self.aeds:
            reading = self.model.aed.at(aed, sim_ms)
            self._aed_sent[aed.device] = (reading.state, reading.cabinet_open)
            out.append(Outgoing(topic(aed), aed_payload(ts, reading)))
        for canteen in self.canteens:
            out.append(Outgoing(topic(canteen), canteen_payload(ts, self.model.canteen(canteen, sim_ms))))
        return out

    # -- every tick ---------------------------------------------------------------------------

    def effect(self, elapsed_s: float) -> Effect:
        effect = Effect()
        self.active = [s.name for s in self.scenarios if s.apply(elapsed_s, effect)]
        return effect

    def scenarios_finished(self, elapsed_s: float) -> bool:
        return all(s.finished(elapsed_s) for s in self.scenarios)

    def step(self, sim_ms: int, real_ms: int, elapsed_s: float) -> list[Outgoing]:
        """Messages due at this moment; call `begin` first."""
        if not self.started:
            return self.begin(sim_ms, real_ms)
        effect = self.effect(elapsed_s)
        ts = payload_ts(sim_ms, real_ms, self.speed)
        out: list[Outgoing] = []
        out += self._availability(effect.silenced, ts, sim_ms, real_ms)
        day = local_date(sim_ms, self.model.parking.tz)
        if day != self._day:  # the lot counters count from local midnight
            self._day = day
            for name, c in self.lot_counts.items():
                self.lot_counts[name] = LotCounts(c.occupied, c.capacity, 0, 0)
        out += self._garage(effect, ts, sim_ms, real_ms)
        out += self._aeds(effect, ts, sim_ms, real_ms)
        out += self._canteens(effect, ts, sim_ms, real_ms)
        self._last_sim = sim_ms
        return out

    def _availability(self, silenced: set[DeviceKey], ts: int, sim_ms: int, real_ms: int) -> list[Outgoing]:
        out: list[Outgoing] = []
        for key in sorted(silenced - self.silenced, key=str):
            out.append(Outgoing(f"louyu/{key}/availability", b"offline", True, True))
        back = sorted(self.silenced - silenced, key=str)
        self.silenced = set(silenced)
        for key in back:
            out.append(Outgoing(f"louyu/{key}/availability", b"online", True, True))
            beat = self._beats.get(key)
            if beat is not None:  # report at once on return
                beat.last_sim, beat.last_real = -(2**62), -(2**62)
        return out

    def _space(self, space: DeviceInfo, i: int, ts: int, sim_ms: int, heartbeat: bool) -> Outgoing:
        battery = self.model.space_battery(i, sim_ms) if heartbeat else None
        return Outgoing(topic(space), space_payload(ts, self.space_state[i], battery))

    def _wanted_spaces(self, effect: Effect, sim_ms: int) -> list[bool]:
        wanted = self.model.parking.occupancy(sim_ms)
        for lot_name, (fill, target) in effect.lot_fill.items():
            lot = next((d for d in self.lots if d.device == lot_name), None)
            if lot is None:
                continue
            members = self.model.parking.members[lot_name]
            goal = math.ceil(target * self.model.parking.capacity(lot))
            gap = max(0, goal - sum(wanted[i] for i in members))
            extra = round(fill * gap)
            for i in self._fill_order[lot_name]:
                if extra <= 0:
                    break
                if not wanted[i]:
                    wanted[i] = True
                    extra -= 1
        return wanted

    def _garage(self, effect: Effect, ts: int, sim_ms: int, real_ms: int) -> list[Outgoing]:
        out: list[Outgoing] = []
        wanted = self._wanted_spaces(effect, sim_ms)
        changed_lots: set[str] = set()
        for i, (now, before) in enumerate(zip(wanted, self.space_state, strict=True)):
            space = self.spaces[i]
            if now != before:
                self.space_state[i] = now
                for lot_name in self._lots_of_space[i]:
                    c = self.lot_counts[lot_name]
                    self.lot_counts[lot_name] = LotCounts(
                        c.occupied + (1 if now else -1),
                        c.capacity,
                        c.entered + (1 if now else 0),
                        c.exited + (0 if now else 1),
                    )
                    changed_lots.add(lot_name)
            beat = self._beats[space.key]
            due = beat.due(sim_ms, real_ms)
            if (now != before or due) and space.key not in self.silenced:
                out.append(self._space(space, i, ts, sim_ms, heartbeat=due))
                beat.mark(sim_ms, real_ms)
        for lot in self.lots:
            beat = self._beats[lot.key]
            if (lot.device in changed_lots or beat.due(sim_ms, real_ms)) and lot.key not in self.silenced:
                out.append(Outgoing(topic(lot), lot_payload(ts, self.lot_counts[lot.device])))
                beat.mark(sim_ms, real_ms)
        return out

    def aed_reading(self, aed: DeviceInfo, effect: Effect, sim_ms: int) -> AedReading:
        reading = self.model.aed.at(aed, sim_ms)
        override = effect.aed.get(aed.device)
        if override is None:
            return reading
        return AedReading(
            override.state, override.cabinet_open, reading.battery_pct, reading.pads_expiry, reading.temp_c
        )

    def _aeds(self, effect: Effect, ts: int, sim_ms: int, real_ms: int) -> list[Outgoing]:
        out: list[Outgoing] = []
        for aed in self.aeds:
            if aed.key in self.silenced:
                continue
            reading = self.aed_reading(aed, effect, sim_ms)
            plan = self.model.aed.day_plan(aed, sim_ms)
            tested = self._last_sim < plan.self_test_ms <= sim_ms
            changed = self._aed_sent.get(aed.device) != (reading.state, reading.cabinet_open)
            beat = self._beats[aed.key]
            if tested or changed or beat.due(sim_ms, real_ms):
                out.append(Outgoing(topic(aed), aed_payload(ts, reading, plan.self_test if tested else None)))
                self._aed_sent[aed.device] = (reading.state, reading.cabinet_open)
                beat.mark(sim_ms, real_ms)
        return out

    def canteen_reading(self, canteen: DeviceInfo, effect: Effect, sim_ms: int) -> CanteenReading:
        reading = self.model.canteen(canteen, sim_ms)
        rush = effect.canteen_fill.get(canteen.device)
        if rush is None:
            return reading
        fill, target = rush
        goal = math.ceil(target * reading.capacity)
        occupancy = reading.occupancy + round(fill * max(0, goal - reading.occupancy))
        return CanteenReading(
            min(reading.capacity, occupancy),
            reading.capacity,
            reading.queue_length + round(fill * 60),
            reading.takeaway_pending + round(fill * 90),
        )

    def _canteens(self, effect: Effect, ts: int, sim_ms: int, real_ms: int) -> list[Outgoing]:
        out: list[Outgoing] = []
        for canteen in self.canteens:
            beat = self._beats[canteen.key]
            if canteen.key in self.silenced or not beat.due(sim_ms, real_ms):
                continue
            reading = self.canteen_reading(canteen, effect, sim_ms)
            out.append(Outgoing(topic(canteen), canteen_payload(ts, reading)))
            beat.mark(sim_ms, real_ms)
        return out
