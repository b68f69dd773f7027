"""A district's month of readings for bench/reports_month.py: the registry and the line protocol of
each kind at its heartbeat (collector/cadence.py), written to a real influxd in large batches.

The district: `buildings` office towers (100 in `make bench`: 100,000 devices), each with 20 AEDs,
a garage counted as a site and two levels (3 lot counters, 490 spaces a level), a staff canteen
in every fifth building, and parking spaces for the rest of its 1,000 devices. Readings are the
heartbeats only (a device also reports each change; that adds points, not rows of a report),
each device at a phase of its own, with a few chosen faults so that the data-quality report has
work to do: 2 % of the devices silent 30 minutes to 3 hours once, and on the quality day one
building's spaces behind a gateway that was down from 10:00 to 12:00.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final
from zoneinfo import ZoneInfo

import httpx

from collector.cadence import HEARTBEAT_MS
from collector.registry import BuildingInfo, DeviceInfo, Registry
from louyu.testing.services import Influxd

TZ: Final = ZoneInfo("Asia/Shanghai")
AEDS: Final = 20
LEVEL_CAPACITY: Final = 490
PER_BUILDING: Final = 1000
# Lines per /write request: about 7 MB of line protocol.
BATCH_LINES: Final = 100_000
# Share of the devices silent once, for a while, in what is written.
FAULTY: Final = 0.02


def district(buildings: int) -> Registry:
    registry = Registry(area="district", area_name=None, timezone="Asia/Shanghai", buildings={})
    for b in range(buildings):
        building = f"tower-{b:03d}"
        registry.buildings[building] = BuildingInfo(building, building, None, None)
        for n in range(AEDS):
            registry.add(DeviceInfo(building, "aed", f"aed-{n:02d}", floor=f"{n}F"))
        registry.add(DeviceInfo(building, "parking_lot", "garage", capacity=2 * LEVEL_CAPACITY))
        for level in ("b1", "b2"):
            registry.add(
                DeviceInfo(
                    building, "parking_lot", f"garage-{level}", capacity=LEVEL_CAPACITY, part_of="garage"
                )
            )
        canteen = b % 5 == 0
        if canteen:
            registry.add(DeviceInfo(building, "canteen", "hall", floor="2F", capacity=420))
        for n in range(PER_BUILDING - AEDS - 3 - canteen):
            lot = "garage-b1" if n % 2 == 0 else "garage-b2"
            registry.add(DeviceInfo(building, "parking_space", f"s-{n:04d}", floor=lot[-2:].upper(), lot=lot))
    return registry


def subset(registry: Registry, keep: Callable[[DeviceInfo], bool]) -> Registry:
    """The same area and buildings with only the devices `keep` accepts."""
    out = Registry(registry.area, registry.area_name, registry.timezone, dict(registry.buildings))
    for device in registry.devices():
        if keep(device):
            out.add(device)
    return out


class Writer:
    """Line protocol to influxd's /write (precision s), BATCH_LINES a request; the request is sent
    on a thread while the next batch is built (the socket releases the GIL)."""

    def __init__(self, server: Influxd, db: str = "louyu") -> None:
        self.url, self.db = f"{server.url}/write", db
        self.client = httpx.Client(timeout=600)
        self.pool = ThreadPoolExecutor(1)
        self.pending: Future[None] | None = None
        self.lines: list[str] = []
        self.points = 0

    def add(self, lines: Iterable[str]) -> None:
        self.lines.extend(lines)
        if len(self.lines) >= BATCH_LINES:
            self.flush()

    def _post(self, body: bytes) -> None:
        for _ in range(50):  # a new database takes a moment to accept writes
            response = self.client.post(self.url, params={"db": self.db, "precision": "s"}, content=body)
            if response.status_code != 404:
                break
            time.sleep(0.1)
        response.raise_for_status()

    def flush(self) -> None:
        if self.pending is not None:
            self.pending.result()
            self.pending = None
        if self.lines:
            body = "\n".join(self.lines).encode()
            self.points += len(self.lines)
            self.lines = []
            self.pending = self.pool.submit(self._post, body)

    def close(self) -> int:
        self.flush()
        self.flush()
        self.pool.shutdown()
        self.client.close()
        return self.points


def _gap(rng: random.Random, start_s: int, end_s: int) -> tuple[int, int]:
    """[a, b): silent once for 30 minutes to 3 hours, for FAULTY of the devices; else empty."""
    if rng.random() >= FAULTY:
        return (0, 0)
    a = rng.randrange(start_s, end_s - 3 * 3600)
    return (a, a + rng.randrange(1800, 3 * 3600))


def _beats(device: DeviceInfo, rng: random.Random, start_s: int, end_s: int) -> Iterator[int]:
    """The heartbeats of a device in [start_s, end_s), at a phase of its own, its gap left out."""
    every = HEARTBEAT_MS[device.kind] // 1000
    quiet_from, quiet_to = _gap(rng, start_s, end_s)
    for t in range(start_s + rng.randrange(every), end_s, every):
        if not quiet_from <= t < quiet_to:
            yield t


def _minute_of_day(t: int) -> int:
    """Local (UTC+8, no summer time) minute of the day of a UTC second."""
    return ((t + 8 * 3600) // 60) % 1440


def _workday(t: int) -> bool:
    """Monday to Friday, local (UTC+8): 1970-01-01 was a Thursday (weekday 3)."""
    return ((t + 8 * 3600) // 86400 + 3) % 7 < 5


def _ramp(minute: int, up: tuple[int, int], down: tuple[int, int]) -> float:
    """0 before `up`, rising to 1 over it, 1 until `down`, falling to 0 over it."""
    if minute < up[0] or minute >= down[1]:
        return 0.0
    if minute < up[1]:
        return (minute - up[0]) / (up[1] - up[0])
    if minute < down[0]:
        return 1.0
    return (down[1] - minute) / (down[1] - down[0])


# The garages fill from 07:30 to 09:30 and empty from 17:00 to 19:30 on workdays.
_LOT_WORKDAY: Final = [0.05 + 0.95 * _ramp(m, (450, 570), (1020, 1170)) for m in range(1440)]
_LOT_WEEKEND: Final = [0.05 + 0.1 * _ramp(m, (540, 660), (960, 1080)) for m in range(1440)]
# The canteen: breakfast, a lunch peak, a smaller supper.
_CANTEEN: Final = [
    0.15 * _ramp(m, (450, 480), (540, 570)) + 0.9 * _ramp(m, (660, 705), (765, 810)) + 0.3 * _ramp(m, (1050, 1080), (1140, 1170))
    for m in range(1440)
]  # fmt: skip


def aed_lines(aed: DeviceInfo, rng: random.Random, start_s: int, end_s: int) -> Iterator[str]:
    tags = f"aed,building={aed.building},device={aed.device}"
    battery = rng.uniform(40, 100)
    pads = (
        (dt.datetime.fromtimestamp(start_s, dt.UTC) + dt.timedelta(days=rng.randint(10, 200)))
        .date()
        .isoformat()
    )
    per_beat = HEARTBEAT_MS["aed"] / 86_400_000 * 0.5
    for t in _beats(aed, rng, start_s, end_s):
        battery -= per_beat
        yield f'{tags} state="ready",cabinet_open=false,battery_pct={battery:.1f},pads_expiry="{pads}" {t}'


def lot_lines(lot: DeviceInfo, rng: random.Random, start_s: int, end_s: int) -> Iterator[str]:
    """A level's counter, or the site's (the sum of two levels): a third of the garages fill up on
    workdays (busy above 1, the count held at the capacity), the others do not."""
    capacity = lot.capacity or 1
    busy = rng.choice((0.7, 0.85, 1.1))
    tags = f"parking_lot,building={lot.building},device={lot.device}"
    for t in _beats(lot, rng, start_s, end_s):
        shape = _LOT_WORKDAY if _workday(t) else _LOT_WEEKEND
        noise = (t * 2654435761 >> 9) % 9 - 4
        occupied = max(0, min(capacity, int(capacity * busy * shape[_minute_of_day(t)]) + noise))
        yield f"{tags} occupied={occupied}i,capacity={capacity}i {t}"


def canteen_lines(canteen: DeviceInfo, rng: random.Random, start_s: int, end_s: int) -> Iterator[str]:
    capacity = canteen.capacity or 1
    tags = f"canteen,building={canteen.building},device={canteen.device}"
    for t in _beats(canteen, rng, start_s, end_s):
        load = _CANTEEN[_minute_of_day(t)] * (1.0 if _workday(t) else 0.2)
        noise = (t * 2654435761 >> 9) % 11 - 5
        occupancy = max(0, min(capacity, int(capacity * load) + noise))
        queue = max(0, int(40 * load) + noise // 2)
        takeaway = max(0, int(15 * load) + noise // 3)
        yield f"{tags} occupancy={occupancy}i,queue_length={queue}i,takeaway_pending={takeaway}i {t}"


def space_lines(space: DeviceInfo, rng: random.Random, start_s: int, end_s: int) -> Iterator[str]:
    tags = f"parking_space,building={space.building},device={space.device} occupied="
    for t in _beats(space, rng, start_s, end_s):
        minute = _minute_of_day(t)
        yield f"{tags}{'true' if _workday(t) and 480 <= minute < 1080 else 'false'} {t}"


LINES: Final[dict[str, Callable[[DeviceInfo, random.Random, int, int], Iterator[str]]]] = {
    "aed": aed_lines,
    "parking_lot": lot_lines,
    "canteen": canteen_lines,
    "parking_space": space_lines,
}


def write(
    writer: Writer,
    devices: Iterable[DeviceInfo],
    start: dt.datetime,
    end: dt.datetime,
    seed: int,
    gateway_down: tuple[str, dt.datetime, dt.datetime] | None = None,
) -> None:
    """Each device's heartbeats in [start, end), device by device; `gateway_down`: a building
    whose spaces are silent from one time to another (their gateway was down)."""
    rng = random.Random(seed)
    start_s, end_s = int(start.timestamp()), int(end.timestamp())
    for device in devices:
        lines = LINES[device.kind](device, rng, start_s, end_s)
        if gateway_down is not None and (device.kind, device.building) == ("parking_space", gateway_down[0]):
            down_from, down_to = (int(moment.timestamp()) for moment in gateway_down[1:])
            lines = (line for line in lines if not down_from <= int(line.rsplit(" ", 1)[1]) < down_to)
        writer.add(lines)
