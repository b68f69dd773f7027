"""Fixtures of the dashboard and board tests: the real API app (real SQLite alert store, real
tokens, the web pages mounted by the app factory) served by uvicorn on a loopback port."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

import api.tokens  # noqa: F401  (registers the api_tokens table)
from api.app import create_app
from api.config import ApiConfig
from api.influx import InfluxQueryClient
from api.roles import Role
from api.server import ApiServer
from api.tokens import TokenStore
from collector.latest import LatestState
from collector.registry import Registry
from rules.service import AlertService
from rules.store import AlertStore

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"


@dataclass
class WebApi:
    server: ApiServer
    store: AlertStore
    devices: LatestState
    token: dict[Role, str]

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, role: Role | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@pytest.fixture
def start_web(engine: Engine, registry: Registry) -> Iterator[Callable[..., WebApi]]:
    started: list[ApiServer] = []

    def start(
        config: ApiConfig | None = None,
        history: InfluxQueryClient | None = None,
        devices: LatestState | None = None,
        actions: AlertService | None = None,
        store: AlertStore | None = None,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> WebApi:
        store = store or AlertStore(engine)
        tokens = TokenStore(engine)
        table = devices if devices is not None else LatestState(registry)
        extra: dict[str, Any] = {"clock": clock} if clock else {}
        app = create_app(
            config or ApiConfig(rate_per_s=1000, rate_burst=1000, sse_poll_s=0.5, seed_from_influx=False),
            store=store,
            tokens=tokens,
            registry=registry,
            devices=table,
            history=history,
            actions=actions,
            **extra,
        )
        server = ApiServer(app, "127.0.0.1", 0)
        server.start()
        started.append(server)
        now = dt.datetime.now(dt.UTC)
        token = {role: tokens.create(f"{role.value}-{len(started)}", role, now)[1] for role in Role}
        return WebApi(server, store, table, token)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def web(start_web: Callable[..., WebApi]) -> WebApi:
    return start_web()
