"""Prometheus metrics of one API app, on a registry of its own (several apps may live in one
process: tests, `louyu up`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.incident_metrics import IncidentTimingCollector
from rules.store import AlertStore


class AlertCountCollector(Collector):
    """Alerts by state and severity, read from the store at scrape time."""

    def __init__(self, counts: Callable[[], dict[str, dict[str, int]]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "louyu_alerts", "Alerts in the store by state and severity", labels=["state", "severity"]
        )
        try:
            counts = self._counts()
        except Exception:  # noqa: BLE001 (a scrape must not fail because the store is down; readyz says so)
            return
        for state, by_severity in counts.items():
            for severity, count in by_severity.items():
                family.add_metric([state, severity], count)
        yield family


class FeedCollector(Collector):
    """The API's own MQTT subscription: telemetry taken in, refused, and devices not admitted."""

    def __init__(self, read: Callable[[], tuple[int, int, int]]) -> None:
        self._read = read

    def collect(self) -> Iterator[CounterMetricFamily]:
        messages, rejected, dropped = self._read()
        yield CounterMetricFamily(
            "louyu_api_telemetry_messages", "Telemetry messages applied to the latest state", value=messages
        )
        yield CounterMetricFamily(
            "louyu_api_telemetry_rejected",
            "Telemetry messages refused by the contract's parser",
            value=rejected,
        )
        yield CounterMetricFamily(
            "louyu_api_devices_refused",
            "Messages of new devices refused: the state table is full",
            value=dropped,
        )


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "louyu_api_requests",
            "HTTP requests by route template, method and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "louyu_api_request_seconds",
            "Time to the response's first byte, by route template",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.streams = Gauge("louyu_api_event_streams", "Open event streams (SSE)", registry=self.registry)
        self.auth_failures = Counter(
            "louyu_api_auth_failures", "Refused requests by reason", ["reason"], registry=self.registry
        )
        self.devices = Gauge(
            "louyu_api_known_devices", "Devices in the latest-state table", registry=self.registry
        )
        self.report_sendings = Counter(
            "louyu_report_sendings",
            "Attempts to send a kept report to a receiver, by channel and outcome (ok, retry, failed: given up)",
            ["channel", "outcome"],
            registry=self.registry,
        )

    def watch_feed(self, read: Callable[[], tuple[int, int, int]]) -> None:
        self.registry.register(FeedCollector(read))

    def watch_alerts(self, counts: Callable[[], dict[str, dict[str, int]]]) -> None:
        self.registry.register(AlertCountCollector(counts))

    def watch_incidents(self, store: AlertStore) -> None:
        self.registry.register(IncidentTimingCollector(store))


# Every label value taken from a request comes from a fixed set, so that no client can grow the
# scrape without bound: an invented method is `other`, a path matched by no route `unmatched`
# (never the raw path), a status its class when it is not one the API answers with.
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUSES: Final = frozenset(
    {"200", "201", "204", "304", "400", "401", "403", "404", "405", "409", "413", "422", "429"}
    | {"500", "502", "503"}
)


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


def status_label(status: int) -> str:
    text = str(status)
    if text in STATUSES:
        return text
    return f"{status // 100}xx" if 1 <= status // 100 <= 5 else "other"


class MetricsMiddleware:
    """Count every request by its route template (never the raw path: ids would explode it)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                route = _route_of(scope)
                self.metrics.latency.labels(route).observe(time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.metrics.requests.labels(
                method_label(str(scope["method"])), _route_of(scope), status_label(status)
            ).inc()


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


class MergedExposition(Collector):
    """Several registries as one exposition, each metric family once.

    Under `louyu up` the API's registry and the process registry both describe some facts (the
    alert counts are read from the store by the API and kept as a gauge by the rules engine). A
    family named twice makes the exposition invalid for Prometheus' parsers, so the first
    registry's family wins: the API's, read from the store at scrape time, is the one owner.
    """

    def __init__(self, *registries: Collector) -> None:
        self._registries = registries

    def collect(self) -> Iterator[Metric]:
        seen: set[str] = set()
        for registry in self._registries:
            for family in registry.collect():
                if family.name in seen:
                    continue
                seen.add(family.name)
                yield family
