"""The collector's counters, exported to Prometheus at scrape time.

Plain integers on the hot path (incremented by one thread each) and a custom collector that
reads them when Prometheus scrapes: a prometheus-client Counter costs a lock per increment,
which at 40,000 messages a second is measurable.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

WRITE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, float("inf"))


class CollectorStats:
    def __init__(self) -> None:
        self.received = 0
        self.accepted: Tally[str] = Tally()
        self.availability = 0
        self.rejected: Tally[str] = Tally()
        self.written = 0
        self.spooled = 0
        self.drained = 0
        self.write_errors: Tally[str] = Tally()
        self.acked = 0
        self.connected = False
        # Valid readings of devices missing from the registry, by building (registry buildings by
        # name, invented ones as `_other`) and by what became of them.
        self.quarantined: Tally[str] = Tally()
        self.unknown_accepted: Tally[str] = Tally()
        self.quarantine_evicted = 0
        # The bound of each per-device table, by table name (set by the pipeline).
        self.table_limits: dict[str, int] = {}
        self._write_counts = [0] * len(WRITE_BUCKETS)
        self._write_sum = 0.0

    def observe_write(self, seconds: float) -> None:
        self._write_sum += seconds
        for i, bound in enumerate(WRITE_BUCKETS):
            if seconds <= bound:
                self._write_counts[i] += 1
                break

    def write_histogram(self) -> tuple[list[tuple[str, float]], float]:
        cumulative, total = [], 0
        for bound, count in zip(WRITE_BUCKETS, self._write_counts, strict=True):
            total += count
            cumulative.append(("+Inf" if bound == float("inf") else repr(bound), float(total)))
        return cumulative, self._write_sum


class StatsCollector(Collector):
    """Prometheus view of `CollectorStats`, plus spool depth and age read on demand."""

    def __init__(
        self,
        stats: CollectorStats,
        spool_points: Callable[[], int],
        spool_age_s: Callable[[], float],
        table_sizes: Callable[[], dict[str, int]] = dict,
        log_suppressed: Callable[[], dict[str, int]] = dict,
    ) -> None:
        self.stats = stats
        self.spool_points = spool_points
        self.spool_age_s = spool_age_s
        self.table_sizes = table_sizes
        self.log_suppressed = log_suppressed

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily | HistogramMetricFamily]:
        s = self.stats
        yield CounterMetricFamily(
            "louyu_collector_messages_received", "MQTT messages received", value=s.received
        )
        accepted = CounterMetricFamily(
            "louyu_collector_readings_accepted", "Valid readings, by kind", labels=["kind"]
        )
        for kind, n in sorted(s.accepted.items()):
            accepted.add_metric([kind], n)
        yield accepted
        yield CounterMetricFamily(
            "louyu_collector_availability_messages", "Valid availability messages", value=s.availability
        )
        rejected = CounterMetricFamily(
            "louyu_collector_rejected", "Rejected messages, by reason", labels=["reason"]
        )
        for reason, n in sorted(s.rejected.items()):
            rejected.add_metric([reason], n)
        yield rejected
        yield CounterMetricFamily(
            "louyu_collector_points_written", "Points written to InfluxDB (live and drained)", value=s.written
        )
        yield CounterMetricFamily(
            "louyu_collector_points_spooled", "Points put in the on-disk spool", value=s.spooled
        )
        yield CounterMetricFamily(
            "louyu_collector_points_drained", "Spooled points later written", value=s.drained
        )
        errors = CounterMetricFamily(
            "louyu_collector_write_errors", "Failed InfluxDB writes, by class", labels=["class"]
        )
        for cls, n in sorted(s.write_errors.items()):
            errors.add_metric([cls], n)
        yield errors
        yield CounterMetricFamily(
            "louyu_collector_messages_acked", "Messages acknowledged to the broker", value=s.acked
        )
        yield GaugeMetricFamily(
            "louyu_collector_spool_points", "Points waiting in the spool", value=self.spool_points()
        )
        yield GaugeMetricFamily(
            "louyu_collector_spool_oldest_age_seconds",
            "Age of the oldest spooled batch",
            value=self.spool_age_s(),
        )
        yield GaugeMetricFamily(
            "louyu_collector_broker_connected",
            "1 while connected to the broker",
            value=1.0 if s.connected else 0.0,
        )
        unknown = CounterMetricFamily(
            "louyu_collector_unknown_device_readings",
            "Valid readings of devices not in the registry, by building (_other: not a registry building)",
            labels=["building", "action"],
        )
        for action, tally in (("quarantined", s.quarantined), ("accepted", s.unknown_accepted)):
            for building, n in sorted(tally.items()):
                unknown.add_metric([building, action], n)
        yield unknown
        yield CounterMetricFamily(
            "louyu_collector_quarantine_evicted",
            "Devices evicted from the quarantine to respect its bound",
            value=s.quarantine_evicted,
        )
        sizes = self.table_sizes()
        entries = GaugeMetricFamily(
            "louyu_collector_device_table_entries", "Entries in each per-device table", labels=["table"]
        )
        limits = GaugeMetricFamily(
            "louyu_collector_device_table_limit", "The bound of each per-device table", labels=["table"]
        )
        for table, limit in sorted(s.table_limits.items()):
            entries.add_metric([table], sizes.get(table, 0))
            limits.add_metric([table], limit)
        yield entries
        yield limits
        yield GaugeMetricFamily(
            "louyu_collector_unregistered_devices",
            "Devices heard but not in the registry and still tracked (quarantined, or accepted and cached)",
            value=sizes.get("quarantine", 0) + sizes.get("unknown_tags", 0),
        )
        suppressed = CounterMetricFamily(
            "louyu_collector_log_lines_suppressed",
            "Log lines held back by the rate limits, by event",
            labels=["event"],
        )
        for event, n in sorted(self.log_suppressed().items()):
            suppressed.add_metric([event], n)
        yield suppressed
        buckets, total = s.write_histogram()
        yield HistogramMetricFamily(
            "louyu_collector_write_seconds", "InfluxDB write latency", buckets=buckets, sum_value=total
        )
