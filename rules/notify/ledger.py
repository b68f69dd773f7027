"""The notifier's bookkeeping in SQL: the cursor over the alert events, deliveries and their attempts,
and the tracks of timed routes. Each method is one short transaction.

The key step, `ingest`, inserts the deliveries an event batch produced and advances the cursor in
the same transaction: killed at any moment, the notifier either sees the batch again on restart or
finds its deliveries pending; never neither.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from rules.database import SessionSource
from rules.database.notifier import (
    CANCELLED,
    DELIVERED,
    FAILED,
    PENDING,
    AttemptRow,
    CursorRow,
    DeliveryRow,
    TrackRow,
)
from rules.notify.planner import Planned, TrackStart
from rules.notify.policy import Track

CURSOR = "events"


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery ready for its next try."""

    seq: int
    id: str
    receiver: str
    channel: str
    title: str
    payload: str
    attempts: int
    deadline: dt.datetime
    severity: str | None
    alert_id: int | None
    rule: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class TrackInfo:
    alert_id: int
    route: str
    event_id: int
    track: Track


class Ledger(SessionSource):
    # ---------------------------------------------------------------- cursor

    def cursor(self) -> int:
        with self._reader() as session:
            row = session.get(CursorRow, CURSOR)
            return row.last_event_id if row is not None else 0

    def start_cursor_at(self, event_id: int, now: dt.datetime) -> bool:
        """Set the cursor where none exists yet (a first start skips the history); True if it did."""
        with self._writer() as session, session.begin():
            if session.get(CursorRow, CURSOR) is not None:
                return False
            session.add(CursorRow(name=CURSOR, last_event_id=event_id, updated_at=now))
            return True

    def track_levels(self, alert_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        ids = sorted(set(alert_ids))
        if not ids:
            return {}
        result: dict[int, dict[str, int]] = {}
        with self._reader() as session:
            for row in session.scalars(select(TrackRow).where(TrackRow.alert_id.in_(ids))):
                result.setdefault(row.alert_id, {})[row.route] = row.level
        return result

    def ingest(
        self,
        last_event_id: int,
        deliveries: Sequence[Planned],
        tracks: Sequence[TrackStart],
        stops: Sequence[tuple[int, str]],
        now: dt.datetime,
    ) -> int:
        """Record one batch of events: new deliveries, tracks started, tracks stopped
        ((alert id, reason)), and the cursor moved to `last_event_id`. Returns deliveries inserted."""
        with self._writer() as session, session.begin():
            cursor = session.get(CursorRow, CURSOR)
            if cursor is not None and cursor.last_event_id >= last_event_id:
                return 0  # another notifier on this database got there first
            if cursor is None:
                session.add(CursorRow(name=CURSOR, last_event_id=last_event_id, updated_at=now))
            else:
                cursor.last_event_id, cursor.updated_at = last_event_id, now
            for alert_id, reason in stops:
                self._stop(session, alert_id, reason, now)
            for start in tracks:
                existing = session.get(TrackRow, (start.alert_id, start.route))
                if existing is not None and existing.active:
                    continue
                if existing is not None:
                    session.delete(existing)
                    session.flush()
                session.add(
                    TrackRow(
                        alert_id=start.alert_id,
                        route=start.route,
                        event_id=start.event_id,
                        started_at=start.started_at,
                        level=start.level,
                        last_notified_at=start.started_at,
                        reminders=0,
                        active=True,
                        next_due_at=start.started_at,
                    )
                )
            self._insert(session, deliveries, now)
        return len(deliveries)

    @staticmethod
    def _insert(session: Session, deliveries: Iterable[Planned], now: dt.datetime) -> None:
        for planned in deliveries:
            session.add(
                DeliveryRow(
                    id=planned.id,
                    created_at=now,
                    event_id=planned.event_id,
                    alert_id=planned.alert_id,
                    event=planned.event,
                    reason=planned.reason,
                    level=planned.level,
                    route=planned.route,
                    severity=planned.severity,
                    rule=planned.rule,
                    building=planned.building,
                    receiver=planned.receiver,
                    channel=planned.channel,
                    title=planned.title,
                    payload=planned.payload,
                    status=PENDING,
                    attempts=0,
                    next_attempt_at=planned.next_attempt_at,
                    deadline=planned.deadline,
                )
            )

    @staticmethod
    def _stop(session: Session, alert_id: int, reason: str, now: dt.datetime) -> None:
        session.execute(
            update(TrackRow)
            .where(TrackRow.alert_id == alert_id, TrackRow.active.is_(True))
            .values(active=False, stopped_at=now, stopped_reason=reason, next_due_at=None)
        )
        # Reminders and escalations not yet out are moot once somebody has taken the alert.
        session.execute(
            update(DeliveryRow)
            .where(
                DeliveryRow.alert_id == alert_id,
                DeliveryRow.status == PENDING,
                DeliveryRow.reason.in_(("reminder", "escalation")),
            )
            .values(status=CANCELLED, finished_at=now, last_error=f"alert {reason}")
        )

    def add(self, deliveries: Sequence[Planned], now: dt.datetime) -> None:
        with self._writer() as session, session.begin():
            self._insert(session, deliveries, now)

    # ---------------------------------------------------------------- tracks

    def due_tracks(self, now: dt.datetime, limit: int = 200) -> list[TrackInfo]:
        with self._reader() as session:
            rows = session.scalars(
                select(TrackRow)
                .where(TrackRow.active.is_(True), TrackRow.next_due_at <= now)
                .order_by(TrackRow.next_due_at)
                .limit(limit)
            ).all()
            return [
                TrackInfo(
                    r.alert_id,
                    r.route,
                    r.event_id,
                    Track(r.started_at, r.level, r.last_notified_at, r.reminders),
                )
                for r in rows
            ]

    def advance_track(
        self,
        alert_id: int,
        route: str,
        expected: Track,
        track: Track,
        next_due: dt.datetime | None,
        deliveries: Sequence[Planned],
        now: dt.datetime,
    ) -> bool:
        """Move a track on and insert its deliveries, only if it is still active and unchanged since it
        was read (so a concurrent acknowledgement wins). False when it was not."""
        with self._writer() as session, session.begin():
            result = session.execute(
                update(TrackRow)
                .where(
                    TrackRow.alert_id == alert_id,
                    TrackRow.route == route,
                    TrackRow.active.is_(True),
                    TrackRow.level == expected.level,
                    TrackRow.reminders == expected.reminders,
                )
                .values(
                    level=track.level,
                    last_notified_at=track.last_notified_at,
                    reminders=track.reminders,
                    next_due_at=next_due,
                    active=next_due is not None,
                    stopped_at=None if next_due is not None else now,
                    stopped_reason=None if next_due is not None else "done",
                )
            )
            if getattr(result, "rowcount", 0) != 1:
                return False
            self._insert(session, deliveries, now)
            return True

    def stop_tracks(self, alert_id: int, reason: str, now: dt.datetime) -> None:
        with self._writer() as session, session.begin():
            self._stop(session, alert_id, reason, now)

    def active_tracks(self, alert_id: int) -> list[TrackInfo]:
        with self._reader() as session:
            rows = session.scalars(
                select(TrackRow).where(TrackRow.alert_id == alert_id, TrackRow.active.is_(True))
            ).all()
            return [
                TrackInfo(
                    r.alert_id,
                    r.route,
                    r.event_id,
                    Track(r.started_at, r.level, r.last_notified_at, r.reminders),
                )
                for r in rows
            ]

    # ------------------------------------------------------------ deliveries

    def heads(
        self, receivers: Iterable[str], busy: Iterable[str], now: dt.datetime
    ) -> tuple[list[Due], dt.datetime | None]:
        """The oldest pending delivery of each receiver not in `busy`, when its time has come; and the
        earliest time a head not yet due becomes due. Receivers get their deliveries in order, one at
        a time, so a patrol never sees `resolved` before `raised`."""
        skip = set(busy)
        due: list[Due] = []
        later: dt.datetime | None = None
        with self._reader() as session:
            for receiver in receivers:
                if receiver in skip:
                    continue
                r = session.scalars(
                    select(DeliveryRow)
                    .where(DeliveryRow.receiver == receiver, DeliveryRow.status == PENDING)
                    .order_by(DeliveryRow.seq)
                    .limit(1)
                ).first()
                if r is None:
                    continue
                if r.next_attempt_at > now:
                    later = r.next_attempt_at if later is None else min(later, r.next_attempt_at)
                    continue
                due.append(
                    Due(
                        r.seq,
                        r.id,
                        r.receiver,
                        r.channel,
                        r.title,
                        r.payload,
                        r.attempts,
                        r.deadline,
                        r.severity,
                        r.alert_id,
                        r.rule,
                        r.reason,
                    )
                )
        return due, later

    def fail_unknown(self, receivers: Iterable[str], now: dt.datetime) -> int:
        """Pending deliveries to receivers no longer in the routing file can never be sent: fail them
        (they stay readable in the record) rather than leave them pending for ever."""
        with self._writer() as session, session.begin():
            result = session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.status == PENDING, DeliveryRow.receiver.not_in(list(receivers)))
                .values(status=FAILED, finished_at=now, last_error="receiver no longer in the routing file")
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def record_attempt(
        self,
        due: Due,
        at: dt.datetime,
        duration_ms: int,
        ok: bool,
        retryable: bool,
        status_code: int | None,
        error: str | None,
        next_attempt_at: dt.datetime | None,
    ) -> str:
        """Write one try and the delivery's new state; returns that state."""
        number = due.attempts + 1
        if ok:
            status = DELIVERED
        elif next_attempt_at is None:
            status = FAILED
        else:
            status = PENDING
        with self._writer() as session, session.begin():
            session.add(
                AttemptRow(
                    delivery_id=due.id,
                    number=number,
                    at=at,
                    duration_ms=duration_ms,
                    ok=ok,
                    retryable=retryable,
                    status_code=status_code,
                    error=error,
                )
            )
            values: dict[str, Any] = {"attempts": number, "status": status, "last_error": error}
            if ok:
                values |= {"delivered_at": at, "finished_at": at}
            elif status == FAILED:
                values["finished_at"] = at
            else:
                assert next_attempt_at is not None
                values["next_attempt_at"] = next_attempt_at
            # Guarded by the state we read: a delivery cancelled meanwhile stays cancelled.
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.seq == due.seq, DeliveryRow.status == PENDING)
                .values(**values)
            )
        return status

    def retry_now(self, channel: str, now: dt.datetime) -> int:
        """Bring the next try of every pending delivery on a channel forward to now."""
        with self._writer() as session, session.begin():
            result = session.execute(
                update(DeliveryRow)
                .where(
                    DeliveryRow.channel == channel,
                    DeliveryRow.status == PENDING,
                    DeliveryRow.next_attempt_at > now,
                )
                .values(next_attempt_at=now)
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def pending_count(self) -> int:
        with self._reader() as session:
            return int(session.scalar(select(func.count()).where(DeliveryRow.status == PENDING)) or 0)

    def counts(self) -> dict[str, int]:
        with self._reader() as session:
            rows = session.execute(
                select(DeliveryRow.status, func.count()).group_by(DeliveryRow.status)
            ).all()
        return {str(status): int(n) for status, n in rows}
