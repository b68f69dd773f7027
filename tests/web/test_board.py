"""The public board: its content (pure), its cache (one build per period whatever the crowd), and
its history through a real InfluxDB."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from api.config import ApiConfig
from api.influx import InfluxError, InfluxQueryClient
from api.web.board import CanteenHistory, build_board
from api.web.board_models import Board
from api.web.board_service import BoardService, InfluxSeries
from api.web.forecast import Point
from collector.latest import LatestState
from collector.models import DeviceKey, Reading
from collector.registry import Registry
from louyu.testing.services import Influxd

TZ = ZoneInfo("Asia/Shanghai")
# Thursday 26 November 2026, 11:40 in Qingdao.
NOW = dt.datetime(2026, 11, 26, 11, 40, tzinfo=TZ).astimezone(dt.UTC)
NOW_MS = int(NOW.timestamp() * 1000)
CANTEEN = DeviceKey("darong-b", "canteen", "main-hall")


def reading(building: str, kind: str, device: str, age_s: float = 10, **fields: Any) -> Reading:
    return Reading(building, kind, device, NOW_MS - int(age_s * 1000), fields)


def table(*readings: Reading) -> LatestState:
    states = LatestState(None)
    for r in readings:
        states.apply(r)
    return states


def board_for(states: LatestState, registry: Registry) -> dict[str, Any]:
    return build_board(registry, states.snapshot(), {}, NOW)


@pytest.fixture(scope="module")
def darong() -> Registry:
    return Registry.load()


def test_canteen_load_now_from_the_latest_reading(darong: Registry) -> None:
    board = board_for(
        table(reading("darong-b", "canteen", "main-hall", occupancy=336, queue_length=20)), darong
    )
    [canteen] = board["canteens"]
    assert canteen["device"] == "main-hall"
    assert canteen["capacity"] == 420  # from the registry
    assert canteen["occupancy"] == 336
    assert canteen["load"] == pytest.approx(0.8)
    assert canteen["queue_length"] == 20
    assert canteen["stale"] is False
    # Today's curve holds the live reading in its slot (11:30).
    assert canteen["today"] == [{"minute": 11 * 60 + 30, "load": 0.8}]


def test_a_canteen_reading_past_its_silence_window_is_shown_as_no_data(darong: Registry) -> None:
    # One staleness rule for every output (collector/latest.py): 30 minutes for a canteen.
    board = board_for(
        table(reading("darong-b", "canteen", "main-hall", age_s=29 * 60, occupancy=336)), darong
    )
    assert board["canteens"][0]["stale"] is False
    board = board_for(
        table(reading("darong-b", "canteen", "main-hall", age_s=31 * 60, occupancy=336)), darong
    )
    [canteen] = board["canteens"]
    assert canteen["stale"] is True
    assert canteen["load"] is None
    assert canteen["occupancy"] is None


def test_a_reported_capacity_beats_the_registry(darong: Registry) -> None:
    board = board_for(table(reading("darong-b", "canteen", "main-hall", occupancy=250, capacity=500)), darong)
    assert board["canteens"][0]["load"] == pytest.approx(0.5)


def test_parking_per_level_and_a_garage_counted_once(darong: Registry) -> None:
    states = table(
        reading("darong-a", "parking_lot", "garage-b1", occupied=250),
        reading("darong-a", "parking_lot", "garage-b2", occupied=290),
    )
    [tower_a] = board_for(states, darong)["parking"]
    lots = {lot["lot"]: lot for lot in tower_a["lots"]}
    assert lots["garage-b1"]["free"] == 50
    assert lots["garage-b2"]["free"] == 10
    # The garage's own counter never reported: the site is counted by its levels.
    assert (lots["garage"]["free"], lots["garage"]["source"]) == (60, "parts")
    assert (lots["garage-b1"]["part_of"], lots["garage"]["part_of"]) == ("garage", None)
    # The building total is the site's, and does not add the levels to the 600-space garage.
    assert (tower_a["free"], tower_a["capacity"]) == (60, 600)

    states.apply(reading("darong-a", "parking_lot", "garage", occupied=545))
    [tower_a] = board_for(states, darong)["parking"]
    assert (tower_a["free"], tower_a["capacity"]) == (55, 600)  # the aggregate counter itself


def test_a_full_lot_never_shows_negative_free_spaces(darong: Registry) -> None:
    states = table(reading("darong-a", "parking_lot", "garage-b1", occupied=320))
    lots = {lot["lot"]: lot for lot in board_for(states, darong)["parking"][0]["lots"]}
    assert lots["garage-b1"]["free"] == 0


def test_bay_sensors_stand_in_for_a_missing_lot_counter() -> None:
    registry = Registry.from_text(
        """
area: t
buildings:
  - id: t1
    name: T1
    devices:
      - {kind: parking_lot, id: lot-1, capacity: 3}
    groups:
      - {kind: parking_space, prefix: s-, count: 3, lot: lot-1}
"""
    )
    states = table(
        reading("t1", "parking_space", "s-001", occupied=True),
        reading("t1", "parking_space", "s-002", occupied=False),
    )
    lot = board_for(states, registry)["parking"][0]["lots"][0]
    assert lot["free"] is None  # one bay never reported: could be free or taken
    states.apply(reading("t1", "parking_space", "s-003", occupied=False))
    lot = board_for(states, registry)["parking"][0]["lots"][0]
    assert (lot["free"], lot["source"]) == (2, "sensors")


def test_the_board_holds_nothing_sensitive(darong: Registry) -> None:
    states = table(
        reading("darong-b", "aed", "aed-b-1f-lobby", state="in_use", cabinet_open=True, battery_pct=12.0),
        reading("darong-a", "parking_space", "b1-001", occupied=True, battery_pct=5.0),
        reading("darong-b", "canteen", "main-hall", occupancy=100),
    )
    text = json.dumps(board_for(states, darong))
    for word in ("aed", "battery", "cabinet", "in_use", "b1-001", "alert", "token"):
        assert word not in text


# ---------------------------------------------------------------- the service and its cache


class FakeSeries:
    """A SeriesSource that answers from a table of points and counts its calls."""

    def __init__(self, points: list[Point], fail: bool = False, delay_s: float = 0.0) -> None:
        self.points = points
        self.fail = fail
        self.delay_s = delay_s
        self.calls: list[tuple[DeviceKey, str, int, int, int]] = []

    async def mean(
        self, key: DeviceKey, field: str, start_ms: int, end_ms: int, every_ms: int
    ) -> list[Point]:
        self.calls.append((key, field, start_ms, end_ms, every_ms))
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail:
            raise InfluxError("connection refused")
        return [(ts, v) for ts, v in self.points if start_ms <= ts < end_ms]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def past_lunches(weeks: int = 4) -> list[Point]:
    """Occupancy (people, capacity 420) on the previous Thursdays: 11:30 210, 11:45 378, 12:00 420."""
    points = []
    for week in range(1, weeks + 1):
        day = dt.datetime(2026, 11, 26, tzinfo=TZ) - dt.timedelta(days=7 * week)
        for minute, people in ((11 * 60 + 30, 210), (11 * 60 + 45, 378), (12 * 60, 420), (12 * 60 + 30, 84)):
            points.append((int((day + dt.timedelta(minutes=minute)).timestamp() * 1000), float(people)))
    return points


def service(series: FakeSeries | None, clock: Clock, registry: Registry, **kw: Any) -> BoardService:
    states = table(reading("darong-b", "canteen", "main-hall", occupancy=210))
    return BoardService(registry, states, series, clock=lambda: NOW, monotonic=clock, **kw)


def test_a_crowd_costs_one_build_per_period(darong: Registry) -> None:
    async def body() -> None:
        series = FakeSeries(past_lunches(), delay_s=0.05)
        clock = Clock()
        board = service(series, clock, darong)
        answers = await asyncio.gather(*(board.json() for _ in range(200)))
        assert board.cache.computations == 1
        assert len({body for body, _ in answers}) == 1
        assert len(series.calls) == 2  # today's curve and the four weeks for the typical day
        clock.t += 4.9
        await board.json()
        assert board.cache.computations == 1
        clock.t += 0.2  # past the 5 s
        await board.json()
        assert board.cache.computations == 2
        assert len(series.calls) == 2  # curves are kept longer than the board
        clock.t += 60
        await board.json()
        assert len(series.calls) == 3  # today's curve refreshed, the typical day not

    asyncio.run(body())


def test_the_typical_day_and_best_time_from_history(darong: Registry) -> None:
    async def body() -> None:
        board_service = service(FakeSeries(past_lunches()), Clock(), darong)
        body, _ = await board_service.json()
        canteen = json.loads(body)["canteens"][0]
        typical = {p["minute"]: p["load"] for p in canteen["typical"]}
        assert typical == {690: 0.5, 705: 0.9, 720: 1.0, 750: 0.2}
        # 11:40, load 0.5 as usual: the peak is coming, and by 12:30 it is gone: go at 12:30.
        assert canteen["best"]["status"] == "ok"
        assert canteen["best"]["at"] == "2026-11-26T12:30+08:00"
        # A shade under the usual 0.2: at 11:40 the hall is a little quieter than a usual 11:40.
        assert 0.15 < canteen["best"]["load"] < 0.2
        assert canteen["forecast"][0]["load"] == pytest.approx(0.5)

    asyncio.run(body())


def test_influxdb_down_still_gives_the_live_load(darong: Registry) -> None:
    async def body() -> None:
        series = FakeSeries([], fail=True)
        clock = Clock()
        board = service(series, clock, darong)
        body, _ = await board.json()
        canteen = json.loads(body)["canteens"][0]
        assert canteen["load"] == pytest.approx(0.5)
        assert canteen["typical"] == []
        # Failures are not retried on every build: once per curve period.
        clock.t += 6
        await board.json()
        assert len(series.calls) == 2

    asyncio.run(body())


def test_a_hung_influxdb_costs_at_most_the_timeout(darong: Registry) -> None:
    async def body() -> None:
        series = FakeSeries(past_lunches(), delay_s=5.0)
        board = service(series, Clock(), darong, history_timeout_s=0.1)
        started = asyncio.get_running_loop().time()
        body, _ = await board.json()
        assert asyncio.get_running_loop().time() - started < 1.0
        assert json.loads(body)["canteens"][0]["load"] == pytest.approx(0.5)

    asyncio.run(body())


# ---------------------------------------------------------------- over HTTP


def test_board_json_is_public_and_cached(start_web: Any) -> None:
    devices = table(reading("darong-b", "canteen", "main-hall", age_s=0, occupancy=210))
    web = start_web(devices=devices, clock=lambda: NOW)
    with httpx.Client(base_url=web.url, timeout=10) as client:
        response = client.get("/api/v1/board")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        cache_control = response.headers["cache-control"]
        assert cache_control.startswith("public, max-age=")
        assert 0 <= int(cache_control.rsplit("=", 1)[1]) <= 5
        assert response.json()["canteens"][0]["load"] == pytest.approx(0.5)

        # A noon crowd: 300 requests from 30 clients at once make one or two builds, not 300.
        board = web.server.app.state.louyu_board
        before = board.cache.computations

        def hit(_: int) -> int:
            # One client per request: an httpx.Client's connection pool is not shared across threads.
            with httpx.Client(base_url=web.url, timeout=10) as own:
                return own.get("/api/v1/board").status_code

        started = time.monotonic()
        with ThreadPoolExecutor(30) as pool:
            codes = list(pool.map(hit, range(300)))
        elapsed = time.monotonic() - started
        assert codes == [200] * 300
        # At most one build per cache lifetime: on a quiet machine the burst fits in one or two
        # lifetimes; on a loaded one it may span more, each still costing one build, not 30.
        windows = 1 + int(elapsed / board.cache.ttl_s)
        assert board.cache.computations - before <= windows + 1, (elapsed, board.cache.ttl_s)


@pytest.mark.integration
def test_board_curves_from_a_real_influxdb(influxd: Influxd, start_web: Any) -> None:
    """Canteen history written to InfluxDB 1.x comes back as today's curve and the typical day."""
    with httpx.Client(base_url=influxd.url, timeout=10) as client:
        client.post("/query", data={"q": "CREATE DATABASE louyu"}).raise_for_status()
        lines = [
            f"canteen,building=darong-b,device=main-hall occupancy={int(v)}i {ts}" for ts, v in past_lunches()
        ]
        # Today so far: 11:00 42 people, 11:30 168 people.
        today = dt.datetime(2026, 11, 26, tzinfo=TZ)
        for minute, people in ((11 * 60, 42), (11 * 60 + 30, 168)):
            ts = int((today + dt.timedelta(minutes=minute)).timestamp() * 1000)
            lines.append(f"canteen,building=darong-b,device=main-hall occupancy={people}i {ts}")
        response = client.post("/write", params={"db": "louyu", "precision": "ms"}, content="\n".join(lines))
        assert response.status_code == 204, response.text
    devices = table(reading("darong-b", "canteen", "main-hall", age_s=0, occupancy=168))
    history = InfluxQueryClient(influxd.url, "v1", "louyu")
    web = start_web(
        config=ApiConfig(rate_per_s=1000, rate_burst=1000, seed_from_influx=False),
        devices=devices,
        history=history,
        clock=lambda: NOW,
    )
    with httpx.Client(base_url=web.url, timeout=10) as client:
        canteen = client.get("/api/v1/board").json()["canteens"][0]
    assert {p["minute"]: p["load"] for p in canteen["typical"]} == {690: 0.5, 705: 0.9, 720: 1.0, 750: 0.2}
    assert {p["minute"]: p["load"] for p in canteen["today"]} == {660: 0.1, 690: 0.4}
    # Today runs at 0.8 of the usual load (0.4 against 0.5): the near forecast is scaled down.
    assert canteen["forecast"][1]["at"].startswith("2026-11-26T11:45")
    assert canteen["forecast"][1]["load"] < 0.9


def test_influx_series_reads_the_mean_per_window() -> None:
    """The adapter's query and parsing, against InfluxDB's JSON as a MockTransport answers it."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.query.decode())  # reads go by GET: the statement is in the query
        body = {
            "results": [
                {
                    "series": [
                        {"name": "canteen", "columns": ["time", "v"], "values": [[1000, 2.5], [2000, None]]}
                    ]
                }
            ]
        }
        return httpx.Response(200, json=body)

    async def run() -> list[Point]:
        client = InfluxQueryClient("http://influx", "v1", "louyu", transport=httpx.MockTransport(handler))
        await client.open()
        try:
            return await InfluxSeries(client).mean(CANTEEN, "occupancy", 0, 3_600_000, 900_000)
        finally:
            await client.close()

    assert asyncio.run(run()) == [(1000, 2.5)]
    assert "mean%28%22occupancy%22%29" in seen[0]
    assert "GROUP+BY+time%28900000ms%29" in seen[0]


def test_a_building_with_bay_sensors_and_no_lot_counter_is_on_the_board() -> None:
    registry = Registry.from_text(
        """
area: t
buildings:
  - id: t1
    name: T1
    groups:
      - {kind: parking_space, prefix: s-, count: 2}
"""
    )
    states = table(
        reading("t1", "parking_space", "s-001", occupied=True),
        reading("t1", "parking_space", "s-002", occupied=False),
    )
    [t1] = board_for(states, registry)["parking"]
    assert (t1["building"], t1["free"], t1["capacity"], t1["source"], t1["lots"]) == (
        "t1",
        1,
        2,
        "sensors",
        [],
    )


def test_the_board_matches_its_documented_schema(darong: Registry) -> None:
    """The OpenAPI document describes the board with `Board`: a built board, with curves, a
    forecast and parking, validates against it (extra keys forbidden)."""
    history = {
        CANTEEN: CanteenHistory(
            today=[(NOW_MS - 600_000, 0.4)], past=[(ts, people / 420) for ts, people in past_lunches()]
        )
    }
    states = table(
        reading("darong-b", "canteen", "main-hall", occupancy=336, queue_length=20),
        reading("darong-a", "parking_lot", "garage-b1", occupied=250),
    )
    board = build_board(darong, states.snapshot(), history, NOW)
    assert board["canteens"][0]["typical"] and board["canteens"][0]["forecast"]
    Board.model_validate(json.loads(json.dumps(board)))


def test_service_hours_come_from_the_registry_and_a_queue_is_never_closed() -> None:
    text = (
        "area: t\ntimezone: Asia/Shanghai\nbuildings:\n  - id: darong-b\n    name: B\n    devices:\n"
        '      - {kind: canteen, id: main-hall, capacity: 420, service_hours: ["12:00-13:00"]}\n'
    )
    registry = Registry.from_text(text)
    # 11:40: lunch starts at 12:00 by this canteen's hours, nobody queues: best is 12:00 at the earliest.
    quiet = build_board(
        registry, table(reading("darong-b", "canteen", "main-hall", occupancy=0)).snapshot(), {}, NOW
    )
    [canteen] = quiet["canteens"]
    assert canteen["service_hours"] == ["12:00-13:00"]
    assert [slot["open"] for slot in canteen["forecast"]][:3] == [False, False, True]
    # Same moment, outside its hours, but 60 people queue: it is serving, not "closed".
    busy = build_board(
        registry,
        table(reading("darong-b", "canteen", "main-hall", occupancy=400, queue_length=60)).snapshot(),
        {},
        NOW,
    )
    best = busy["canteens"][0]["best"]
    assert best["status"] == "ok"
    assert best["at"].startswith("2026-11-26T11:40")
