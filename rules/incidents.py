"""AED incidents: the alerts of one cabinet that belong to one episode, seen as one thing.

An incident is derived from the alert store, never stored apart (the alerts are the facts; an
incident is a way of reading them, so the two can never disagree):

- its alerts are the `aed-cabinet-open` and `aed-in-use` alerts of one device; an alert of that
  device raised while the incident is open (or at the very instant its last alert resolved: one
  reading can clear the cabinet and raise "in use") joins it;
- its id is the id of its first alert; it is `open` until every alert in it is resolved. The
  rules engine resolves these two alerts only when the device reports the cabinet closed and a
  state other than `in_use`, so "every alert resolved" is "the AED is back", unless an operator
  resolved them by hand (then the incident closes by that decision: docs/alerts.md);
- response steps (`en_route`, `on_site`, `handed_over`, `closing_note`) are events of its first
  alert, stored and published like every other alert event.

Grouped, never hidden: the alerts stay in the alert list as they are.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Final, Literal

from rules.drill import is_drill
from rules.records import AlertRecord, EventRecord
from rules.store import AlertStore

INCIDENT_RULES: Final = ("aed-cabinet-open", "aed-in-use")
STEPS: Final = ("en_route", "on_site", "handed_over", "closing_note")
Step = Literal["en_route", "on_site", "handed_over", "closing_note"]
IncidentState = Literal["open", "closed"]
# Most incidents a list reads: AED incidents are rare (a few a year per cabinet), but a query
# must still have a bound.
MAX_ALERTS: Final = 100_000
# More cabinets than any area has (a district has about 2,000 AEDs); each has at most two unresolved.
MAX_OPEN_CABINETS: Final = 5_000


@dataclass(frozen=True, slots=True)
class Incident:
    alerts: tuple[AlertRecord, ...]  # oldest first; never empty

    @property
    def first(self) -> AlertRecord:
        return self.alerts[0]

    @property
    def id(self) -> int:
        return self.first.id

    @property
    def building(self) -> str:
        return self.first.building

    @property
    def kind(self) -> str:
        return self.first.kind

    @property
    def device(self) -> str:
        return self.first.device

    @property
    def drill(self) -> bool:
        return any(is_drill(a.labels) for a in self.alerts)

    @property
    def opened_at(self) -> dt.datetime:
        return self.first.started_at

    @property
    def closed_at(self) -> dt.datetime | None:
        if any(a.resolved_at is None for a in self.alerts):
            return None
        return max(a.resolved_at for a in self.alerts if a.resolved_at is not None)

    @property
    def state(self) -> IncidentState:
        return "open" if self.closed_at is None else "closed"

    @property
    def acknowledged(self) -> AlertRecord | None:
        """The alert acknowledged first, if any was."""
        acked = [a for a in self.alerts if a.acknowledged_at is not None]
        return min(acked, key=lambda a: (a.acknowledged_at, a.id)) if acked else None


@dataclass(frozen=True, slots=True)
class Timings:
    """Seconds from the first alert to: the first acknowledgement, the first `on_site` step, the
    AED back (the incident closed). None until it happened."""

    time_to_ack_s: float | None
    time_to_site_s: float | None
    time_to_return_s: float | None


def group(alerts: Iterable[AlertRecord]) -> list[Incident]:
    """The incidents these alerts form, oldest first. Alerts of other rules are ignored."""
    by_device: dict[tuple[str, str, str], list[AlertRecord]] = {}
    for alert in alerts:
        if alert.rule in INCIDENT_RULES:
            by_device.setdefault((alert.building, alert.kind, alert.device), []).append(alert)
    incidents: list[Incident] = []
    for device_alerts in by_device.values():
        device_alerts.sort(key=lambda a: (a.started_at, a.id))
        current: list[AlertRecord] = []
        end: dt.datetime | None = None  # when the current incident closed; None: open
        for alert in device_alerts:
            if current and (end is None or alert.started_at <= end):
                current.append(alert)
            else:
                if current:
                    incidents.append(Incident(tuple(current)))
                current = [alert]
            end = Incident(tuple(current)).closed_at
        if current:
            incidents.append(Incident(tuple(current)))
    incidents.sort(key=lambda i: i.id)
    return incidents


def first_step(events: Iterable[EventRecord], step: str) -> EventRecord | None:
    return min((e for e in events if e.event == step), key=lambda e: (e.at, e.id), default=None)


def timings(incident: Incident, events: Iterable[EventRecord]) -> Timings:
    """Response times; a repeated step counts from its first time."""
    start = incident.opened_at

    def since(at: dt.datetime | None) -> float | None:
        return None if at is None else round((at - start).total_seconds(), 6)

    acked = incident.acknowledged
    on_site = first_step(events, "on_site")
    return Timings(
        time_to_ack_s=since(acked.acknowledged_at if acked else None),
        time_to_site_s=since(on_site.at if on_site else None),
        time_to_return_s=since(incident.closed_at),
    )


def events_per_incident(
    found: Iterable[Incident], events: Iterable[EventRecord]
) -> dict[int, list[EventRecord]]:
    """The given events sorted out by incident id (events of alerts in no incident are left out)."""
    owner = {a.id: i.id for i in found for a in i.alerts}
    result: dict[int, list[EventRecord]] = {}
    for event in events:
        if event.alert_id in owner:
            result.setdefault(owner[event.alert_id], []).append(event)
    return result


def incident_alerts(
    store: AlertStore, *, building: Collection[str] | None = None, device: Collection[str] | None = None
) -> list[AlertRecord]:
    """Every alert of the incident rules (of these buildings and devices), through the store's
    own paged list."""
    found: list[AlertRecord] = []
    cursor: str | None = None
    while len(found) < MAX_ALERTS:
        page, cursor = store.list_alerts(
            rule=list(INCIDENT_RULES),
            building=list(building) if building else None,
            device=list(device) if device else None,
            sort="id",
            limit=1000,
            cursor=cursor,
        )
        found.extend(page)
        if cursor is None:
            break
    return found


def incidents(
    store: AlertStore, *, building: Collection[str] | None = None, device: Collection[str] | None = None
) -> list[Incident]:
    return group(incident_alerts(store, building=building, device=device))


def open_incidents(
    store: AlertStore, *, building: Collection[str] | None = None, device: Collection[str] | None = None
) -> list[Incident]:
    """The open incidents only. An open incident has an unresolved alert, so only the cabinets
    with one are grouped: the console asks for these on every load, and reading every incident
    alert ever raised took seconds in a store of 100,000 alerts."""
    unresolved, _ = store.list_alerts(
        state=["firing", "acknowledged"],
        rule=list(INCIDENT_RULES),
        building=list(building) if building else None,
        device=list(device) if device else None,
        sort="id",
        limit=MAX_OPEN_CABINETS,
    )
    if not unresolved:
        return []
    cabinets = {(a.building, a.device) for a in unresolved}
    found = incidents(
        store, building=sorted({b for b, _ in cabinets}), device=sorted({d for _, d in cabinets})
    )
    return [i for i in found if i.state == "open" and (i.building, i.device) in cabinets]


def open_real_incident(store: AlertStore, building: str, device: str) -> Incident | None:
    """The cabinet's open incident that is not a drill: a drill is never started over one (a
    drill's own open incident may be carried on, stage by stage)."""
    found = [
        i for i in incidents(store, building=[building], device=[device]) if i.state == "open" and not i.drill
    ]
    return found[0] if found else None


def find(store: AlertStore, alert_id: int) -> Incident | None:
    """The incident that alert `alert_id` belongs to (any of its alerts, not only the first)."""
    alert = store.get(alert_id)
    if alert is None or alert.rule not in INCIDENT_RULES:
        return None
    for incident in incidents(store, building=[alert.building], device=[alert.device]):
        if incident.kind == alert.kind and any(a.id == alert_id for a in incident.alerts):
            return incident
    return None
