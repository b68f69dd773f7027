"""A Darong month in a real influxd, and the time the parking, canteen and data-quality sections
take to build from it (InfluxQL aggregation, the Python around it, and the charts).

The shipped registry's devices each report at their heartbeat (collector/cadence.py) for the 31
days of October 2026, the canteens for four weeks before as well (their typical day): 600 spaces
every 10 minutes, 3 lot counters and 1 canteen every minute, 22 AEDs every 5 minutes. Values
follow a plain daily curve; what is measured is the cost of the figures, not their meaning.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from api.influx import InfluxQueryClient
from api.reports.canteen import build_canteen_sections
from api.reports.model import Period, Scope
from api.reports.parking import build_parking_sections
from api.reports.quality import build_quality_sections
from collector.cadence import HEARTBEAT_MS
from collector.registry import Registry
from louyu.local_services import Influxd

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 10, 1, tzinfo=TZ)
END = datetime(2026, 11, 1, tzinfo=TZ)
HISTORY = START - timedelta(weeks=4)
BATCH = 50_000


def _lines(registry: Registry) -> list[str]:
    lines: list[str] = []
    for device in registry.devices():
        every = HEARTBEAT_MS[device.kind]
        first = HISTORY if device.kind == "canteen" else START
        t = int(first.timestamp() * 1000)
        end = int(END.timestamp() * 1000)
        capacity = device.capacity or 100
        tags = f"{device.kind},building={device.building},device={device.device}"
        while t < end:
            # A day's curve: quiet at night, a peak around noon.
            level = max(0.0, math.sin(math.pi * ((t // 60_000 + 8 * 60) % 1440 - 360) / 720))
            if device.kind == "parking_space":
                lines.append(f"{tags} occupied={'true' if level > 0.5 else 'false'} {t}")
            elif device.kind == "parking_lot":
                lines.append(f"{tags} occupied={round(capacity * level)}i {t}")
            elif device.kind == "aed":
                lines.append(f'{tags} state="ready",cabinet_open=false {t}')
            else:
                lines.append(
                    f"{tags} occupancy={round(capacity * level)}i,queue_length={round(30 * level)}i {t}"
                )
            t += every
    return lines


async def _build(url: str, registry: Registry) -> dict[str, float]:
    client = InfluxQueryClient(url, "v1", "louyu", timeout_s=300)
    await client.open()
    period, scope, out = Period(START, END, "month"), Scope(registry.area), {}
    try:
        for name, build in (
            ("parking", build_parking_sections(client, period, scope, registry)),
            ("canteen", build_canteen_sections(client, period, scope, registry)),
            ("quality", build_quality_sections(client, period, scope, registry, None)),
        ):
            started = time.perf_counter()
            sections = await build
            out[name] = time.perf_counter() - started
            out[f"{name} charts"] = sum(len(s.charts) for s in sections)
    finally:
        await client.close()
    return out


def main() -> None:
    registry = Registry.load()
    with tempfile.TemporaryDirectory() as workdir:
        server = Influxd(Path(workdir))
        server.start()
        try:
            httpx.post(
                f"{server.url}/query", data={"q": "CREATE DATABASE louyu"}, timeout=10
            ).raise_for_status()
            time.sleep(0.5)
            lines = _lines(registry)
            started = time.perf_counter()
            for first in range(0, len(lines), BATCH):
                response = httpx.post(
                    f"{server.url}/write",
                    params={"db": "louyu", "precision": "ms"},
                    content="\n".join(lines[first : first + BATCH]),
                    timeout=120,
                )
                response.raise_for_status()
            write_s = time.perf_counter() - started
            figures = asyncio.run(_build(server.url, registry))
        finally:
            server.kill()
    print("reports (parking, canteen, data quality): a Darong month in influxd 1.x")
    print(f"  devices            {len(registry):,}; points written {len(lines):,} in {write_s:.0f} s")
    for name in ("parking", "canteen", "quality"):
        print(f"  {name:<18} {figures[name]:.2f} s ({figures[name + ' charts']:.0f} charts)")
    print(f"  all three          {sum(figures[n] for n in ('parking', 'canteen', 'quality')):.2f} s")
