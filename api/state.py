"""Everything a request handler may reach, held on `app.state.louyu` (built by `create_app`)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from api.config import ApiConfig
from api.influx import InfluxQueryClient
from api.metrics import ApiMetrics
from api.mqtt_feed import MqttFeed
from api.ratelimit import RateLimiter
from api.stream_slots import StreamSlots
from api.tokens import TokenStore
from api.wakeup import Wakeup
from collector.area_clock import REAL, AreaClock
from collector.latest import LatestState
from collector.registry import Registry
from rules.config import RuleSet
from rules.notify.config import RoutingConfig
from rules.service import AlertService
from rules.store import AlertStore

if TYPE_CHECKING:
    # Only named here: the report modules import the dashboard's (api.web), which imports this.
    from api.reports.archive import ReportArchive
    from api.reports.service import ReportService


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(slots=True)
class ApiState:
    config: ApiConfig
    store: AlertStore
    # Acknowledge, resolve, silences: writes the store, then publishes the event on MQTT.
    actions: AlertService
    tokens: TokenStore
    registry: Registry
    devices: LatestState
    history: InfluxQueryClient | None
    metrics: ApiMetrics
    limiter: RateLimiter
    streams: StreamSlots
    wakeup: Wakeup = field(default_factory=Wakeup)
    clock: Callable[[], dt.datetime] = utc_now
    # The area's time of day (the board's service hours and best time): real, or a demo's.
    area_clock: AreaClock = REAL
    feed: MqttFeed | None = None
    # The rules file, for what the API tells of escalations (an incident's `escalation_due_at`).
    ruleset: RuleSet | None = None
    # Drills in progress (api/routes/drills.py), cancelled when the app stops.
    drills: set[asyncio.Task[None]] = field(default_factory=set)
    # Reports on demand (api/routes/reports.py); None until create_app wires it.
    reports: ReportService | None = None
    # Reports the schedule made and kept (api/reports/archive.py).
    archive: ReportArchive | None = None
    # The notifier's routing file: who is paged about what (GET /api/v1/me/alerts).
    routing: RoutingConfig = field(default_factory=RoutingConfig)
