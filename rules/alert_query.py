"""How the alert list is filtered, ordered and paged (used by `AlertStore.list_alerts`).

The `priority` order is what a control room reads first: severity (critical first), then
urgency (escalated and unacknowledged firing on top, then firing, then acknowledged, then
firing but silenced, then resolved), then newest first, ties by id. So one critical alert is the
first row whatever number of minor ones is open. A cursor holds the last row's whole sort key,
so pages stay exact while alerts come and go.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar, get_args

from sqlalchemy import Select, and_, case, false, func, or_, tuple_
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from rules.config import SummaryLang
from rules.database.alerts import AlertRow
from rules.errors import InvalidCursor
from rules.records import SEVERITIES, AlertRecord

SORTS: Final = ("started_at", "updated_at", "id", "severity", "priority")
URGENCIES: Final = ("escalated", "firing", "acknowledged", "silenced", "resolved")

Filter = str | Sequence[str] | None
# The per-language summaries a rule may give live in the alert's labels (rules/engine.py): the text
# search reads them too, so that a zh reader finds an alert by the words on their screen.
SUMMARY_LABELS: Final = tuple(f"summary_{lang}" for lang in get_args(SummaryLang))
Query = TypeVar("Query", bound="Select[*tuple[Any, ...]]")

# Urgency rank as SQL: the same order as `urgency_rank` below, which the cursor is built with.
_FIRING_LOUD = and_(AlertRow.state == "firing", AlertRow.silenced == false())
URGENCY_SQL: Final[ColumnElement[int]] = case(
    (and_(_FIRING_LOUD, AlertRow.escalation_level > 0), 0),
    (_FIRING_LOUD, 1),
    (AlertRow.state == "acknowledged", 2),
    (AlertRow.state == "firing", 3),
    else_=4,
)


def urgency_rank(alert: AlertRecord) -> int:
    if alert.state == "firing" and not alert.silenced:
        return 0 if alert.escalation_level > 0 else 1
    if alert.state == "acknowledged":
        return 2
    return 3 if alert.state == "firing" else 4


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def _as_list(value: Filter) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return list(value)


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Every field given must match; a list allows any of its values. `text` is a
    case-insensitive substring of the summary (or of one of its languages, labels `summary_zh`
    and `summary_en`), device, building or rule; `since` and `until`
    bound `started_at` (since inclusive, until exclusive)."""

    state: Filter = None
    severity: Filter = None
    building: Filter = None
    kind: Filter = None
    device: Filter = None
    rule: Filter = None
    text: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def apply(self, query: Query, skip: tuple[str, ...] = ()) -> Query:
        """`query` narrowed by every filter but those named in `skip` (for facet counts)."""
        for name, col in (
            ("state", AlertRow.state),
            ("severity", AlertRow.severity),
            ("building", AlertRow.building),
            ("kind", AlertRow.kind),
            ("device", AlertRow.device),
            ("rule", AlertRow.rule),
        ):
            values = _as_list(getattr(self, name))
            if values is not None and name not in skip:
                query = query.where(col.in_(values))
        if self.text:
            needle = self.text.lower()
            columns: list[ColumnElement[str] | InstrumentedAttribute[str]] = [
                AlertRow.summary,
                AlertRow.device,
                AlertRow.building,
                AlertRow.rule,
            ]
            # JSON_EXTRACT on SQLite, ->> on PostgreSQL: the label's text, not its JSON escapes.
            columns += [AlertRow.labels[name].as_string() for name in SUMMARY_LABELS]
            query = query.where(or_(*(func.lower(col).contains(needle, autoescape=True) for col in columns)))
        if self.since is not None:
            query = query.where(AlertRow.started_at >= self.since)
        if self.until is not None:
            query = query.where(AlertRow.started_at < self.until)
        return query


def encode_cursor(sort: str, key: Any, alert_id: int) -> str:
    raw = json.dumps([sort, key, alert_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        got_sort, key, alert_id = json.loads(raw)
    except (ValueError, binascii.Error, TypeError) as error:
        raise InvalidCursor(cursor) from error
    if got_sort != sort or not isinstance(alert_id, int) or isinstance(alert_id, bool):
        raise InvalidCursor(cursor)
    return key, alert_id


# Times a cursor may hold: those an alert can have. A naive time is not one this store wrote
# (astimezone would read it as local time), and a year-1 or year-9999 time overflows or makes a
# driver refuse the query (a 500).
CURSOR_EARLIEST: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
CURSOR_LATEST: Final = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def _time(value: Any, cursor: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise InvalidCursor(cursor)
        when = parsed.astimezone(dt.UTC)
    except (TypeError, ValueError, OverflowError) as error:
        raise InvalidCursor(cursor) from error
    if not CURSOR_EARLIEST <= when <= CURSOR_LATEST:
        raise InvalidCursor(cursor)
    return when


def _small_int(value: Any, cursor: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**62:
        raise InvalidCursor(cursor)  # PostgreSQL would refuse a larger one with a 500
    return value


def _column(name: str) -> Any:
    return {
        "started_at": AlertRow.started_at,
        "updated_at": AlertRow.updated_at,
        "id": AlertRow.id,
        "severity": AlertRow.severity_rank,
    }[name]


def ordered(query: Select[Any], sort: str, cursor: str | None) -> Select[Any]:
    """`query` in the order `sort` names, starting after `cursor`'s row if given."""
    descending = sort.startswith("-")
    name = sort.lstrip("-+")
    if name not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)} (with - for descending)")
    if name == "priority":
        return _by_priority(query, sort, cursor, reverse=descending)
    column = _column(name)
    if cursor:
        key, last_id = decode_cursor(cursor, sort)
        key = _time(key, cursor) if name in ("started_at", "updated_at") else _small_int(key, cursor)
        _small_int(last_id, cursor)
        # One row-value comparison, not `a < k OR (a = k AND id < i)`: both databases seek
        # the index to it instead of filtering every row before the page.
        position = tuple_(column, AlertRow.id)
        query = query.where(position < (key, last_id) if descending else position > (key, last_id))
    order = (column.desc(), AlertRow.id.desc()) if descending else (column.asc(), AlertRow.id.asc())
    return query.order_by(*order)


def _by_priority(query: Select[Any], sort: str, cursor: str | None, reverse: bool) -> Select[Any]:
    # Severity and urgency ascending (most urgent first), then newest first, ties by id;
    # `-priority` is the exact reverse.
    rank, urgency = AlertRow.severity_rank, URGENCY_SQL
    if cursor:
        key, last_id = decode_cursor(cursor, sort)
        if not isinstance(key, list) or len(key) != 3:
            raise InvalidCursor(cursor)
        k_rank, k_urgency = _small_int(key[0], cursor), _small_int(key[1], cursor)
        k_started, k_id = _time(key[2], cursor), _small_int(last_id, cursor)
        later = tuple_(AlertRow.started_at, AlertRow.id)
        if not reverse:
            after = or_(
                rank > k_rank,
                and_(rank == k_rank, urgency > k_urgency),
                and_(rank == k_rank, urgency == k_urgency, later < (k_started, k_id)),
            )
        else:
            after = or_(
                rank < k_rank,
                and_(rank == k_rank, urgency < k_urgency),
                and_(rank == k_rank, urgency == k_urgency, later > (k_started, k_id)),
            )
        query = query.where(after)
    if reverse:
        return query.order_by(rank.desc(), urgency.desc(), AlertRow.started_at.asc(), AlertRow.id.asc())
    return query.order_by(rank.asc(), urgency.asc(), AlertRow.started_at.desc(), AlertRow.id.desc())


def next_cursor(sort: str, last: AlertRecord) -> str:
    """The cursor that continues after `last` in the order `sort`."""
    name = sort.lstrip("-+")
    key: Any
    if name == "priority":
        key = [severity_rank(last.severity), urgency_rank(last), last.started_at.isoformat()]
    elif name == "severity":
        key = severity_rank(last.severity)
    elif name == "id":
        key = last.id
    else:
        key = getattr(last, name).isoformat()
    return encode_cursor(sort, key, last.id)
