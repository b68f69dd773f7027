"""The InfluxQL client: authentication on the wire, errors, and the statements it is given."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api.influx import InfluxError, InfluxQueryClient, StatementRefusedError
from api.influxql_guard import check_select
from louyu.testing.services import Influxd


def test_v2_sends_a_token_and_v1_basic_auth() -> None:
    """Captures what goes on the wire (the v2 server itself is not available offline)."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"results": [{"statement_id": 0}]})

    async def run(client: InfluxQueryClient) -> None:
        await client.open()
        await client.query('SELECT last("occupied") FROM "parking_lot"')
        await client.close()

    for client in (
        InfluxQueryClient(
            "http://influx.test", "v2", "louyu", token="t0ken", transport=httpx.MockTransport(answer)
        ),
        InfluxQueryClient(
            "http://influx.test",
            "v1",
            "louyu",
            username="u",
            password="p",
            transport=httpx.MockTransport(answer),
        ),
    ):
        asyncio.run(run(client))
    assert seen[0].headers["authorization"] == "Token t0ken"
    # Reads go by GET, which InfluxDB 1.x refuses for any statement that writes.
    assert seen[0].method == "GET" and seen[0].url.path == "/query"
    assert seen[0].url.params["db"] == "louyu"
    assert seen[1].headers["authorization"] == "Basic dTpw"


def test_errors_are_reported_not_raised_raw() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"results": [{"statement_id": 0, "error": "database not found: louyu"}]}
        )

    async def run() -> None:
        client = InfluxQueryClient("http://influx.test", "v1", "louyu", transport=httpx.MockTransport(answer))
        await client.open()
        try:
            await client.query("SELECT 1")
        finally:
            await client.close()

    with pytest.raises(InfluxError, match="database not found"):
        asyncio.run(run())


def test_unreachable_is_flagged() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def run() -> None:
        client = InfluxQueryClient("http://influx.test", "v1", "louyu", transport=httpx.MockTransport(refuse))
        await client.open()
        try:
            await client.ping()
        finally:
            await client.close()

    with pytest.raises(InfluxError) as caught:
        asyncio.run(run())
    assert caught.value.unreachable


ALLOWED = [
    'SELECT mean("occupied") AS "v" FROM "parking_lot" WHERE "building" = \'a;b\' GROUP BY time(60000ms)',
    'select last("x") from "aed"',
    'SELECT "into" FROM "drop; database" WHERE "device" = \'it\\\'s INTO x; DROP\'',
]
REFUSED = [
    "DROP DATABASE louyu",
    "CREATE USER eve WITH PASSWORD 'x' WITH ALL PRIVILEGES",
    "SHOW USERS",
    'SELECT * INTO "copy" FROM "parking_lot"',
    'SELECT * FROM "aed"; DROP DATABASE louyu',
    "SELECT 1 -- ; DROP",
    'SELECT "unclosed FROM aed',
    "  DELETE FROM aed",
    "",
]


@pytest.mark.parametrize("statement", ALLOWED)
def test_one_select_passes_the_guard(statement: str) -> None:
    assert check_select(statement) == statement


@pytest.mark.parametrize("statement", REFUSED)
def test_anything_else_is_refused(statement: str) -> None:
    with pytest.raises(StatementRefusedError):
        check_select(statement)


@pytest.mark.integration
def test_write_statements_never_reach_influxdb(influxd: Influxd) -> None:
    """Against the real influxd: the client refuses a write before sending it, several reads in
    one request still work (start-up seeding), and the database is untouched."""
    httpx.post(f"{influxd.url}/query", data={"q": "CREATE DATABASE louyu"}, timeout=10).raise_for_status()
    write = httpx.post(
        f"{influxd.url}/write", params={"db": "louyu"}, content="aed,building=b,device=d x=1i 1", timeout=10
    )
    assert write.status_code == 204

    async def run() -> list[str]:
        client = InfluxQueryClient(influxd.url, "v1", "louyu")
        await client.open()
        refused = []
        try:
            for statement in REFUSED[:5]:
                try:
                    await client.query(statement)
                except StatementRefusedError:
                    refused.append(statement)
            both = await client.query_many(['SELECT "x" FROM "aed"', 'SELECT count("x") FROM "aed"'])
            assert [series[0].values for series in both] == [[[0, 1]], [[0, 1]]]
        finally:
            await client.close()
        return refused

    assert asyncio.run(run()) == REFUSED[:5]
    shown = httpx.get(f"{influxd.url}/query", params={"q": "SHOW DATABASES"}, timeout=10).json()
    assert ["louyu"] in shown["results"][0]["series"][0]["values"]
    users = httpx.get(f"{influxd.url}/query", params={"q": "SHOW USERS"}, timeout=10).json()
    assert "series" not in users["results"][0] or users["results"][0]["series"][0].get("values") is None
    measurements = httpx.get(
        f"{influxd.url}/query", params={"q": "SHOW MEASUREMENTS", "db": "louyu"}, timeout=10
    ).json()
    assert measurements["results"][0]["series"][0]["values"] == [["aed"]]
