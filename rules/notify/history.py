"""Reading back who was told what, when, by which channel, and whether it worked (the API's view)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from rules.database.notifier import AttemptRow, DeliveryRow

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    number: int
    at: dt.datetime
    duration_ms: int
    ok: bool
    retryable: bool
    status_code: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    seq: int
    id: str
    created_at: dt.datetime
    event_id: int | None
    alert_id: int | None
    event: str | None
    reason: str
    level: int
    route: str | None
    severity: str | None
    rule: str | None
    building: str | None
    receiver: str
    channel: str
    title: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    deadline: dt.datetime
    delivered_at: dt.datetime | None
    finished_at: dt.datetime | None
    last_error: str | None
    tries: list[AttemptRecord] = field(default_factory=list)


def _record(row: DeliveryRow, tries: list[AttemptRecord]) -> DeliveryRecord:
    return DeliveryRecord(
        seq=row.seq,
        id=row.id,
        created_at=row.created_at,
        event_id=row.event_id,
        alert_id=row.alert_id,
        event=row.event,
        reason=row.reason,
        level=row.level,
        route=row.route,
        severity=row.severity,
        rule=row.rule,
        building=row.building,
        receiver=row.receiver,
        channel=row.channel,
        title=row.title,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if row.status == "pending" else None,
        deadline=row.deadline,
        delivered_at=row.delivered_at,
        finished_at=row.finished_at,
        last_error=row.last_error,
        tries=tries,
    )


class DeliveryHistory:
    def __init__(self, engine: Engine) -> None:
        # The tables exist even before the notifier ever ran: every part's start-up brings the
        # database to the full schema (`rules.database.migrate.upgrade`).
        self.engine = engine

    def _load(self, session: Session, rows: Sequence[DeliveryRow]) -> list[DeliveryRecord]:
        ids = [r.id for r in rows]
        tries: dict[str, list[AttemptRecord]] = {i: [] for i in ids}
        if ids:
            for a in session.scalars(
                select(AttemptRow).where(AttemptRow.delivery_id.in_(ids)).order_by(AttemptRow.id)
            ):
                tries[a.delivery_id].append(
                    AttemptRecord(a.number, a.at, a.duration_ms, a.ok, a.retryable, a.status_code, a.error)
                )
        return [_record(r, tries[r.id]) for r in rows]

    def page(
        self,
        *,
        status: Sequence[str] | None = None,
        receiver: Sequence[str] | None = None,
        channel: Sequence[str] | None = None,
        reason: Sequence[str] | None = None,
        alert_id: int | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> tuple[list[DeliveryRecord], int | None]:
        """Newest first; returns the page and the `before` value of the next page (None: last page)."""
        query = select(DeliveryRow)
        for column, wanted in (
            (DeliveryRow.status, status),
            (DeliveryRow.receiver, receiver),
            (DeliveryRow.channel, channel),
            (DeliveryRow.reason, reason),
        ):
            if wanted:
                query = query.where(column.in_(list(wanted)))
        if alert_id is not None:
            query = query.where(DeliveryRow.alert_id == alert_id)
        if before is not None:
            query = query.where(DeliveryRow.seq < before)
        limit = min(max(1, limit), MAX_PAGE)
        with Session(self.engine) as session:
            rows = session.scalars(query.order_by(DeliveryRow.seq.desc()).limit(limit + 1)).all()
            records = self._load(session, rows[:limit])
        return records, (records[-1].seq if len(rows) > limit else None)

    def for_alert(self, alert_id: int) -> list[DeliveryRecord]:
        """Every delivery about one alert, oldest first."""
        with Session(self.engine) as session:
            rows = session.scalars(
                select(DeliveryRow).where(DeliveryRow.alert_id == alert_id).order_by(DeliveryRow.seq)
            ).all()
            return self._load(session, rows)
