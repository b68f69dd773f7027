"""From an alert event to the deliveries it calls for: pure, `now` passed in.

Each delivery carries its final bytes, built here once, so that every retry sends exactly the same
message under the same id (the webhook receiver and the handset deduplicate by it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent

from collector.registry import Registry
from rules.notify.config import Receiver, Route, RoutingConfig
from rules.notify.messages import Message, Reason, handset_payload, render
from rules.notify.policy import levels
from rules.notify.routing import matching_routes
from rules.notify.schedule import first_level_on_duty, on_duty_names

CLOUDEVENT_TYPE_PREFIX = "cn.louyu"


@dataclass(frozen=True, slots=True)
class Planned:
    """A delivery to insert."""

    id: str
    receiver: str
    channel: str
    reason: str  # event | reminder | escalation | snapshot
    level: int
    route: str | None
    title: str
    payload: str
    next_attempt_at: dt.datetime
    deadline: dt.datetime
    event_id: int | None = None
    alert_id: int | None = None
    event: str | None = None
    severity: str | None = None
    rule: str | None = None
    building: str | None = None


@dataclass(frozen=True, slots=True)
class TrackStart:
    """A timed route begins following an alert."""

    alert_id: int
    route: str
    event_id: int
    started_at: dt.datetime
    level: int


@dataclass(slots=True)
class EventPlan:
    deliveries: list[Planned]
    tracks: list[TrackStart]
    stop_alert: bool  # acknowledged or resolved: stop every reminder and escalation of the alert


def _json(data: Any) -> str:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def cloudevent_body(
    delivery_id: str,
    source: str,
    kind: str,
    subject: str | None,
    time: str | None,
    data: Mapping[str, Any],
    drill: bool = False,
) -> str:
    """A CloudEvents 1.0 event in structured JSON mode. `id` is the delivery id, so that the platform
    can deduplicate retries by (source, id) as the CloudEvents spec intends. A drill's event carries
    the extension attribute `drill: true` (rules/drill.py), so the platform can tell it at once."""
    attributes: dict[str, Any] = {
        "id": delivery_id,
        "source": source,
        "type": f"{CLOUDEVENT_TYPE_PREFIX}.{kind}",
        "datacontenttype": "application/json",
    }
    if drill:
        attributes["drill"] = True
    if subject:
        attributes["subject"] = subject
    if time:
        attributes["time"] = dt.datetime.fromisoformat(time)
    message = to_structured_event(CloudEvent(attributes, dict(data)))
    return message.body.decode("utf-8")


def build_payload(
    receiver: Receiver,
    delivery_id: str,
    event: Mapping[str, Any],
    message: Message,
    reason: Reason,
    level: int,
) -> tuple[str, str]:
    """(title, payload) of one delivery for the receiver's channel."""
    title, body = message.text(receiver.language)
    handset = handset_payload(delivery_id, event, message, reason, level)
    if receiver.mqtt is not None:
        return title, _json(handset)
    if receiver.apprise is not None:
        return title, body
    kind = f"alert.{handset['event']}" if reason == "event" else f"alert.{reason}"
    if receiver.cloudevents is not None:
        alert = event["alert"]
        subject = f"{alert.get('building')}/{alert.get('kind')}/{alert.get('device')}"
        data = {
            **event,
            "place": handset["building"] | {"floor": handset["floor"], "location": handset["location"]},
        }
        if reason != "event":
            data |= {"reason": reason, "level": level}
        return title, cloudevent_body(
            delivery_id,
            receiver.cloudevents.source,
            kind,
            subject,
            event.get("at"),
            data,
            drill=handset["drill"],
        )
    # Plain webhook: the Standard Webhooks payload shape {type, timestamp, data}.
    return title, _json({"type": kind, "timestamp": event.get("at"), "data": handset})


def _planned(
    config: RoutingConfig,
    receiver_name: str,
    delivery_id: str,
    event: Mapping[str, Any],
    message: Message,
    reason: Reason,
    level: int,
    route: str | None,
    now: dt.datetime,
) -> Planned:
    receiver = config.receiver(receiver_name)
    title, payload = build_payload(receiver, delivery_id, event, message, reason, level)
    alert = event["alert"]
    return Planned(
        id=delivery_id,
        receiver=receiver.name,
        channel=receiver.channel,
        reason=reason,
        level=level,
        route=route,
        title=title,
        payload=payload,
        next_attempt_at=now,
        deadline=now + receiver.retry.deadline,
        event_id=event.get("event_id"),
        alert_id=alert.get("id"),
        event=str(event.get("event")),
        severity=alert.get("severity"),
        rule=alert.get("rule"),
        building=alert.get("building"),
    )


STARTING_EVENTS = frozenset({"raised", "unsilenced"})
STOPPING_EVENTS = frozenset({"acknowledged", "resolved"})


def plan_event(
    config: RoutingConfig,
    registry: Registry,
    event: Mapping[str, Any],
    now: dt.datetime,
    track_levels: Mapping[str, int] | None = None,
) -> EventPlan:
    """The deliveries an alert event calls for, and the timed routes it starts or stops.

    `track_levels` (route name -> level reached) lets an acknowledgement or resolution reach every
    level the alert was escalated to, so that the manager who was called also hears it is handled."""
    alert: Mapping[str, Any] = event["alert"]
    kind = str(event.get("event"))
    event_id = int(event["event_id"])
    plan = EventPlan([], [], stop_alert=kind in STOPPING_EVENTS)
    chosen: dict[str, tuple[str, int]] = {}  # receiver -> (route name, level); the first route wins
    for index in matching_routes(config, alert):
        route: Route = config.routes[index]
        name = config.route_name(index)
        if not route.takes(kind) or (alert.get("silenced") and not route.include_silenced):
            continue
        if kind == "unsilenced" and alert.get("state") != "firing" and route.events != "all":
            continue  # to people, the end of a silence over an alert somebody already took is no news
        level, names = 0, on_duty_names(config, route.receivers, now)
        if kind in STARTING_EVENTS:
            # Nobody of the first level on duty: go straight to the first level that has somebody.
            found = first_level_on_duty(config, levels(route), 0, now)
            if found is not None:
                level, names = found
            if route.timed:
                plan.tracks.append(TrackStart(int(alert["id"]), name, event_id, now, level))
        elif kind in STOPPING_EVENTS and track_levels and name in track_levels:
            reached = levels(route)[: track_levels[name] + 1]
            names = on_duty_names(config, [n for level_names in reached for n in level_names], now)
        for receiver in names:
            chosen.setdefault(receiver, (name, level))
    message: Message | None = None
    for receiver, (route_name, level) in chosen.items():
        if message is None:
            message = render(event, registry, config.tz)
        delivery_id = f"evt-{event_id}-{receiver}"
        plan.deliveries.append(
            _planned(config, receiver, delivery_id, event, message, "event", level, route_name, now)
        )
    return plan


def plan_timed(
    config: RoutingConfig,
    registry: Registry,
    event: Mapping[str, Any],
    route_name: str,
    reason: Reason,
    level: int,
    reminder: int,
    receivers: list[str],
    started_at: dt.datetime,
    now: dt.datetime,
) -> list[Planned]:
    """Deliveries of one reminder or escalation of an alert (`event` is the event that started it)."""
    alert_id = event["alert"]["id"]
    minutes = int((now - started_at).total_seconds() // 60)
    message = render(event, registry, config.tz, reason, level=level, reminder=reminder, minutes=minutes)
    # The track's start is in the id: a track begun again (the alert unsilenced) never reuses one.
    track = int(started_at.timestamp())
    tag = (
        f"esc-{alert_id}-{route_name}-{track}-L{level}"
        if reason == "escalation"
        else f"rem-{alert_id}-{route_name}-{track}-L{level}-{reminder}"
    )
    return [
        _planned(config, name, f"{tag}-{name}", event, message, reason, level, route_name, now)
        for name in receivers
    ]


def plan_snapshot(config: RoutingConfig, status: Mapping[str, Any], now: dt.datetime) -> list[Planned]:
    """The building status snapshot for each snapshot receiver; it expires after one interval, since a
    newer one replaces it."""
    if config.snapshot is None:
        return []
    stamp = now.astimezone(dt.UTC)
    time = stamp.isoformat(timespec="microseconds")
    deliveries = []
    for name in config.snapshot.receivers:
        receiver = config.receiver(name)
        delivery_id = f"snap-{int(stamp.timestamp())}-{name}"
        title = "louyu building status"
        if receiver.cloudevents is not None:
            payload = cloudevent_body(
                delivery_id, receiver.cloudevents.source, "building.status", None, time, status
            )
        elif receiver.apprise is not None:
            payload = _json(status)
        elif receiver.mqtt is not None:
            payload = _json({"delivery_id": delivery_id, "type": "building.status", "data": status})
        else:
            payload = _json({"type": "building.status", "timestamp": time, "data": status})
        deliveries.append(
            Planned(
                id=delivery_id,
                receiver=name,
                channel=receiver.channel,
                reason="snapshot",
                level=0,
                route=None,
                title=title,
                payload=payload,
                next_attempt_at=now,
                deadline=now + min(config.snapshot.every, receiver.retry.deadline),
            )
        )
    return deliveries
