"""History from a real influxd (1.x): aggregation windows, raw points, limits, and hostile
identifiers that must be refused, in both modes, without changing InfluxDB."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from api.config import ApiConfig
from api.history import HistoryRequestError, Mode, influxql, plan
from api.influx import InfluxQueryClient
from api.roles import Role
from louyu.testing.services import Influxd
from tests.api.conftest import Api

pytestmark = pytest.mark.integration

HISTORY = "/api/v1/devices/{}/{}/{}/history"
# Recent enough for the 7-day seeding window, and on a whole hour so windows are easy to reason about.
T0 = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
T0_MS = int(T0.timestamp() * 1000)


def _influx(server: Influxd, q: str) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/query", data={"q": q, "db": "louyu"}, timeout=10)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _write(server: Influxd, lines: list[str]) -> None:
    response = httpx.post(
        f"{server.url}/write", params={"db": "louyu", "precision": "ms"}, content="\n".join(lines), timeout=10
    )
    assert response.status_code == 204, response.text


@pytest.fixture
def influx(influxd: Influxd) -> Influxd:
    _influx(influxd, "CREATE DATABASE louyu")
    lines = []
    # The garage lot: one reading a minute for an hour, occupied = 400 + minute.
    for minute in range(60):
        lines.append(
            f"parking_lot,building=darong-a,device=garage,floor=B1-B2,zone=garage "
            f"occupied={400 + minute}i,capacity=600i {T0_MS + minute * 60_000}"
        )
    # A parking space flipping every 10 minutes, and an AED.
    for n in range(6):
        lines.append(
            f"parking_space,building=darong-a,device=b1-001,floor=B1,zone=garage "
            f"occupied={'true' if n % 2 else 'false'} {T0_MS + n * 600_000}"
        )
    lines.append(
        f'aed,building=darong-b,device=aed-b-1f-lobby,floor=1F,zone=lobby state="ready",battery_pct=92.0,'
        f"cabinet_open=false {T0_MS}"
    )
    _write(influxd, lines)
    # Another AED whose readings carry different fields each time, at odd milliseconds, written
    # newest first, the last one under other tags (as after a registry change of its zone).
    _write(influxd, AED_LINES)
    return influxd


AED_TAGS = "aed,building=darong-b,device=aed-b-12f-lift,floor=12F"
AED_LINES = [
    f'{AED_TAGS},zone=lift-lobby-east state="fault",self_test="fail",battery_pct=18.5 {T0_MS + 125_999}',
    f'{AED_TAGS},zone=lift-lobby state="in_use",cabinet_open=true {T0_MS + 61_001}',
    f'{AED_TAGS},zone=lift-lobby state="ready",self_test="pass",pads_expiry="2027-03-01",'
    f"cabinet_open=false,battery_pct=92.0 {T0_MS + 1_234}",
]


def _at(ms: int) -> str:
    """The API's rendering of T0 + ms."""
    return (T0 + dt.timedelta(milliseconds=ms)).isoformat(timespec="microseconds")


def _client(server: Influxd) -> InfluxQueryClient:
    return InfluxQueryClient(server.url, "v1", "louyu")


def _params(**extra: str) -> dict[str, str]:
    base = {"start": T0.isoformat(), "end": (T0 + dt.timedelta(hours=1)).isoformat()}
    base.update(extra)
    return base


def test_aggregation_windows(start_api: Callable[..., Api], influx: Influxd) -> None:
    api = start_api(history=_client(influx))
    url = HISTORY.format("darong-a", "parking_lot", "garage")
    with api.client(Role.VIEWER) as client:
        mean = client.get(url, params=_params(field="occupied", every="10m", agg="mean"))
        assert mean.status_code == 200, mean.text
        body = mean.json()
        assert body["every"] == "10m" and body["agg"] == "mean"
        assert [p["v"] for p in body["points"]] == [404.5, 414.5, 424.5, 434.5, 444.5, 454.5]
        assert body["points"][0]["t"] == T0.isoformat(timespec="microseconds")
        maxima = client.get(url, params=_params(field="occupied", every="30m", agg="max")).json()
        assert [p["v"] for p in maxima["points"]] == [429, 459]
        minima = client.get(url, params=_params(field="occupied", every="1h", agg="min")).json()
        assert [p["v"] for p in minima["points"]] == [400]
        last = client.get(url, params=_params(field="occupied", every="15m", agg="last")).json()
        assert [p["v"] for p in last["points"]] == [414, 429, 444, 459]
        # A boolean: last by default; mean is refused with a reason.
        space = HISTORY.format("darong-a", "parking_space", "b1-001")
        flips = client.get(space, params=_params(field="occupied", every="10m")).json()
        assert flips["agg"] == "last"
        assert [p["v"] for p in flips["points"]] == [False, True, False, True, False, True]
        refused = client.get(space, params=_params(field="occupied", agg="mean"))
        assert refused.status_code == 400 and "agg=last" in refused.json()["detail"]
        # Default window: about 500 points at most.
        auto = client.get(url, params=_params(field="occupied")).json()
        assert auto["every"] == "10s" and len(auto["points"]) == 60


def test_raw_points_with_their_times_and_values(start_api: Callable[..., Api], influx: Influxd) -> None:
    api = start_api(history=_client(influx))
    lot = HISTORY.format("darong-a", "parking_lot", "garage")
    with api.client(Role.VIEWER) as client:
        raw = client.get(lot, params=_params(field="occupied", agg="raw"))
        assert raw.status_code == 200, raw.text
        body = raw.json()
        assert body["agg"] == "raw" and body["every"] is None
        assert [p["v"] for p in body["points"]] == [400 + m for m in range(60)]
        assert [p["t"] for p in body["points"]] == [_at(m * 60_000) for m in range(60)]
        # start is inclusive, end exclusive, as for aggregations.
        part = client.get(
            lot,
            params={
                "field": "occupied",
                "agg": "raw",
                "start": (T0 + dt.timedelta(minutes=10)).isoformat(),
                "end": (T0 + dt.timedelta(minutes=20)).isoformat(),
            },
        ).json()
        assert [p["v"] for p in part["points"]] == [410 + m for m in range(10)]

        # Booleans and strings, which mean, max and min refuse, come back as stored; each field
        # only where a reading carried it; oldest first though written newest first; across a
        # change of tags; to the millisecond.
        space = client.get(
            HISTORY.format("darong-a", "parking_space", "b1-001"), params=_params(field="occupied", agg="raw")
        ).json()
        assert [(p["t"], p["v"]) for p in space["points"]] == [
            (_at(n * 600_000), bool(n % 2)) for n in range(6)
        ]
        aed = HISTORY.format("darong-b", "aed", "aed-b-12f-lift")
        expected: dict[str, list[tuple[int, Any]]] = {
            "state": [(1_234, "ready"), (61_001, "in_use"), (125_999, "fault")],
            "self_test": [(1_234, "pass"), (125_999, "fail")],
            "pads_expiry": [(1_234, "2027-03-01")],
            "cabinet_open": [(1_234, False), (61_001, True)],
            "battery_pct": [(1_234, 92.0), (125_999, 18.5)],
            "temp_c": [],
        }
        for field, points in expected.items():
            response = client.get(aed, params=_params(field=field, agg="raw"))
            assert response.status_code == 200, (field, response.text)
            assert [(p["t"], p["v"]) for p in response.json()["points"]] == [
                (_at(ms), v) for ms, v in points
            ], field
        # The same string field cannot be averaged, and raw takes no window.
        mean = client.get(aed, params=_params(field="state", agg="mean"))
        assert mean.status_code == 400 and "agg=raw" in mean.json()["detail"]
        windowed = client.get(lot, params=_params(field="occupied", agg="raw", every="1m"))
        assert windowed.status_code == 400
        assert "agg=raw returns the stored points and takes no every" in windowed.json()["detail"]
        # Leaving agg out still aggregates, as before.
        default = client.get(aed, params=_params(field="state", every="1h")).json()
        assert default["agg"] == "last" and [p["v"] for p in default["points"]] == ["fault"]


def test_raw_points_are_limited(start_api: Callable[..., Api], influx: Influxd) -> None:
    api = start_api(
        ApiConfig(rate_per_s=1000, rate_burst=1000, history_max_points=30), history=_client(influx)
    )
    url = HISTORY.format("darong-a", "parking_lot", "garage")

    def raw(minutes: float) -> httpx.Response:
        end = T0 + dt.timedelta(minutes=minutes)
        return client.get(
            url, params={"field": "occupied", "agg": "raw", "start": T0.isoformat(), "end": end.isoformat()}
        )

    with api.client(Role.VIEWER) as client:
        # Exactly the limit (minutes 0..29) is answered; one point more is refused.
        at_limit = raw(30)
        assert at_limit.status_code == 200, at_limit.text
        assert len(at_limit.json()["points"]) == 30
        over = raw(30 + 1 / 60_000)
        hour = raw(60)
    for refused in (over, hour):
        assert refused.status_code == 400, refused.text
        assert refused.json()["detail"] == (
            "that range holds more than 30 points of occupied, the limit: use a shorter range, "
            "or an aggregation (agg=mean, max, min or last with every)"
        )


def test_openapi_describes_raw_mode(api: Api) -> None:
    document = httpx.get(f"{api.url}/openapi.json", timeout=10).json()
    operation = document["paths"]["/api/v1/devices/{building}/{kind}/{device}/history"]["get"]
    agg = next(p for p in operation["parameters"] if p["name"] == "agg")
    enum = next(s["enum"] for s in agg["schema"]["anyOf"] if "enum" in s)
    assert set(enum) == {"raw", "mean", "max", "min", "last"}
    assert "raw" in agg["description"] and "raw" in operation["description"]


def test_too_many_points_is_a_clear_400(start_api: Callable[..., Api], influx: Influxd) -> None:
    api = start_api(history=_client(influx))
    url = HISTORY.format("darong-a", "parking_lot", "garage")
    month = {"start": (T0 - dt.timedelta(days=30)).isoformat(), "end": T0.isoformat()}
    with api.client(Role.VIEWER) as client:
        refused = client.get(url, params={**month, "field": "occupied", "every": "1m"})
        allowed = client.get(url, params={**month, "field": "occupied", "every": "5m"})
    assert refused.status_code == 400
    assert refused.json()["detail"] == (
        "that would return up to 43200 points (range / every); the limit is 10000: "
        "use a wider every or a shorter range"
    )
    assert allowed.status_code == 200


def test_requests_that_cannot_be_answered(start_api: Callable[..., Api], influx: Influxd) -> None:
    api = start_api(history=_client(influx))
    with api.client(Role.VIEWER) as client:
        unknown_device = client.get(
            HISTORY.format("darong-a", "parking_lot", "nowhere"), params=_params(field="occupied")
        )
        assert unknown_device.status_code == 404
        url = HISTORY.format("darong-a", "parking_lot", "garage")
        cases = {
            "field": ("nonsense", 400, "parking_lot has no field 'nonsense'"),
            "every": ("5 minutes", 400, "every '5 minutes' must be a number and a unit"),
            "every ": ("999999999d", 400, "every '999999999d' is wider than the limit, 366d"),
            "end": ((T0 - dt.timedelta(hours=1)).isoformat(), 400, "end must be after start"),
            "start": ("2026-11-27T01:00:00", 400, "start needs a UTC offset"),
        }
        for name, (value, status, message) in cases.items():
            params = _params(field="occupied")
            params[name.strip()] = value
            response = client.get(url, params=params)
            assert response.status_code == status, (name, response.text)
            assert message in response.json()["detail"], (name, response.text)


def _snapshot(server: Influxd) -> list[Any]:
    """Everything an injection could change: databases, measurements, series, point counts."""
    out = []
    for q in (
        "SHOW DATABASES",
        "SHOW MEASUREMENTS",
        "SHOW SERIES",
        "SHOW FIELD KEYS",
        "SHOW RETENTION POLICIES",
    ):
        out.append(_influx(server, q))
    for measurement in ("parking_lot", "parking_space", "aed"):
        out.append(_influx(server, f'SELECT count(*) FROM "{measurement}"'))
    return out


HOSTILE_NAMES = [
    "darong-a'",
    'darong-a"',
    "darong-a' OR '1'='1",
    "a;DROP DATABASE louyu",
    "../../etc/passwd",
    "..",
    "a b",
    "Darong-A",
    "a\nb",
    "/.*/",
    ".*",
    "a,building=x",
    "a=b",
    "a\\",
    "x" * 65,
    "",
    "%00",
]
HOSTILE_FIELDS = [
    'occupied" FROM "aed"; DROP DATABASE "louyu',
    "occupied'",
    "occupied;DROP DATABASE louyu",
    "*",
    "/.*/",
    "occupied,capacity",
    "occupied::field",
    "../occupied",
    "occupied\n",
    'occupied") FROM aed --',
    "OCCUPIED",
    "time",
]
HOSTILE_EVERY = [
    "999999999d",
    "367d",
    "1m) fill(0); DROP DATABASE louyu; --",
    "5m;",
    "0m",
    "-5m",
    "1y",
    "1e3s",
    "5",
    "m",
    "9999999999d",
]
HOSTILE_AGG = [
    "mean; DROP DATABASE louyu",
    "count",
    "percentile(50)",
    "MEAN",
    "mean(",
    "raw; DROP DATABASE louyu",
    "RAW",
    "raw,",
    "raw LIMIT 100000000",
    "*",
]
# Aggregated (agg left to its default) and raw.
MODES: list[dict[str, str]] = [{}, {"agg": "raw"}]
HOSTILE_TIMES = ["now() - 1d", "'2026-11-27'", "2026-11-27T00:00:00+00:00' OR '1'='1"]


def test_hostile_input_is_refused_and_influxdb_unchanged(
    start_api: Callable[..., Api], influx: Influxd
) -> None:
    api = start_api(history=_client(influx))
    before = _snapshot(influx)
    statuses: dict[str, int] = {}
    url = HISTORY.format("darong-a", "parking_lot", "garage")
    with api.client(Role.ADMIN) as client:
        for mode in MODES:
            for name in HOSTILE_NAMES:
                for path in (
                    HISTORY.format(quote(name, safe=""), "parking_lot", "garage"),
                    HISTORY.format("darong-a", "parking_lot", quote(name, safe="")),
                    HISTORY.format("darong-a", quote(name, safe=""), "garage"),
                ):
                    statuses[f"{mode} {path}"] = client.get(
                        path, params=_params(field="occupied", **mode)
                    ).status_code
            for field in HOSTILE_FIELDS:
                statuses[f"{mode} field={field!r}"] = client.get(
                    url, params=_params(field=field, **mode)
                ).status_code
            for every in HOSTILE_EVERY:
                statuses[f"{mode} every={every!r}"] = client.get(
                    url, params=_params(field="occupied", every=every, **mode)
                ).status_code
            for when in HOSTILE_TIMES:
                for bound in ("start", "end"):
                    statuses[f"{mode} {bound}={when!r}"] = client.get(
                        url, params=_params(field="occupied", **{bound: when}, **mode)
                    ).status_code
        for agg in HOSTILE_AGG:
            statuses[f"agg={agg!r}"] = client.get(url, params=_params(field="occupied", agg=agg)).status_code
        # The route still answers honest questions afterwards, in both modes.
        assert client.get(url, params=_params(field="occupied", every="1h")).status_code == 200
        raw = client.get(url, params=_params(field="occupied", agg="raw"))
        assert raw.status_code == 200 and len(raw.json()["points"]) == 60
    let_through = {k: v for k, v in statuses.items() if not 400 <= v < 500}
    assert not let_through, f"not refused: {let_through}"
    assert len(statuses) > 2 * (3 * len(HOSTILE_NAMES))
    assert _snapshot(influx) == before


def test_quoting_cannot_be_escaped() -> None:
    """Even if a checked name ever carried quotes, the statement keeps them inside the literal."""
    query = plan("darong-a", "aed", "aed-1", "state", "last", 0, 3_600_000, "1h", 10_000)
    statement = influxql(query)
    assert statement == (
        'SELECT last("state") AS "v" FROM "aed" WHERE "building" = \'darong-a\' AND "device" = \'aed-1\' '
        "AND time >= 0ms AND time < 3600000ms GROUP BY time(3600000ms) fill(none)"
    )
    raw = plan("darong-a", "aed", "aed-1", "state", "raw", 0, 3_600_000, None, 10_000)
    assert influxql(raw) == (
        'SELECT "state" AS "v" FROM "aed" WHERE "building" = \'darong-a\' AND "device" = \'aed-1\' '
        "AND time >= 0ms AND time < 3600000ms ORDER BY time ASC LIMIT 10001"
    )
    # Raw answers are refused past the limit; aggregated ones were bounded before they ran.
    assert not raw.too_many(10_000) and raw.too_many(10_001)
    assert not query.too_many(10_001)
    modes: tuple[Mode, ...] = ("last", "raw")
    for agg in modes:
        for bad in ("a'b", 'a"b', "a\\", "A"):
            with pytest.raises(HistoryRequestError):
                plan(bad, "aed", "aed-1", "state", agg, 0, 3_600_000, None, 10_000)
            with pytest.raises(HistoryRequestError):
                plan("darong-a", "aed", bad, "state", agg, 0, 3_600_000, None, 10_000)


def test_latest_state_is_seeded_from_influxdb_at_start(
    start_api: Callable[..., Api], influx: Influxd
) -> None:
    api = start_api(history=_client(influx))
    with api.client(Role.VIEWER) as client:
        aed = client.get("/api/v1/devices/darong-b/aed/aed-b-1f-lobby").json()
        lot = client.get("/api/v1/devices/darong-a/parking_lot/garage").json()
    assert aed["reading"] == {"state": "ready", "battery_pct": 92.0, "cabinet_open": False}
    assert aed["reading_at"] == T0.isoformat(timespec="microseconds")
    assert lot["reading"] == {"occupied": 459, "capacity": 600}
    assert lot["last_seen"] == (T0 + dt.timedelta(minutes=59)).isoformat(timespec="microseconds")


def test_readyz_reports_influxdb(start_api: Callable[..., Api], influx: Influxd) -> None:
    api = start_api(ApiConfig(seed_from_influx=False), history=_client(influx))
    with httpx.Client(base_url=api.url, timeout=10) as client:
        assert client.get("/readyz").status_code == 200
        influx.stop()
        down = client.get("/readyz")
        with api.client(Role.VIEWER) as viewer:
            history = viewer.get(
                HISTORY.format("darong-a", "parking_lot", "garage"), params=_params(field="occupied")
            )
        influx.start()
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert down.status_code == 503
    checks = down.json()["checks"]
    assert checks["influxdb"]["ok"] is False and checks["alert_store"]["ok"] is True
    assert history.status_code == 503
