"""A small InfluxQL client over HTTP: `/query` and `/ping`, on InfluxDB 1.x and on 2.x/3.x
through their v1-compatible `/query` endpoint.

Authentication: v1 with a user and password (HTTP basic), v2 with `Authorization: Token ...`.
The httpx client is opened by the API's lifespan (`open()`), never at import.

Reads only: every statement passes `check_select` (one SELECT, no INTO) right before it is sent,
and it is sent with GET, which InfluxDB 1.x only accepts for SELECT and SHOW (a write statement
needs POST there): two locks on the same door, for the API's credentials may allow writing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from api.influxql_guard import StatementRefusedError, check_select

__all__ = ["InfluxError", "InfluxQueryClient", "Series", "StatementRefusedError"]


class InfluxError(Exception):
    """InfluxDB did not answer (`unreachable`), or answered with an error."""

    def __init__(self, message: str, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


@dataclass(slots=True)
class Series:
    name: str
    tags: dict[str, str]
    columns: list[str]
    values: list[list[Any]]


class InfluxQueryClient:
    def __init__(
        self,
        url: str,
        api: Literal["v1", "v2"],
        db: str,
        *,
        token: str | None = None,
        username: str | None = None,
        password: str | None = None,
        retention_policy: str | None = None,
        timeout_s: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.api = api
        self.db = db
        self.retention_policy = retention_policy
        self.timeout_s = timeout_s
        self._headers: dict[str, str] = {}
        self._auth: httpx.BasicAuth | None = None
        if api == "v2" and token:
            self._headers["Authorization"] = f"Token {token}"
        elif username:
            self._auth = httpx.BasicAuth(username, password or "")
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._settings = (url, api, db, token, username, password, retention_policy, timeout_s, transport)

    def copy(self) -> InfluxQueryClient:
        """A new, closed client to the same server with the same credentials: for work done on
        another thread's event loop (an httpx client belongs to the loop it was opened on)."""
        url, api, db, token, username, password, rp, timeout_s, transport = self._settings
        return InfluxQueryClient(
            url, api, db, token=token, username=username, password=password, retention_policy=rp,
            timeout_s=timeout_s, transport=transport,
        )  # fmt: skip

    async def open(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.url,
                headers=self._headers,
                auth=self._auth,
                timeout=self.timeout_s,
                transport=self._transport,
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _require(self) -> httpx.AsyncClient:
        if self._client is None:
            raise InfluxError("the InfluxDB client is not open")
        return self._client

    async def ping(self) -> None:
        try:
            response = await self._require().get("/ping", timeout=2.0)
        except httpx.HTTPError as error:
            raise InfluxError(f"{type(error).__name__}: {error}", unreachable=True) from error
        if response.status_code >= 300:
            raise InfluxError(f"/ping answered {response.status_code}")

    async def query(self, statement: str) -> list[list[Series]]:
        """Run one SELECT; a list with its list of series."""
        return await self.query_many([statement])

    async def query_many(self, statements: Sequence[str]) -> list[list[Series]]:
        """Run several SELECTs in one request; one list of series per statement, in order.
        StatementRefusedError, before anything is sent, when one of them is anything else."""
        text = "; ".join(check_select(statement) for statement in statements)
        params = {"db": self.db, "q": text, "epoch": "ms"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        try:
            response = await self._require().get("/query", params=params)
        except httpx.HTTPError as error:
            raise InfluxError(f"{type(error).__name__}: {error}", unreachable=True) from error
        try:
            body: dict[str, Any] = response.json()
        except ValueError as error:
            raise InfluxError(f"/query answered {response.status_code} without JSON") from error
        if response.status_code >= 300 or "error" in body:
            raise InfluxError(str(body.get("error") or f"/query answered {response.status_code}"))
        out: list[list[Series]] = []
        for result in body.get("results", []):
            if "error" in result:
                raise InfluxError(str(result["error"]))
            out.append(
                [
                    Series(s.get("name", ""), s.get("tags") or {}, s.get("columns", []), s.get("values", []))
                    for s in result.get("series", [])
                ]
            )
        return out
