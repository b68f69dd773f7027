"""The app factory: `create_app(config, store=..., tokens=..., registry=...)` with plain objects.

Clients (the InfluxDB HTTP client, the MQTT subscription) start in the lifespan and stop with
it. The routers come from `api/routes/__init__.py`; the dashboard, when `api/web` exists, is
mounted by its own `api.web.mount(app, state)`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import importlib.util
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI

from api import docs_page, errors, responses
from api.body_limit import BodyLimitMiddleware
from api.compression import CompressionMiddleware
from api.config import VERSION, ApiConfig
from api.influx import InfluxQueryClient
from api.methods import MethodsMiddleware
from api.metrics import ApiMetrics, MetricsMiddleware
from api.mqtt_feed import MqttFeed
from api.publisher import FeedPublisher
from api.ratelimit import RateLimiter
from api.reports.archive import ReportArchive
from api.reports.service import ReportService
from api.response_headers import ApiHeadersMiddleware
from api.routes import ROUTERS
from api.seeding import start_seeding
from api.state import ApiState, utc_now
from api.stream_slots import StreamSlots
from api.tokens import TokenStore
from collector.area_clock import REAL, AreaClock
from collector.latest import LatestState
from collector.registry import Registry
from rules.config import RuleSet, load_rules
from rules.notify.config import RoutingConfig, load_routing
from rules.service import AlertService
from rules.store import AlertStore

log = structlog.get_logger("louyu.api")

DESCRIPTION = """
The operator API of louyu: alerts (list, one with its events, acknowledge, resolve), silences,
devices with their latest readings and status, building summaries, history from InfluxDB, a
live stream of alert events (SSE), and health.

Every `/api/v1` route needs `Authorization: Bearer <token>` (`louyu token create`). Roles:
`viewer` and `integration` read and follow the event stream; `patrol` also acknowledges;
`operator` also resolves and manages silences; `admin` does everything.
"""


def create_app(
    config: ApiConfig,
    *,
    store: AlertStore,
    tokens: TokenStore,
    registry: Registry,
    devices: LatestState | None = None,
    history: InfluxQueryClient | None = None,
    actions: AlertService | None = None,
    clock: Callable[[], dt.datetime] = utc_now,
    ruleset: RuleSet | None = None,
    area_clock: AreaClock = REAL,
    report_dir: Path | None = None,
    routing: RoutingConfig | None = None,
) -> FastAPI:
    """Build the app. `actions` acknowledges, resolves and manages silences, publishing each
    event; by default an AlertService that publishes on the API's own MQTT connection (or
    nowhere, without a broker: the event is stored all the same). `ruleset`: the rules file the
    engines run (escalation times); by default the shipped rules. `routing`: the notifier's
    routing file, for who is paged about what; by default the packaged one, as the notifier's."""
    ruleset = ruleset if ruleset is not None else load_rules()
    metrics = ApiMetrics()
    metrics.watch_alerts(store.counts)
    publisher = FeedPublisher()
    state = ApiState(
        config=config,
        store=store,
        actions=actions or AlertService(store, publisher),
        tokens=tokens,
        registry=registry,
        devices=devices
        if devices is not None
        else LatestState(registry, accept_unknown=config.accept_unknown),
        history=history,
        metrics=metrics,
        limiter=RateLimiter(config.rate_per_s, config.rate_burst),
        streams=StreamSlots(config.sse_max_streams, config.sse_max_streams_per_token),
        clock=clock,
        ruleset=ruleset,
        area_clock=area_clock,
        routing=routing if routing is not None else load_routing(),
    )
    metrics.watch_incidents(store)

    # Reports read the rules' thresholds (the battery level an AED must stay above) from the same
    # rules file as the incidents' escalation times.
    state.reports = ReportService(registry, ruleset, store.engine, history, clock)
    state.archive = ReportArchive(store.engine, report_dir)

    def feed_counts() -> tuple[int, int, int]:
        feed = state.feed
        return (
            (feed.messages, feed.rejected, state.devices.dropped) if feed else (0, 0, state.devices.dropped)
        )

    metrics.watch_feed(feed_counts)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        state.wakeup.closed = False
        seeding: asyncio.Task[int] | None = None
        if state.history is not None:
            await state.history.open()
            if config.seed_from_influx:
                seeding = await start_seeding(
                    state.history,
                    state.devices,
                    state.registry,
                    config.seed_timeout_s,
                    config.seed_background_s,
                )
        if config.mqtt is not None:
            state.feed = MqttFeed(config.mqtt, state.devices, state.wakeup.notify, config.mqtt_client_id)
            state.feed.start()
            publisher.feed = state.feed
        try:
            yield
        finally:
            if seeding is not None:
                seeding.cancel()
            state.wakeup.close()
            for drill in list(state.drills):
                drill.cancel()
            if state.feed is not None:
                publisher.feed = None
                await asyncio.to_thread(state.feed.stop)
                state.feed = None
            if state.history is not None:
                await state.history.close()

    local_docs = docs_page.swagger_assets() is not None
    app = FastAPI(
        title=config.title,
        version=VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None if local_docs else "/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    if local_docs:
        docs_page.install(app, config.title)
    app.state.louyu = state
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    mount_web(app, state)
    # Every route's error answers in the document, from its dependencies (api/responses.py).
    responses.document(app)
    app.add_middleware(MethodsMiddleware, routes=app.router.routes)
    # gzip inside the metrics, so that the latency they record includes compressing the answer.
    app.add_middleware(CompressionMiddleware)
    # Outermost last: metrics see every answer, including the body limit's 413, and the
    # security headers go on every one of them.
    app.add_middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(ApiHeadersMiddleware)
    return app


def mount_web(app: FastAPI, state: ApiState) -> None:
    """The dashboard seam: `api/web` mounts itself when it is there."""
    if importlib.util.find_spec("api.web") is None:
        return
    web = importlib.import_module("api.web")
    mount = getattr(web, "mount", None)
    if callable(mount):
        mount(app, state)
