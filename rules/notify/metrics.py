"""Prometheus metrics of the notifier: on the default registry once per process, or on a registry
passed in (tests)."""

from __future__ import annotations

import threading

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram


class NotifyMetrics:
    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.attempts = Counter(
            "louyu_notify_attempts_total",
            "Delivery attempts by channel and outcome (ok, retry, failed)",
            ["channel", "outcome"],
            registry=registry,
        )
        self.deliveries = Counter(
            "louyu_notify_deliveries_total",
            "Deliveries finished, by channel and final state (delivered, failed)",
            ["channel", "state"],
            registry=registry,
        )
        self.attempt_seconds = Histogram(
            "louyu_notify_attempt_seconds",
            "Time one delivery attempt took",
            ["channel"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0),
            registry=registry,
        )
        self.planned = Counter(
            "louyu_notify_planned_total",
            "Deliveries created, by reason (event, reminder, escalation, snapshot)",
            ["reason"],
            registry=registry,
        )
        self.pending = Gauge(
            "louyu_notify_pending",
            "Deliveries waiting for their first or next try",
            registry=registry,
        )
        self.latest_devices = Gauge(
            "louyu_notify_latest_devices",
            "Devices in the latest state kept for the building snapshot",
            registry=registry,
        )
        self.cursor = Gauge(
            "louyu_notify_cursor",
            "Id of the last alert event turned into deliveries",
            registry=registry,
        )


_default: NotifyMetrics | None = None
_lock = threading.Lock()


def default_metrics() -> NotifyMetrics:
    """The process-wide metrics on prometheus_client's default registry, created once."""
    global _default  # noqa: PLW0603 (one set of collectors per process registry)
    with _lock:
        if _default is None:
            _default = NotifyMetrics()
        return _default
