"""The alert store read for a report: the alerts that overlap a period, with only the columns
the figures need, filtered and ordered by the database (the alert indexes on building and
started_at serve it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from api.reports.model import Period
from rules.database.alerts import AlertRow, EventRow


@dataclass(frozen=True, slots=True)
class AlertSpan:
    id: int
    rule: str
    severity: str
    building: str
    kind: str
    device: str
    started_at: dt.datetime
    acknowledged_at: dt.datetime | None
    acknowledged_by: str | None
    resolved_at: dt.datetime | None
    resolution: str | None
    escalation_level: int
    flapping: bool
    silenced: bool


def overlapping(
    engine: Engine,
    period: Period,
    building: str | None = None,
    kinds: Collection[str] | None = None,
    rules: Collection[str] | None = None,
) -> list[AlertSpan]:
    """The alerts open at some moment of [start, end): raised before the end, not resolved
    before the start. Oldest first."""
    query = select(
        AlertRow.id,
        AlertRow.rule,
        AlertRow.severity,
        AlertRow.building,
        AlertRow.kind,
        AlertRow.device,
        AlertRow.started_at,
        AlertRow.acknowledged_at,
        AlertRow.acknowledged_by,
        AlertRow.resolved_at,
        AlertRow.resolution,
        AlertRow.escalation_level,
        AlertRow.flapping,
        AlertRow.silenced,
    ).where(
        AlertRow.started_at < period.end,
        or_(AlertRow.resolved_at.is_(None), AlertRow.resolved_at > period.start),
    )
    if building is not None:
        query = query.where(AlertRow.building == building)
    if kinds is not None:
        query = query.where(AlertRow.kind.in_(list(kinds)))
    if rules is not None:
        query = query.where(AlertRow.rule.in_(list(rules)))
    with Session(engine) as session:
        rows = session.execute(query.order_by(AlertRow.started_at, AlertRow.id)).all()
    return [AlertSpan(**row._asdict()) for row in rows]


def raised_in(spans: list[AlertSpan], period: Period) -> list[AlertSpan]:
    """The alerts raised within the period (what counts and response times are about)."""
    return [s for s in spans if period.start <= s.started_at < period.end]


def event_notes(engine: Engine, alert_ids: Collection[int]) -> dict[int, list[tuple[str, dt.datetime, str]]]:
    """Each alert's events that carry a note: (event, at, note), oldest first."""
    out: dict[int, list[tuple[str, dt.datetime, str]]] = {}
    ids = list(alert_ids)
    with Session(engine) as session:
        for chunk in range(0, len(ids), 500):
            rows = session.execute(
                select(EventRow.alert_id, EventRow.event, EventRow.at, EventRow.note)
                .where(EventRow.alert_id.in_(ids[chunk : chunk + 500]), EventRow.note.is_not(None))
                .order_by(EventRow.id)
            ).all()
            for alert_id, event, at, note in rows:
                if note is None:
                    continue
                out.setdefault(alert_id, []).append((event, at, note))
    return out


def escalations(engine: Engine, period: Period, building: str | None) -> dict[int, int]:
    """How many `escalated` events each alert had within the period."""
    query = (
        select(EventRow.alert_id, func.count())
        .join(AlertRow, AlertRow.id == EventRow.alert_id)
        .where(EventRow.event == "escalated", EventRow.at >= period.start, EventRow.at < period.end)
        .group_by(EventRow.alert_id)
    )
    if building is not None:
        query = query.where(AlertRow.building == building)
    with Session(engine) as session:
        return {int(alert_id): int(count) for alert_id, count in session.execute(query).all()}
