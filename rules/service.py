"""Manual lifecycle actions (the API's ack and resolve): write the store's event, then publish it."""

from __future__ import annotations

import datetime as dt

from rules.publisher import EventPublisher
from rules.records import EventRecord, SilenceRecord
from rules.store import AlertStore


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AlertService:
    """What people do to alerts. Errors (AlertNotFound, InvalidTransition, ...) come from the store."""

    def __init__(self, store: AlertStore, publisher: EventPublisher) -> None:
        self.store = store
        self.publisher = publisher

    def acknowledge(
        self, alert_id: int, by: str, note: str | None = None, now: dt.datetime | None = None
    ) -> EventRecord:
        event = self.store.acknowledge(alert_id, by, note, now or utcnow())
        self.publisher.publish(event)
        return event

    def resolve(
        self, alert_id: int, by: str, note: str | None = None, now: dt.datetime | None = None
    ) -> EventRecord:
        event = self.store.resolve(alert_id, by, note, now or utcnow())
        self.publisher.publish(event)
        return event

    def record(
        self, alert_id: int, event: str, by: str, note: str | None = None, now: dt.datetime | None = None
    ) -> EventRecord:
        """An event that leaves the alert as it is (an incident's response step), published like
        the others: on MQTT, to the event stream and, through the notifier, to the city platform."""
        event_record = self.store.record(alert_id, event, by, note, now or utcnow())
        self.publisher.publish(event_record)
        return event_record

    def create_silence(
        self,
        *,
        reason: str,
        created_by: str,
        ends_at: dt.datetime,
        starts_at: dt.datetime | None = None,
        building: str | None = None,
        kind: str | None = None,
        device: str | None = None,
        rule: str | None = None,
        now: dt.datetime | None = None,
    ) -> SilenceRecord:
        return self.store.create_silence(
            reason=reason,
            created_by=created_by,
            ends_at=ends_at,
            starts_at=starts_at,
            building=building,
            kind=kind,
            device=device,
            rule=rule,
            now=now or utcnow(),
        )

    def extend_silence(
        self, silence_id: int, ends_at: dt.datetime, now: dt.datetime | None = None
    ) -> SilenceRecord:
        """Move the end of a silence in force (to end it now, use `end_silence`)."""
        return self.store.extend_silence(silence_id, ends_at, now or utcnow())

    def end_silence(self, silence_id: int, by: str, now: dt.datetime | None = None) -> SilenceRecord:
        """End a silence and at once publish `unsilenced` for the alerts it was muting."""
        when = now or utcnow()
        silence = self.store.end_silence(silence_id, by, when)
        for event in self.store.close_ended_silences(when):
            self.publisher.publish(event)
        return silence
