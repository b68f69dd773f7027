"""Prometheus metrics of the rules engine. Module-level on the default registry, or built on
a registry passed in (tests, several engines in one process)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from rules.records import SEVERITIES, STATES


class RulesMetrics:
    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.evaluations = Counter(
            "louyu_rules_evaluations_total",
            "Rule evaluations against a reading or a sweep",
            ["rule"],
            registry=registry,
        )
        self.evaluation_seconds = Histogram(
            "louyu_rules_evaluation_seconds",
            "Time from a reading's arrival to the end of its handling (events stored and published)",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=registry,
        )
        self.messages = Counter(
            "louyu_rules_messages_total",
            "Telemetry messages seen by the engine",
            ["outcome"],
            registry=registry,
        )
        self.events = Counter(
            "louyu_alert_events_total",
            "Alert events written and published",
            ["event", "severity"],
            registry=registry,
        )
        self.alerts = Gauge(
            "louyu_alerts",
            "Alerts in the store by state and severity",
            ["state", "severity"],
            registry=registry,
        )
        self.inhibited = Counter(
            "louyu_rules_inhibited_total",
            "Liveness alerts held back because a gateway or building is offline",
            ["rule"],
            registry=registry,
        )
        self.tables = Gauge(
            "louyu_rules_table_entries",
            "Entries in each of the engine's per-device tables (each is bounded: docs/rules.md)",
            ["table"],
            registry=registry,
        )
        self.lanes = Gauge(
            "louyu_rules_lane_messages",
            "Messages taken from the broker and waiting for evaluation, by lane (urgent: the kinds a"
            " critical rule watches, evaluated first)",
            ["lane"],
            registry=registry,
        )
        self.errors = Counter(
            "louyu_rules_errors_total",
            "Failures while handling a message or running a job",
            ["where"],
            registry=registry,
        )

    def set_counts(self, counts: dict[str, dict[str, int]]) -> None:
        for state in STATES:
            for severity in SEVERITIES:
                self.alerts.labels(state, severity).set(counts.get(state, {}).get(severity, 0))


_default: RulesMetrics | None = None


def default_metrics() -> RulesMetrics:
    """The process-wide metrics on prometheus_client's default registry, created once."""
    global _default  # noqa: PLW0603 (one set of collectors per process registry)
    if _default is None:
        _default = RulesMetrics()
    return _default
