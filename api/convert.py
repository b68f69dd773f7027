"""Records of the alert store -> response models."""

from __future__ import annotations

import datetime as dt

from api.models import AlertEventPublic, AlertPublic, AlertWithEvents, SilencePublic
from rules.records import AlertRecord, EventRecord, SilenceRecord


def alert_public(record: AlertRecord) -> AlertPublic:
    return AlertPublic.model_validate(record, from_attributes=True)


def event_public(record: EventRecord) -> AlertEventPublic:
    return AlertEventPublic(
        event_id=record.id, event=record.event, at=record.at, by=record.by, note=record.note
    )


def alert_with_events(record: AlertRecord, events: list[EventRecord]) -> AlertWithEvents:
    return AlertWithEvents.model_validate(
        {**alert_public(record).model_dump(), "events": [event_public(e) for e in events]}
    )


def silence_public(record: SilenceRecord, now: dt.datetime) -> SilencePublic:
    return SilencePublic(
        id=record.id,
        building=record.building,
        kind=record.kind,
        device=record.device,
        rule=record.rule,
        starts_at=record.starts_at,
        ends_at=record.ends_at,
        reason=record.reason,
        created_by=record.created_by,
        created_at=record.created_at,
        ended_by=record.ended_by,
        active=record.active_at(now),
    )
