"""History queries: turn a checked request into one InfluxQL statement, and refuse the rest.

Two modes: aggregated (one value per `every` window, with mean, max, min or last) and raw
(`agg=raw`: the stored points themselves, oldest first). Both are bounded by a point limit:
an aggregated request by range / every before it runs, a raw one by asking InfluxDB for one
point more than the limit and refusing when that many come back.

Nothing from the request reaches the statement unchecked: names are matched against the
contract's patterns and the known fields of each kind (contract section 2), the mode against
a fixed list, times are integers; string values are escaped all the same.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Agg = Literal["mean", "max", "min", "last"]
# What a request may ask for: an aggregation, or the stored points as they are.
Mode = Literal["raw", "mean", "max", "min", "last"]
RAW: Final = "raw"
FieldType = Literal["bool", "int", "float", "str"]

# Contract section 2: the stored type of every field of every kind.
FIELDS: Final[dict[str, dict[str, FieldType]]] = {
    "parking_space": {"occupied": "bool", "battery_pct": "float"},
    "parking_lot": {"occupied": "int", "capacity": "int", "entered": "int", "exited": "int"},
    "aed": {
        "state": "str",
        "cabinet_open": "bool",
        "battery_pct": "float",
        "pads_expiry": "str",
        "self_test": "str",
        "temp_c": "float",
    },
    "canteen": {"occupancy": "int", "capacity": "int", "queue_length": "int", "takeaway_pending": "int"},
}
NUMERIC: Final = frozenset({"int", "float"})
NAME_RE: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
EVERY_PATTERN: Final = r"^([1-9][0-9]{0,8})(ms|s|m|h|d)$"
EVERY_RE: Final = re.compile(EVERY_PATTERN)
UNIT_MS: Final = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
# The widest window: a year and a day is more than any chart needs, and far from what InfluxDB
# can no longer compute (999999999d once reached it and came back as a 502).
EVERY_MAX_MS: Final = 366 * UNIT_MS["d"]
# Windows offered when the client leaves `every` out: the smallest that fits the target count.
AUTO_STEPS_MS: Final = (1000, 10_000, 60_000, 300_000, 900_000, 3_600_000, 21_600_000, 86_400_000)
AUTO_TARGET_POINTS: Final = 500


class HistoryRequestError(ValueError):
    """The request cannot be answered as asked; the message says why, for a 400."""


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    building: str
    kind: str
    device: str
    field: str
    agg: Mode
    start_ms: int
    end_ms: int
    # The window of an aggregation; None for raw points.
    every_ms: int | None
    # The most points an answer may hold.
    max_points: int

    @property
    def every(self) -> str | None:
        """The aggregation window, or None for raw points."""
        return None if self.every_ms is None else format_every(self.every_ms)

    @property
    def limit(self) -> int:
        """The LIMIT of a raw statement: one point more than an answer may hold, so that a range
        holding too many points is told apart from one holding exactly `max_points`, in one
        query (a `count()` first would read the whole range twice)."""
        return self.max_points + 1

    def too_many(self, returned: int) -> bool:
        """Whether a raw answer of `returned` points went over the limit (then it is refused).

        Never for an aggregation: it was bounded by range / every before it ran, and windows
        aligned to `every` may number one more than that when `start` falls inside one.
        """
        return self.every_ms is None and returned > self.max_points


def parse_every(text: str) -> int:
    match = EVERY_RE.fullmatch(text)
    if not match:
        raise HistoryRequestError(
            f"every {text[:40]!r} must be a number and a unit: ms, s, m, h or d (e.g. 5m)"
        )
    every_ms = int(match.group(1)) * UNIT_MS[match.group(2)]
    if every_ms > EVERY_MAX_MS:
        raise HistoryRequestError(f"every {text!r} is wider than the limit, {format_every(EVERY_MAX_MS)}")
    return every_ms


def format_every(ms: int) -> str:
    for unit in ("d", "h", "m", "s"):
        if ms % UNIT_MS[unit] == 0:
            return f"{ms // UNIT_MS[unit]}{unit}"
    return f"{ms}ms"


def auto_every(span_ms: int) -> int:
    for step in AUTO_STEPS_MS:
        if span_ms / step <= AUTO_TARGET_POINTS:
            return step
    return AUTO_STEPS_MS[-1]


def plan(
    building: str,
    kind: str,
    device: str,
    field: str,
    agg: Mode,
    start_ms: int,
    end_ms: int,
    every: str | None,
    max_points: int,
) -> HistoryQuery:
    """Check a history request; raise HistoryRequestError with a sentence when it cannot be run."""
    if not NAME_RE.fullmatch(building) or not NAME_RE.fullmatch(device):
        raise HistoryRequestError("building and device must match [a-z0-9][a-z0-9_-]{0,63}")
    fields = FIELDS.get(kind)
    if fields is None:
        raise HistoryRequestError(f"unknown kind; expected one of {', '.join(FIELDS)}")
    field_type = fields.get(field)
    if field_type is None:
        raise HistoryRequestError(f"{kind} has no field {field[:64]!r}; known fields: {', '.join(fields)}")
    if agg not in (RAW, "last") and field_type not in NUMERIC:
        raise HistoryRequestError(
            f"{field} is a {field_type} field: use agg=last or agg=raw (mean, max, min need numbers)"
        )
    if end_ms <= start_ms:
        raise HistoryRequestError("end must be after start")
    if agg == RAW:
        # Any field type: raw points need no arithmetic, so strings and booleans are fine. The
        # count is only known once InfluxDB answers: see HistoryQuery.limit and too_many.
        if every is not None:
            raise HistoryRequestError(
                "agg=raw returns the stored points and takes no every: leave every out, "
                "or choose agg=mean, max, min or last to aggregate"
            )
        return HistoryQuery(building, kind, device, field, agg, start_ms, end_ms, None, max_points)
    span = end_ms - start_ms
    every_ms = parse_every(every) if every is not None else auto_every(span)
    points = -(-span // every_ms)
    if points > max_points:
        raise HistoryRequestError(
            f"that would return up to {points} points (range / every); the limit is {max_points}: "
            f"use a wider every or a shorter range"
        )
    return HistoryQuery(building, kind, device, field, agg, start_ms, end_ms, every_ms, max_points)


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def influxql(query: HistoryQuery) -> str:
    """One SELECT: aggregated, windows aligned to `every` and empty windows left out; or raw,
    the points that hold the field, oldest first, at most `limit`."""
    # Every piece is checked (plan) or quoted here; nothing else of the request reaches the text.
    where = (
        f'WHERE "building" = {quote_string(query.building)} AND "device" = {quote_string(query.device)} '
        f"AND time >= {int(query.start_ms)}ms AND time < {int(query.end_ms)}ms"
    )
    if query.every_ms is None:
        # Points without this field (a reading that left it out) are not returned. Where a tag
        # shares the field's name InfluxDB reads the field, so no `::field` is needed (and none is
        # written, to keep to the InfluxQL that 2.x and 3.x also understand).
        return (
            f'SELECT {quote_ident(query.field)} AS "v" FROM {quote_ident(query.kind)} '  # noqa: S608
            f"{where} ORDER BY time ASC LIMIT {int(query.limit)}"
        )
    return (
        f'SELECT {query.agg}({quote_ident(query.field)}) AS "v" FROM {quote_ident(query.kind)} '  # noqa: S608
        f"{where} GROUP BY time({int(query.every_ms)}ms) fill(none)"
    )


def last_values_statements(kind: str | None = None) -> list[str]:
    """The newest value of every field of every device, for seeding the latest-state table.

    One selector per statement, so that InfluxDB returns the time of that point (with several
    selectors in one SELECT it returns the start of the range instead). Bounded to the seven
    days a reading may be late by, so that the query stays cheap on a long history.
    """
    return [
        f'SELECT last({quote_ident(name)}) AS "v" FROM {quote_ident(k)} '  # noqa: S608
        f'WHERE time > now() - 7d GROUP BY "building", "device"'
        for k, name in seed_targets(kind)
    ]


def seed_targets(kind: str | None = None) -> list[tuple[str, str]]:
    """(kind, field) for each statement of `last_values_statements`, in order."""
    return [(k, name) for k, fields in FIELDS.items() if kind in (None, k) for name in fields]
