"""The InfluxQL client: authentication on the wire, errors, and the statements it is given."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api.influx import InfluxError, InfluxQueryClient


def test_v2_sends_a_token_and_v1_basic_auth() -> None:
    """Captures what goes on the wire (the v2 server itself is not available offline)."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"results": [{"statement_id": 0}]})

    async def run(client: InfluxQueryClient) -> None:
        await client.open()
        await client.query("SHOW MEASUREMENTS")
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
    assert seen[0].url.path == "/query"
    assert b"db=louyu" in seen[0].content
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
