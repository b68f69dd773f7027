"""Fixtures of the dashboard and board tests: the real API app (real SQLite alert store, real
tokens, the web pages mounted by the app factory) served by uvicorn on a loopback port."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine

import api.tokens  # noqa: F401  (registers the api_tokens table)
from api.app import create_app
from api.config import ApiConfig
from api.influx import InfluxQueryClient
from api.roles import Role
from api.server import ApiServer
from api.tokens import TokenStore
from collector.area_clock import AreaClock
from collector.broker import BrokerTarget
from collector.latest import LatestState
from collector.registry import Registry
from louyu.testing.services import Mosquitto
from rules.config import load_rules
from rules.engine import RuleEngine
from rules.notify.config import RoutingConfig
from rules.runner import RulesRunner
from rules.service import AlertService
from rules.store import AlertStore
from tests.web.contract import ApiContract

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"
CHROMIUM = "/usr/bin/chromium"


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
        port: int = 0,
        area_clock: AreaClock | None = None,
        routing: RoutingConfig | None = None,
    ) -> WebApi:
        store = store or AlertStore(engine)
        tokens = TokenStore(engine)
        table = devices if devices is not None else LatestState(registry)
        extra: dict[str, Any] = {"clock": clock} if clock else {}
        if area_clock is not None:
            extra["area_clock"] = area_clock
        if routing is not None:
            extra["routing"] = routing
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
        server = ApiServer(app, "127.0.0.1", port)
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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module (starting the driver and the browser costs seconds); every
    test opens contexts of its own, so no cookie, storage or page outlives its test.

    Not per session: between calls the sync API leaves its event loop marked as running on this
    thread, and `asyncio.run` in a later module's test (tests/web/test_board.py) would refuse."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `make sysdeps`")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    manager = sync_playwright()
    playwright = manager.start()
    # Playwright writes files (screenshots) through its event loop's default executor, which
    # starts a thread at first use: that thread would look like a leak to `verify_cleanup` in
    # whichever test took the first screenshot. One worker, started now, before any test.
    files = ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright-files")
    files.submit(lambda: None).result()
    manager._loop.set_default_executor(files)
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()
    finally:
        manager.__exit__(None, None, None)
        files.shutdown()


@pytest.fixture
def system(
    mosquitto: Mosquitto, engine: Any, registry: Registry, start_web: Callable[..., WebApi]
) -> Iterator[WebApi]:
    """Broker -> rules engine -> alert store -> API (SSE), and broker -> API latest state."""
    store = AlertStore(engine)
    runner = RulesRunner(
        lambda publisher: RuleEngine(load_rules(), registry, store, publisher),
        BrokerTarget("127.0.0.1", mosquitto.port),
    )
    runner.start()
    config = ApiConfig(
        mqtt=BrokerTarget("127.0.0.1", mosquitto.port),
        mqtt_client_id="louyu-api-web-test",
        rate_per_s=1000,
        rate_burst=1000,
        sse_poll_s=0.5,
        seed_from_influx=False,
    )
    web = start_web(config=config, store=store)
    try:
        yield web
    finally:
        runner.stop()


# The OpenAPI document of `system`'s app, fetched from the first one of the session. FastAPI takes
# one to several seconds to build it, and every `system` app is made by the same code with the
# same configuration (only the ports differ, and they are not in the document).
_SYSTEM_DOCUMENT: dict[str, Any] = {}


@pytest.fixture
def contract(system: WebApi) -> Iterator[ApiContract]:
    """The app's OpenAPI document as a checker; attach it to a browser context. The test fails
    if any request a page sent or any answer it read does not match the document."""
    if not _SYSTEM_DOCUMENT:
        _SYSTEM_DOCUMENT.update(httpx.get(f"{system.url}/openapi.json", timeout=10).json())
    checker = ApiContract(copy.deepcopy(_SYSTEM_DOCUMENT))
    yield checker
    assert checker.problems == [], "the page and the API disagree:\n" + "\n".join(checker.problems)
