"""The alert store: alerts, their events, silences and pending `for` timers, in SQL.

Every state change writes the alert row and an event row in one transaction; the event row keeps
a snapshot of the alert, and its id (increasing across all alerts) is what SSE clients resume
from. Writes are guarded by the state they expect (`WHERE state = 'firing'`), and opening an
alert relies on the partial unique index, so several engines or API processes sharing one
database never double an alert or an event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine, delete, func, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rules.alert_query import AlertFilter, Filter, next_cursor, ordered
from rules.database import SessionSource
from rules.database.alerts import AlertRow, EventRow, PendingRow, SilenceRow
from rules.errors import AlertNotFound, InvalidSilence, InvalidTransition, SilenceEnded, SilenceNotFound
from rules.records import SEVERITIES, STATES, AlertRecord, EventRecord, JsonValue, SilenceRecord
from rules.silences import muting

MAX_PAGE: Final = 1000


@dataclass(frozen=True, slots=True)
class NewAlert:
    """What the engine knows when a rule fires."""

    rule: str
    severity: str
    building: str
    kind: str
    device: str
    summary: str
    value: JsonValue
    labels: dict[str, str]


@dataclass(frozen=True, slots=True)
class Pending:
    rule: str
    building: str
    kind: str
    device: str
    since: dt.datetime
    value: JsonValue


def to_record(row: AlertRow) -> AlertRecord:
    return AlertRecord(
        id=row.id,
        rule=row.rule,
        severity=row.severity,
        state=row.state,
        building=row.building,
        kind=row.kind,
        device=row.device,
        summary=row.summary,
        value=row.value,
        started_at=row.started_at,
        updated_at=row.updated_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution=row.resolution,
        escalated_at=row.escalated_at,
        escalation_level=row.escalation_level,
        flapping=row.flapping,
        silenced=row.silenced,
        labels=dict(row.labels or {}),
    )


def _event_record(row: EventRow) -> EventRecord:
    return EventRecord(
        id=row.id,
        alert_id=row.alert_id,
        event=row.event,
        at=row.at,
        by=row.by,
        note=row.note,
        alert=AlertRecord.from_json(row.alert),
    )


def _silence_record(row: SilenceRow) -> SilenceRecord:
    return SilenceRecord(
        id=row.id,
        building=row.building,
        kind=row.kind,
        device=row.device,
        rule=row.rule,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        ended_by=row.ended_by,
        closed_at=row.closed_at,
    )


def _muted(active: Sequence[SilenceRecord], row: AlertRow, now: dt.datetime) -> bool:
    """Whether one of the active silences mutes this stored alert."""
    found = muting(active, rule=row.rule, severity=row.severity, building=row.building, kind=row.kind,
                   device=row.device, now=now)  # fmt: skip
    return found is not None


class AlertStore(SessionSource):
    """Alerts, events, silences and pending timers on a SQLAlchemy engine (SQLite or PostgreSQL).

    `buildings` (empty: all) is what a rules engine owning some buildings reads as its own: their
    open alerts (what it escalates and keeps in its open map), their pending timers and their
    counts (its gauges, which would otherwise count every alert once per engine). Writes, and the
    API's reads (`list_alerts`, `get`, events), are never filtered: every engine shares one store,
    guarded by state and by the partial unique index whichever engine writes.
    """

    def __init__(self, engine: Engine, buildings: Collection[str] = ()) -> None:
        super().__init__(engine)
        self.buildings = tuple(sorted(set(buildings)))

    def _owned(self) -> ColumnElement[bool]:
        """The owned buildings' alerts (every alert when the store owns all)."""
        return AlertRow.building.in_(self.buildings) if self.buildings else true()

    # ---------------------------------------------------------------- reading

    def get(self, alert_id: int) -> AlertRecord | None:
        with self._reader() as session:
            row = session.get(AlertRow, alert_id)
            return to_record(row) if row is not None else None

    def events(self, alert_id: int) -> list[EventRecord]:
        with self._reader() as session:
            rows = session.scalars(
                select(EventRow).where(EventRow.alert_id == alert_id).order_by(EventRow.id)
            ).all()
            return [_event_record(r) for r in rows]

    def events_of(self, alert_ids: Collection[int], names: Collection[str] = ()) -> list[EventRecord]:
        """The events of several alerts (only those named `names`, when given), oldest first."""
        if not alert_ids:
            return []
        query = select(EventRow).where(EventRow.alert_id.in_(sorted(set(alert_ids))))
        if names:
            query = query.where(EventRow.event.in_(sorted(set(names))))
        with self._reader() as session:
            return [_event_record(r) for r in session.scalars(query.order_by(EventRow.id)).all()]

    def events_after(self, event_id: int, limit: int = 1000) -> list[EventRecord]:
        """Every alert's events with an id above `event_id`, oldest first (SSE resume, notifier)."""
        with self._reader() as session:
            rows = session.scalars(
                select(EventRow).where(EventRow.id > event_id).order_by(EventRow.id).limit(max(1, limit))
            ).all()
            return [_event_record(r) for r in rows]

    def last_event_id(self) -> int:
        with self._reader() as session:
            return int(session.scalar(select(func.max(EventRow.id))) or 0)

    def list_alerts(
        self,
        *,
        state: Filter = None,
        severity: Filter = None,
        building: Filter = None,
        kind: Filter = None,
        device: Filter = None,
        rule: Filter = None,
        text: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        sort: str = "-started_at",
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[AlertRecord], str | None]:
        """One page of alerts and the cursor of the next page (None on the last page).

        `sort` is one of started_at, updated_at, id, severity, priority, with `-` for descending
        (`rules/alert_query.py` says what priority means); ties are broken by id, and the cursor
        holds the last row's key, so pages stay stable while new alerts arrive.
        """
        where = AlertFilter(state, severity, building, kind, device, rule, text, since, until)
        query = ordered(where.apply(select(AlertRow)), sort, cursor)
        limit = min(max(1, limit), MAX_PAGE)
        with self._reader() as session:
            rows = session.scalars(query.limit(limit + 1)).all()
            records = [to_record(r) for r in rows[:limit]]
        more = next_cursor(sort, records[-1]) if len(rows) > limit else None
        return records, more

    def count_alerts(self, where: AlertFilter) -> dict[str, dict[str, int]]:
        """How many alerts match, per severity and per state, zeros included. Each count ignores
        its own filter (the severity counts every severity the other filters allow), so a
        filter bar can show what choosing another value would bring."""
        result = {"severity": dict.fromkeys(SEVERITIES, 0), "state": dict.fromkeys(STATES, 0)}
        with self._reader() as session:
            for facet, column in (("severity", AlertRow.severity), ("state", AlertRow.state)):
                query = where.apply(select(column, func.count()), skip=(facet,)).group_by(column)
                for value, count in session.execute(query).all():
                    result[facet][value] = int(count)
        return result

    def open_alerts(self) -> list[AlertRecord]:
        """The unresolved alerts of the owned buildings."""
        with self._reader() as session:
            rows = session.scalars(select(AlertRow).where(AlertRow.state != "resolved", self._owned())).all()
            return [to_record(r) for r in rows]

    def open_alert(self, rule: str, building: str, kind: str, device: str) -> AlertRecord | None:
        with self._reader() as session:
            row = session.scalars(
                select(AlertRow).where(
                    AlertRow.rule == rule,
                    AlertRow.building == building,
                    AlertRow.kind == kind,
                    AlertRow.device == device,
                    AlertRow.state != "resolved",
                )
            ).first()
            return to_record(row) if row is not None else None

    def counts(self) -> dict[str, dict[str, int]]:
        """Alerts of the owned buildings by state, then severity: `{"firing": {"critical": 1, ...},
        ...}`, zeros included."""
        result = {state: dict.fromkeys(SEVERITIES, 0) for state in STATES}
        with self._reader() as session:
            rows = session.execute(
                select(AlertRow.state, AlertRow.severity, func.count())
                .where(self._owned())
                .group_by(AlertRow.state, AlertRow.severity)
            ).all()
        for state, severity, count in rows:
            result.setdefault(state, dict.fromkeys(SEVERITIES, 0))[severity] = int(count)
        return result

    # ------------------------------------------------------------- lifecycle

    def _event(
        self, session: Session, row: AlertRow, event: str, at: dt.datetime, by: str | None, note: str | None
    ) -> EventRow:
        record = to_record(row)
        event_row = EventRow(alert_id=row.id, event=event, at=at, by=by, note=note, alert=record.to_json())
        session.add(event_row)
        session.flush()
        return event_row

    def raise_alert(self, new: NewAlert, now: dt.datetime, silenced: bool = False) -> EventRecord | None:
        """Open an alert and write its `raised` event; None when one is already open (the index says so)."""
        try:
            with self._writer() as session, session.begin():
                row = AlertRow(
                    rule=new.rule,
                    severity=new.severity,
                    state="firing",
                    building=new.building,
                    kind=new.kind,
                    device=new.device,
                    summary=new.summary,
                    value=new.value,
                    started_at=now,
                    updated_at=now,
                    escalation_level=0,
                    flapping=False,
                    silenced=silenced,
                    labels=dict(new.labels),
                )
                session.add(row)
                session.flush()
                event = self._event(session, row, "raised", now, None, None)
                return _event_record(event)
        except IntegrityError:
            return None

    def _change(
        self,
        alert_id: int,
        action: str,
        allowed: tuple[str, ...],
        event: str,
        now: dt.datetime,
        by: str | None,
        note: str | None,
        changes: dict[str, Any],
        must_raise: bool,
    ) -> EventRecord | None:
        with self._writer() as session, session.begin():
            row = session.get(AlertRow, alert_id, with_for_update=True)
            if row is None:
                raise AlertNotFound(alert_id)
            if row.state not in allowed:
                if must_raise:
                    raise InvalidTransition(alert_id, row.state, action)
                return None
            for name, value in changes.items():
                setattr(row, name, value)
            row.updated_at = now
            session.flush()
            return _event_record(self._event(session, row, event, now, by, note))

    def acknowledge(self, alert_id: int, by: str, note: str | None, now: dt.datetime) -> EventRecord:
        """firing -> acknowledged. Raises AlertNotFound or InvalidTransition."""
        event = self._change(
            alert_id,
            "acknowledged",
            ("firing",),
            "acknowledged",
            now,
            by,
            note,
            {"state": "acknowledged", "acknowledged_at": now, "acknowledged_by": by},
            must_raise=True,
        )
        assert event is not None
        return event

    def resolve(self, alert_id: int, by: str, note: str | None, now: dt.datetime) -> EventRecord:
        """Manual resolution from firing or acknowledged. Raises AlertNotFound or InvalidTransition."""
        event = self._change(
            alert_id,
            "resolved",
            ("firing", "acknowledged"),
            "resolved",
            now,
            by,
            note,
            {"state": "resolved", "resolved_at": now, "resolved_by": by, "resolution": "manual"},
            must_raise=True,
        )
        assert event is not None
        return event

    def clear(self, alert_id: int, now: dt.datetime, note: str | None = None) -> EventRecord | None:
        """The condition cleared: resolve with resolution `cleared`; None if already resolved."""
        return self._change(
            alert_id,
            "resolved",
            ("firing", "acknowledged"),
            "resolved",
            now,
            None,
            note,
            {"state": "resolved", "resolved_at": now, "resolved_by": None, "resolution": "cleared"},
            must_raise=False,
        )

    def escalate(self, alert_id: int, expected_level: int, now: dt.datetime) -> EventRecord | None:
        """Raise the escalation level by one, only if still firing at `expected_level`."""
        with self._writer() as session, session.begin():
            row = session.get(AlertRow, alert_id, with_for_update=True)
            if row is None or row.state != "firing" or row.escalation_level != expected_level:
                return None
            row.escalation_level = expected_level + 1
            row.escalated_at = now
            row.updated_at = now
            session.flush()
            note = f"unacknowledged; escalation level {expected_level + 1}"
            return _event_record(self._event(session, row, "escalated", now, None, note))

    def mark_flapping(self, alert_id: int, now: dt.datetime, note: str | None = None) -> EventRecord | None:
        with self._writer() as session, session.begin():
            row = session.get(AlertRow, alert_id, with_for_update=True)
            if row is None or row.state == "resolved" or row.flapping:
                return None
            row.flapping = True
            row.updated_at = now
            session.flush()
            return _event_record(self._event(session, row, "flapping", now, None, note))

    def record(
        self, alert_id: int, event: str, by: str | None, note: str | None, now: dt.datetime
    ) -> EventRecord:
        """An event that changes nothing of the alert (a response step of an incident), in any
        state: stored, with the alert as it is, like every other event. Raises AlertNotFound."""
        with self._writer() as session, session.begin():
            row = session.get(AlertRow, alert_id)
            if row is None:
                raise AlertNotFound(alert_id)
            return _event_record(self._event(session, row, event, now, by, note))

    def update_value(self, alert_id: int, value: JsonValue) -> None:
        """Keep the latest triggering value on an open alert (no event: not a state change)."""
        with self._writer() as session, session.begin():
            session.execute(
                update(AlertRow)
                .where(AlertRow.id == alert_id, AlertRow.state != "resolved")
                .values(value=value)
            )

    # --------------------------------------------------------------- silences

    def create_silence(
        self,
        *,
        reason: str,
        created_by: str,
        ends_at: dt.datetime,
        now: dt.datetime,
        starts_at: dt.datetime | None = None,
        building: str | None = None,
        kind: str | None = None,
        device: str | None = None,
        rule: str | None = None,
    ) -> SilenceRecord:
        """A maintenance window over every alert matching all the given fields (at least one)."""
        start = starts_at or now
        if not any((building, kind, device, rule)):
            raise InvalidSilence("name at least one of building, kind, device, rule")
        if ends_at <= start:
            raise InvalidSilence("ends_at must be after starts_at")
        if not reason.strip():
            raise InvalidSilence("a reason is required")
        with self._writer() as session, session.begin():
            row = SilenceRow(
                building=building,
                kind=kind,
                device=device,
                rule=rule,
                starts_at=start,
                ends_at=ends_at,
                reason=reason,
                created_by=created_by,
                created_at=now,
            )
            session.add(row)
            session.flush()
            record = _silence_record(row)
        self.apply_silences(now)
        return record

    def get_silence(self, silence_id: int) -> SilenceRecord | None:
        with self._reader() as session:
            row = session.get(SilenceRow, silence_id)
            return _silence_record(row) if row is not None else None

    def list_silences(self, active_at: dt.datetime | None = None) -> list[SilenceRecord]:
        """Every silence (newest first), or those active at `active_at`."""
        query = select(SilenceRow).order_by(SilenceRow.id.desc())
        if active_at is not None:
            query = query.where(SilenceRow.starts_at <= active_at, SilenceRow.ends_at > active_at)
        with self._reader() as session:
            return [_silence_record(r) for r in session.scalars(query).all()]

    def end_silence(self, silence_id: int, by: str, now: dt.datetime) -> SilenceRecord:
        """End a silence now. The alerts it muted are unmuted by `close_ended_silences`."""
        with self._writer() as session, session.begin():
            row = session.get(SilenceRow, silence_id, with_for_update=True)
            if row is None:
                raise SilenceNotFound(silence_id)
            if row.ends_at > now:
                row.ends_at = max(now, row.starts_at)
                row.ended_by = by
            return _silence_record(row)

    def extend_silence(self, silence_id: int, ends_at: dt.datetime, now: dt.datetime) -> SilenceRecord:
        """Move the end of a silence that is still in force or yet to start (longer or shorter)."""
        with self._writer() as session, session.begin():
            row = session.get(SilenceRow, silence_id, with_for_update=True)
            if row is None:
                raise SilenceNotFound(silence_id)
            if row.ends_at <= now or row.closed_at is not None:
                raise SilenceEnded(silence_id)
            if ends_at <= max(now, row.starts_at):
                raise InvalidSilence("the new end must be after now and after starts_at")
            row.ends_at = ends_at
            record = _silence_record(row)
        self.apply_silences(now)
        return record

    def apply_silences(self, now: dt.datetime) -> int:
        """Mark open alerts that an active silence mutes as silenced; returns how many changed."""
        active = self.list_silences(active_at=now)
        if not active:
            return 0
        changed = 0
        with self._writer() as session, session.begin():
            rows = session.scalars(
                select(AlertRow).where(AlertRow.state != "resolved", AlertRow.silenced.is_(False))
            ).all()
            for row in rows:
                if _muted(active, row, now):
                    row.silenced = True
                    row.updated_at = now
                    changed += 1
        return changed

    def close_ended_silences(self, now: dt.datetime) -> list[EventRecord]:
        """Process silences whose end has passed, once each: unmute what no other silence still
        mutes, writing an `unsilenced` event for each alert still open."""
        events: list[EventRecord] = []
        with self._reader() as session:
            # Checked without the write lock first: this runs every few seconds and usually finds nothing.
            if (
                session.scalar(
                    select(func.count()).where(SilenceRow.ends_at <= now, SilenceRow.closed_at.is_(None))
                )
                == 0
            ):
                return []
        with self._writer() as session, session.begin():
            ended = session.scalars(
                select(SilenceRow).where(SilenceRow.ends_at <= now, SilenceRow.closed_at.is_(None))
            ).all()
            if not ended:
                return []
            for silence in ended:
                silence.closed_at = now
            active = [
                _silence_record(r)
                for r in session.scalars(
                    select(SilenceRow).where(SilenceRow.starts_at <= now, SilenceRow.ends_at > now)
                ).all()
            ]
            rows = session.scalars(
                select(AlertRow).where(AlertRow.state != "resolved", AlertRow.silenced.is_(True))
            ).all()
            names = ", ".join(str(s.id) for s in ended)
            by = next((s.ended_by for s in ended if s.ended_by), None)
            for row in rows:
                if _muted(active, row, now):
                    continue
                row.silenced = False
                row.updated_at = now
                session.flush()
                events.append(
                    _event_record(self._event(session, row, "unsilenced", now, by, f"silence {names} ended"))
                )
        return events

    # ------------------------------------------------------- pending timers

    def save_pending(self, pending: Pending) -> None:
        with self._writer() as session, session.begin():
            session.merge(
                PendingRow(
                    rule=pending.rule,
                    building=pending.building,
                    kind=pending.kind,
                    device=pending.device,
                    since=pending.since,
                    value=pending.value,
                )
            )

    def delete_pending(self, rule: str, building: str, kind: str, device: str) -> None:
        with self._writer() as session, session.begin():
            session.execute(
                delete(PendingRow).where(
                    PendingRow.rule == rule,
                    PendingRow.building == building,
                    PendingRow.kind == kind,
                    PendingRow.device == device,
                )
            )

    def load_pending(self) -> list[Pending]:
        """The pending `for` timers of the owned buildings."""
        query = select(PendingRow)
        if self.buildings:
            query = query.where(PendingRow.building.in_(self.buildings))
        with self._reader() as session:
            return [
                Pending(r.rule, r.building, r.kind, r.device, r.since, r.value)
                for r in session.scalars(query).all()
            ]
