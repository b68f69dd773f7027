"""Response times of AED incidents as Prometheus histograms, read from the store at scrape time.

Read, not counted as they happen: an incident's times are facts of the store (rules/incidents.py),
so the histograms are the same whichever process serves them and survive a restart. AED incidents
are rare (a few a year per cabinet), which keeps the read small. Drills are counted apart
(label `drill`), never mixed with the real response times.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from rules.incidents import events_per_incident, incidents, timings
from rules.store import AlertStore

BUCKETS_S: Final = (10.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
FAMILIES: Final = (
    (
        "time_to_ack_s",
        "louyu_incident_time_to_ack_seconds",
        "AED incidents: first alert to first acknowledgement",
    ),
    (
        "time_to_site_s",
        "louyu_incident_time_to_site_seconds",
        "AED incidents: first alert to the first on_site step",
    ),
    (
        "time_to_return_s",
        "louyu_incident_time_to_return_seconds",
        "AED incidents: first alert to the AED back",
    ),
)


def histogram(name: str, documentation: str, samples: dict[str, list[float]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=["drill"])
    for drill in ("false", "true"):
        values = samples.get(drill, [])
        buckets = [(repr(bound), float(sum(1 for v in values if v <= bound))) for bound in BUCKETS_S]
        buckets.append(("+Inf", float(len(values))))
        family.add_metric([drill], buckets, sum_value=sum(values))
    return family


class IncidentTimingCollector(Collector):
    def __init__(self, store: AlertStore) -> None:
        self._store = store

    def collect(self) -> Iterator[HistogramMetricFamily]:
        try:
            found = incidents(self._store)
            on_site = self._store.events_of([a.id for i in found for a in i.alerts], ("on_site",))
        except Exception:  # noqa: BLE001 (a scrape must not fail because the store is down; readyz says so)
            return
        per_incident = events_per_incident(found, on_site)
        samples: dict[str, dict[str, list[float]]] = {attr: {} for attr, _, _ in FAMILIES}
        for incident in found:
            times = timings(incident, per_incident.get(incident.id, []))
            drill = "true" if incident.drill else "false"
            for attr, _, _ in FAMILIES:
                value = getattr(times, attr)
                if value is not None:
                    samples[attr].setdefault(drill, []).append(float(value))
        for attr, name, documentation in FAMILIES:
            yield histogram(name, documentation, samples[attr])
