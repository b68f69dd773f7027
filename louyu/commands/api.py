"""`louyu api`: the operator API alone; `build()` for `louyu up` to compose it with the rest."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import structlog
import typer
from fastapi import FastAPI

from api.app import create_app
from api.config import ApiConfig
from api.influx import InfluxQueryClient
from api.reports.schedule import ReportScheduler
from api.roles import Role
from api.server import ApiServer
from api.tokens import TokenStore
from collector.area_clock import AreaClock
from collector.dead_letters import DeadLetters
from collector.registry import Registry, RegistryError
from louyu import runtime
from louyu.settings import Settings
from rules.config import load_rules
from rules.database import make_engine
from rules.database.migrate import upgrade
from rules.notify.config import RoutingConfig, load_routing
from rules.notify.errors import RoutingFileError
from rules.service import AlertService
from rules.store import AlertStore

log = structlog.get_logger("louyu.api")

DEMO_TOKEN_NAME = "demo-operator"  # noqa: S105 (a name, not a secret)


def api_config(settings: Settings) -> ApiConfig:
    """The `api` section, wired to the broker every part uses and to the one setting for
    devices missing from the registry."""
    return settings.api.model_copy(
        update={"mqtt": settings.broker, "accept_unknown": settings.collector.unknown_devices == "accept"}
    )


def influx_client(settings: Settings) -> InfluxQueryClient:
    influx = settings.influx
    return InfluxQueryClient(
        influx.url,
        influx.api,
        influx.db,
        token=influx.token.get_secret_value() if influx.token else None,
        username=influx.username,
        password=influx.password.get_secret_value() if influx.password else None,
        retention_policy=influx.retention_policy,
        timeout_s=influx.timeout_s,
    )


def routing_for_api(settings: Settings) -> RoutingConfig:
    """The notifier's routing file, for the API's "routed to me" view. A broken file is the
    notifier's to refuse: the API, which shows AED alerts, starts anyway and routes to nobody."""
    try:
        return load_routing(settings.notify.file)
    except RoutingFileError as error:
        log.warning("routing_file_unusable", error=str(error)[:500])
        return RoutingConfig()


class ApiRuntime:
    """The API of one process: `start()` serves in a thread named `louyu-api` and returns once
    the socket accepts connections; `stop()` ends it."""

    def __init__(
        self,
        app: FastAPI,
        server: ApiServer,
        store: AlertStore,
        tokens: TokenStore,
        reports: ReportScheduler | None = None,
    ) -> None:
        self.app, self.server, self.store, self.tokens = app, server, store, tokens
        self.reports = reports

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        self.server.start()
        log.info("api_serving", url=self.server.url, docs=f"{self.server.url}/docs")
        if self.reports is not None:
            self.reports.start()
            log.info("report_schedule", jobs=[f"{job} next {when}" for job, when in self.reports.jobs()])

    def stop(self) -> None:
        if self.reports is not None:
            self.reports.stop()
        self.server.stop()
        self.store.engine.dispose()


def build(
    settings: Settings,
    registry: Registry,
    *,
    service: AlertService | None = None,
    config: ApiConfig | None = None,
    area_clock: AreaClock | None = None,
) -> ApiRuntime:
    """Wire the API from settings. `service`: the AlertService of a composing process (so that
    its publisher sends the events of acks and resolves); by default the API publishes them on
    its own MQTT connection."""
    engine = make_engine(settings.database.url)
    upgrade(engine)
    store = AlertStore(engine)
    tokens = TokenStore(engine)
    # One reading of the routing file: who is paged about what (/api/v1/me) and the reports it schedules.
    routing = routing_for_api(settings)
    app = create_app(
        config or api_config(settings),
        store=store,
        tokens=tokens,
        registry=registry,
        history=influx_client(settings),
        actions=service,
        ruleset=load_rules(settings.rules.file),
        area_clock=area_clock if area_clock is not None else runtime.area_clock(settings, registry),
        report_dir=settings.state_dir / "reports",
        routing=routing,
    )
    # The routing file's `reports:` entries: made on schedule by this process (docs/reports.md).
    state = app.state.louyu
    # The collector's rejected messages, for the data quality report, when this host has them.
    dead_letters = settings.collector.dead_letter_path
    if dead_letters is not None and Path(dead_letters).is_file():
        state.reports.dead_letters = DeadLetters(dead_letters)
    scheduler = None
    if routing.reports:
        try:
            scheduler = ReportScheduler(
                state.reports, state.archive, routing, state.clock, metrics=state.metrics
            )
        except ValueError as error:
            # A schedule the scheduler cannot take: the API still serves, unscheduled.
            log.error("report_schedule_refused", error=str(error)[:500])
    host, port = settings.api.host_port
    server = ApiServer(app, host, port, log_level=settings.log.level.lower())
    return ApiRuntime(app, server, store, tokens, scheduler)


def create_demo_token(settings: Settings, now: dt.datetime | None = None) -> str:
    """A fresh operator token for `make demo`, replacing the previous demo token. Print it once."""
    engine = make_engine(settings.database.url)
    try:
        upgrade(engine)
        tokens = TokenStore(engine)
        when = now or dt.datetime.now(dt.UTC)
        tokens.revoke_name(DEMO_TOKEN_NAME, when)
        _, token = tokens.create(DEMO_TOKEN_NAME, Role.OPERATOR, when, expires_days=7)
        return token
    finally:
        engine.dispose()


def announce_demo_token(settings: Settings) -> str:
    """Make the demo token and print it once on standard output, for `make demo`."""
    token = create_demo_token(settings)
    typer.echo(f"demo operator token (valid 7 days, shown once): {token}")
    return token


def api(
    bind: Annotated[str | None, typer.Option(help="HOST:PORT; default LOUYU_API_BIND")] = None,
) -> None:
    """Serve the operator API (alerts, devices, history, live events; docs at /docs)."""
    settings = runtime.start("api", overrides={"api_bind": bind} if bind else None)
    try:
        registry = Registry.load(settings.registry.file)
    except RegistryError as error:
        typer.echo(f"louyu api: {error}", err=True)
        raise typer.Exit(2) from error
    part = build(settings, registry)
    done = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    part.start()
    try:
        while not done.wait(1.0):
            pass
    finally:
        part.stop()
