"""A known month in a real influxd, for the report builders: October 2026 in Shanghai, one
reading a minute from the lot and canteen counters, every five minutes from an AED, with a few
chosen events (a full garage each workday morning, a busy canteen lunch, silences), written
straight to InfluxDB (the contract refuses readings this old over MQTT).

The data are made by small pure functions of the local time (`garage`, `canteen`, ...), so the
tests compute the expected figures from the same description, by hand or by plain Python over
the minutes, never through the builders' InfluxQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

import httpx
import pytest

from api.influx import InfluxQueryClient
from api.reports.model import Period, Section, Table
from collector.registry import Registry
from louyu.testing.services import Influxd

T = TypeVar("T")
TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 10, 1, tzinfo=TZ)
END = datetime(2026, 11, 1, tzinfo=TZ)
PERIOD = Period(START, END, "month")
# The canteen's typical day looks back four weeks: its history starts a month earlier.
HISTORY_START = datetime(2026, 9, 1, tzinfo=TZ)

REGISTRY = """
area: testarea
timezone: Asia/Shanghai
buildings:
  - id: tower
    name: 塔楼
    devices:
      - {kind: parking_lot, id: garage, capacity: 100}
      - {kind: parking_lot, id: garage-b1, part_of: garage, capacity: 50}
      - {kind: parking_lot, id: garage-b2, part_of: garage, capacity: 50}
      - {kind: canteen, id: hall, capacity: 200, service_hours: ["11:00-13:30"]}
      - {kind: aed, id: aed-1}
      - {kind: aed, id: aed-2}
      - {kind: parking_space, id: s-001, lot: garage-b1}
  - id: annex
    name: 附楼
    devices:
      - {kind: parking_lot, id: yard, capacity: 20}
"""


def workday(moment: datetime) -> bool:
    return moment.weekday() < 5


def garage(moment: datetime) -> int | None:
    """The garage counter: full (100) 09:00-11:00 each workday, 40 otherwise; one overshoot to 103
    on Tuesday 13 October 09:30 and one empty minute on Sunday 4 October 03:30; silent on Tuesday
    20 October 00:00-06:00."""
    if moment.day == 20 and moment.hour < 6:
        return None
    if (moment.day, moment.hour, moment.minute) == (13, 9, 30):
        return 103
    if (moment.day, moment.hour, moment.minute) == (4, 3, 30):
        return 0
    return 100 if workday(moment) and 9 <= moment.hour < 11 else 40


def in_service(moment: datetime) -> bool:
    return (11, 0) <= (moment.hour, moment.minute) < (13, 30)


def canteen(moment: datetime) -> tuple[int, int, int]:
    """(occupancy, queue, takeaway pending) of the hall. Workday service (11:00-13:30): 150 people,
    a queue of 20, 3 takeaways; weekend service: 10 people, no queue; closed: empty, yet a queue
    of 5 outside service (cleaners, deliveries: it must not count as service queue). Wednesday
    14 October 12:00-13:00: 190 people and a queue of 50; 9 takeaways at 12:30."""
    if not in_service(moment):
        return (0, 5, 0)
    if not workday(moment):
        return (10, 0, 0)
    if (moment.month, moment.day, moment.hour) == (10, 14, 12):
        return (190, 50, 9 if moment.minute == 30 else 3)
    return (150, 20, 3)


def aed_reports(moment: datetime) -> bool:
    """aed-1 every five minutes, except 10:05-10:30 on 10 October (six beats: a silent period) and
    10:05, 10:10 on 12 October (two: not one)."""
    if moment.minute % 5:
        return False
    if moment.day == 10 and moment.hour == 10 and 5 <= moment.minute <= 30:
        return False
    return not (moment.day == 12 and moment.hour == 10 and moment.minute in (5, 10))


def minutes(start: datetime, end: datetime) -> Iterator[datetime]:
    moment = start
    while moment < end:
        yield moment
        moment += timedelta(minutes=1)


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def month_lines() -> list[str]:
    lines = []
    for moment in minutes(HISTORY_START, END):
        t = _ms(moment)
        occupancy, queue, takeaway = canteen(moment)
        lines.append(
            f"canteen,building=tower,device=hall,floor=2F occupancy={occupancy}i,queue_length={queue}i,"
            f"takeaway_pending={takeaway}i {t}"
        )
        if moment < START:
            continue
        occupied = garage(moment)
        if occupied is not None:
            lines.append(f"parking_lot,building=tower,device=garage occupied={occupied}i {t}")
        lines.append(f"parking_lot,building=tower,device=garage-b1 occupied=25i,capacity=60i {t}")
        lines.append(f"parking_lot,building=annex,device=yard occupied=20i {t}")
        if aed_reports(moment):
            lines.append(f'aed,building=tower,device=aed-1 state="ready",cabinet_open=false {t}')
        if moment.minute % 10 == 0:
            lines.append(f"parking_space,building=tower,device=s-001 occupied=true {t}")
        if (moment.hour, moment.minute) == (8, 3):
            lines.append(f"parking_space,building=tower,device=s-001 occupied=false {t}")
    return lines


@dataclass(frozen=True, slots=True)
class Month:
    server: Influxd
    registry: Registry

    def client(self) -> InfluxQueryClient:
        return InfluxQueryClient(self.server.url, "v1", "louyu")


@pytest.fixture(scope="package")
def month(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Month]:
    server = Influxd(Path(tmp_path_factory.mktemp("influxd-month")))
    server.start()
    try:
        httpx.post(f"{server.url}/query", data={"q": "CREATE DATABASE louyu"}, timeout=10).raise_for_status()
        lines = month_lines()
        for first in range(0, len(lines), 20_000):
            body = "\n".join(lines[first : first + 20_000])
            for _ in range(50):  # a new database takes a moment to accept writes
                response = httpx.post(
                    f"{server.url}/write", params={"db": "louyu", "precision": "ms"}, content=body, timeout=60
                )
                if response.status_code != 404:
                    break
                time.sleep(0.1)
            assert response.status_code == 204, response.text
        yield Month(server, Registry.from_text(REGISTRY))
    finally:
        server.kill()


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"


def run_builder(month: Month, build: Callable[[InfluxQueryClient], Awaitable[T]]) -> T:
    async def go() -> T:
        client = month.client()
        await client.open()
        try:
            return await build(client)
        finally:
            await client.close()

    return asyncio.run(go())


def table_rows(section: Section, key: str) -> list[dict[str, object]]:
    table: Table = next(t for t in section.tables if t.key == key)
    return [dict(zip((c.key for c in table.columns), row, strict=True)) for row in table.rows]


def save_charts(section: Section) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for chart in section.charts:
        (ARTIFACTS / f"{chart.key}.png").write_bytes(chart.png)
