"""Choosing a report's period: a day, an ISO week (Monday to Monday), a calendar month, or a
custom interval, in the area's local time (the registry's timezone), stored in UTC.

Without `start`, a day, week or month is the last complete one before `now`: what a scheduled
report made just after midnight covers. With `start`, the one that contains it.
"""

from __future__ import annotations

import datetime as dt
from typing import Final
from zoneinfo import ZoneInfo

from api.reports.model import Period, PeriodKind

# A custom period is at most this long: a report is read by a person, and a longer one is a
# different question (trends over years) with different aggregation windows.
MAX_CUSTOM: Final = dt.timedelta(days=92)


class PeriodError(ValueError):
    """The period cannot be built as asked; the message says why (a 400)."""


def _local_midnight(day: dt.date, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone)


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def _previous_month(day: dt.date) -> dt.date:
    return dt.date(day.year - (day.month == 1), (day.month - 2) % 12 + 1, 1)


def choose(
    kind: PeriodKind,
    timezone: str,
    now: dt.datetime,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
) -> Period:
    zone = ZoneInfo(timezone)
    if kind == "custom":
        if start is None or end is None:
            raise PeriodError("a custom period needs start and end")
        if start.tzinfo is None or end.tzinfo is None:
            raise PeriodError("start and end need a UTC offset")
        if end <= start:
            raise PeriodError("end must be after start")
        if end - start > MAX_CUSTOM:
            raise PeriodError(f"a custom period is at most {MAX_CUSTOM.days} days")
        return Period(_utc(start), _utc(end), "custom")
    if end is not None:
        raise PeriodError(f"a {kind} period takes start (a moment inside it) and no end")
    if start is not None and start.tzinfo is None:
        raise PeriodError("start needs a UTC offset")
    today = (start or now).astimezone(zone).date()
    if kind == "day":
        first = today if start is not None else today - dt.timedelta(days=1)
        last = first + dt.timedelta(days=1)
    elif kind == "week":
        monday = today - dt.timedelta(days=today.weekday())
        first = monday if start is not None else monday - dt.timedelta(days=7)
        last = first + dt.timedelta(days=7)
    else:
        this_month = today.replace(day=1)
        first = this_month if start is not None else _previous_month(this_month)
        last = _next_month(first)
    return Period(_utc(_local_midnight(first, zone)), _utc(_local_midnight(last, zone)), kind)
