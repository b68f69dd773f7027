"""What a notification says: Jinja2 templates in Chinese and English, the registry's place names, and
what to do. Pure: an alert event and the registry in, a `Message` out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal
from zoneinfo import ZoneInfo

import jinja2
import yaml

from collector.registry import Registry
from rules.drill import is_drill

Reason = Literal["event", "reminder", "escalation"]
_STATE_ZH = {"firing": "告警中", "acknowledged": "已确认", "resolved": "已解除"}


@cache
def _environment() -> jinja2.Environment:
    # Plain text out (handsets, e-mail bodies, chat messages): no HTML escaping; undefined is an error,
    # so that a template mistake fails the tests instead of sending a half-empty message.
    return jinja2.Environment(
        loader=jinja2.PackageLoader("rules.notify", "templates"),
        autoescape=False,  # noqa: S701 (plain-text messages, never HTML)
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )


@cache
def _actions() -> dict[str, dict[str, list[str]]]:
    text = resources.files("rules.notify.data").joinpath("actions.yaml").read_text("utf-8")
    loaded: dict[str, dict[str, list[str]]] = yaml.safe_load(text)
    return loaded


def actions_for(rule: str) -> dict[str, list[str]]:
    table = _actions()
    return table.get(rule, table["_default"])


@dataclass(frozen=True, slots=True)
class Place:
    building: str
    building_name: str
    building_name_en: str
    floor: str | None
    zone: str | None
    location: str | None


def place_of(alert: Mapping[str, Any], registry: Registry) -> Place:
    """Where the alert is, from the registry, falling back on the alert's own labels."""
    building = str(alert.get("building", ""))
    info = registry.buildings.get(building)
    device = registry.get(building, str(alert.get("kind", "")), str(alert.get("device", "")))
    labels: Mapping[str, Any] = alert.get("labels") or {}
    return Place(
        building=building,
        building_name=info.name if info else building,
        building_name_en=(info.name_en or info.name) if info else building,
        floor=(device.floor if device else None) or labels.get("floor"),
        zone=(device.zone if device else None) or labels.get("zone"),
        location=(device.location if device else None) or labels.get("location"),
    )


@dataclass(frozen=True, slots=True)
class Message:
    title: dict[str, str]  # by language
    body: dict[str, str]
    actions: dict[str, list[str]]
    place: Place

    def text(self, language: str) -> tuple[str, str]:
        """(title, body) in `zh`, `en`, or both (`zh+en`, Chinese first)."""
        if language in ("zh", "en"):
            return self.title[language], self.body[language]
        return f"{self.title['zh']} / {self.title['en']}", f"{self.body['zh']}\n\n{self.body['en']}"


def _local(stamp: str | None, tz: ZoneInfo) -> str:
    if not stamp:
        return "-"
    try:
        when = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def render(
    event: Mapping[str, Any],
    registry: Registry,
    tz: ZoneInfo,
    reason: Reason = "event",
    level: int = 0,
    reminder: int = 0,
    minutes: int = 0,
) -> Message:
    alert: Mapping[str, Any] = event["alert"]
    place = place_of(alert, registry)
    actions = actions_for(str(alert.get("rule", "")))
    event_kind = str(event.get("event", "raised"))
    if reason == "reminder":
        event_kind = "reminded"
    elif reason == "escalation":
        event_kind = "escalated"
    context = {
        "alert": alert,
        "event": event_kind,
        "reason": reason,
        "level": level,
        "reminder": reminder,
        "minutes": minutes,
        "by": event.get("by"),
        "note": event.get("note"),
        "building_name": place.building_name,
        "building_name_en": place.building_name_en,
        "floor": place.floor,
        "location": place.location,
        "state_zh": _STATE_ZH.get(str(alert.get("state")), alert.get("state")),
        "drill": is_drill(alert.get("labels") or {}),
        "started_local": _local(alert.get("started_at"), tz),
    }
    env = _environment()
    titles, bodies = {}, {}
    for language in ("zh", "en"):
        titles[language] = env.get_template(f"title.{language}.j2").render(context, actions=actions[language])
        bodies[language] = (
            env.get_template(f"body.{language}.j2").render(context, actions=actions[language]).strip()
        )
    return Message(titles, bodies, actions, place)


def handset_payload(
    delivery_id: str, event: Mapping[str, Any], message: Message, reason: Reason, level: int
) -> dict[str, Any]:
    """The JSON a patrol handset receives on `louyu/notify/{receiver}`. The same bytes on every retry,
    so the handset deduplicates by `delivery_id`."""
    alert = event["alert"]
    return {
        "delivery_id": delivery_id,
        "reason": reason,
        "level": level,
        "event": event.get("event"),
        "event_id": event.get("event_id"),
        "at": event.get("at"),
        "drill": is_drill(alert.get("labels") or {}),
        "alert": alert,
        "building": {
            "id": message.place.building,
            "name": message.place.building_name,
            "name_en": message.place.building_name_en,
        },
        "floor": message.place.floor,
        "zone": message.place.zone,
        "location": message.place.location,
        "title": message.title,
        "text": message.body,
        "actions": message.actions,
    }
