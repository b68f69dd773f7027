"""Fixtures of the API tests: a real alert store (SQLite in tmp_path), real tokens, and the real
app served by uvicorn on a loopback port."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from api.app import create_app
from api.config import ApiConfig
from api.influx import InfluxQueryClient
from api.roles import Role
from api.server import ApiServer
from api.tokens import TokenStore
from collector.latest import LatestState
from collector.registry import Registry
from rules.notify.config import RoutingConfig
from rules.records import EventRecord
from rules.store import AlertStore, NewAlert

NOW = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)


def new_alert(
    device: str = "aed-b-1f-lobby",
    rule: str = "aed-cabinet-open",
    severity: str = "critical",
    building: str = "darong-b",
    kind: str = "aed",
    value: Any = True,
) -> NewAlert:
    return NewAlert(rule, severity, building, kind, device, f"{rule} at {device}", value, {"floor": "1F"})


@dataclass
class Api:
    """One running API: its server, its store and a token per role."""

    server: ApiServer
    store: AlertStore
    tokens: TokenStore
    devices: LatestState
    token: dict[Role, str]

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, role: Role | None = None, token: str | None = None) -> httpx.Client:
        headers = {}
        if role is not None:
            headers["Authorization"] = f"Bearer {self.token[role]}"
        elif token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def raise_alert(self, **kwargs: Any) -> EventRecord:
        event = self.store.raise_alert(new_alert(**kwargs), dt.datetime.now(dt.UTC))
        assert event is not None, "an alert for that rule and device is already open"
        return event


@pytest.fixture
def start_api(engine: Engine, registry: Registry) -> Iterator[Callable[..., Api]]:
    """Start the real app on a free loopback port; stopped at the end of the test."""
    started: list[ApiServer] = []

    def start(
        config: ApiConfig | None = None,
        history: InfluxQueryClient | None = None,
        devices: LatestState | None = None,
        clock: Callable[[], dt.datetime] | None = None,
        routing: RoutingConfig | None = None,
    ) -> Api:
        store = AlertStore(engine)
        tokens = TokenStore(engine)
        table = devices if devices is not None else LatestState(registry)
        extra: dict[str, Any] = {"clock": clock} if clock else {}
        if routing is not None:
            extra["routing"] = routing
        app = create_app(
            config or ApiConfig(rate_per_s=1000, rate_burst=1000, sse_poll_s=0.5),
            store=store,
            tokens=tokens,
            registry=registry,
            devices=table,
            history=history,
            **extra,
        )
        server = ApiServer(app, "127.0.0.1", 0)
        server.start()
        started.append(server)
        now = dt.datetime.now(dt.UTC)
        token = {role: tokens.create(f"{role.value}-{len(started)}", role, now)[1] for role in Role}
        return Api(server, store, tokens, table, token)

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def api(start_api: Callable[..., Api]) -> Api:
    return start_api()
