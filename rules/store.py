"""The alert store: alerts, their events, silences and pending `for` timers, in SQL.

Every state change writes the alert row and an event row in one transaction; the event row keeps
a snapshot of the alert, and its id (increasing across all alerts) is what SSE clients resume
from. Writes are guarded by the state they expect (`WHERE state = 'firing'`), and opening an
alert relies on the partial unique index, so several engines or API processes sharing one
database never double an alert or an event.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine, delete, func, select, true, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from rules.database import SessionSource
from rules.database.alerts import AlertRow, EventRow, PendingRow, SilenceRow
from rules.errors import AlertNotFound, InvalidCursor, InvalidSilence, InvalidTransition, SilenceNotFound
from rules.records import SEVERITIES, STATES, AlertRecord, EventRecord, JsonValue, SilenceRecord
from rules.silences import muting

MAX_PAGE: Final = 1000
SORTS: Final = ("started_at", "updated_at", "id", "severity")
# What a cursor may hold: ids within SQLite's and PostgreSQL's 64-bit integers, times an alert
# can have.
CURSOR_MAX_INT: Final = 2**62
CURSOR_EARLIEST: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CURSOR_LATEST: Final = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)

Filter = str | Sequence[str] | None


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


def _as_list(value: Filter) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


def _encode_cursor(sort: str, key: Any, alert_id: int) -> str:
    raw = json.dumps([sort, key, alert_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    """The key and id of a cursor this store handed out; InvalidCursor for anything else, checked
    here so that no crafted value reaches a driver (an integer past 64 bits, a naive or
    out-of-range date: a driver error, a 500, otherwise)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got_sort, key, alert_id = json.loads(raw)
    except (ValueError, binascii.Error, TypeError) as error:
        raise InvalidCursor(cursor) from error
    if got_sort != sort or not _cursor_int(alert_id):
        raise InvalidCursor(cursor)
    if sort.lstrip("-+") in ("started_at", "updated_at"):
        return _cursor_time(key, cursor), alert_id
    if not _cursor_int(key):
        raise InvalidCursor(cursor)  # id and rank are integers (PostgreSQL would refuse)
    return key, alert_id


def _cursor_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= CURSOR_MAX_INT


def _cursor_time(value: Any, cursor: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
        # A naive time is not one this store wrote (astimezone would read it as local time).
        when = parsed.astimezone(dt.UTC) if parsed is not None and parsed.tzinfo is not None else None
    except (ValueError, OverflowError) as error:
        raise InvalidCursor(cursor) from error
    if when is None or not CURSOR_EARLIEST <= when <= CURSOR_LATEST:
        raise InvalidCursor(cursor)
    return when


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
        sort: str = "-started_at",
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[AlertRecord], str | None]:
        """One page of alerts and the cursor of the next page (None on the last page).

        `sort` is one of started_at, updated_at, id, severity, with `-` for descending; ties
        are broken by id, and the cursor holds the last row's key, so pages stay stable while
        new alerts arrive.
        """
        descending = sort.startswith("-")
        name = sort.lstrip("-+")
        if name not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)} (with - for descending)")
        column: Any = {
            "started_at": AlertRow.started_at,
            "updated_at": AlertRow.updated_at,
            "id": AlertRow.id,
            "severity": AlertRow.severity_rank,
        }[name]
        query = select(AlertRow)
        for col, wanted in (
            (AlertRow.state, state),
            (AlertRow.severity, severity),
            (AlertRow.building, building),
            (AlertRow.kind, kind),
            (AlertRow.device, device),
            (AlertRow.rule, rule),
        ):
            values = _as_list(wanted)
            if values is not None:
                query = query.where(col.in_(values))
        if cursor:
            key, last_id = _decode_cursor(cursor, sort)
            # One row-value comparison, not `a < k OR (a = k AND id < i)`: both databases seek
            # the index to it instead of filtering every row before the page.
            position = tuple_(column, AlertRow.id)
            after: ColumnElement[bool] = (
                position < (key, last_id) if descending else position > (key, last_id)
            )
            query = query.where(after)
        order = (column.desc(), AlertRow.id.desc()) if descending else (column.asc(), AlertRow.id.asc())
        limit = min(max(1, limit), MAX_PAGE)
        with self._reader() as session:
            rows = session.scalars(query.order_by(*order).limit(limit + 1)).all()
            records = [to_record(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = records[-1]
            key_value: Any
            if name == "severity":
                key_value = (
                    SEVERITIES.index(last.severity) if last.severity in SEVERITIES else len(SEVERITIES)
                )
            elif name == "id":
                key_value = last.id
            else:
                key_value = getattr(last, name).isoformat()
            next_cursor = _encode_cursor(sort, key_value, last.id)
        return records, next_cursor

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
