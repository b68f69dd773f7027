"""InfluxQL for the report builders: statements from checked pieces, sent in batches, read back as
plain rows, and the local-time arithmetic the figures share.

Everything is aggregated in InfluxDB (count, mean, max, min, sum, last over GROUP BY time and
tags); what comes back is one row per device, per hour or per bucket, never the raw points. Only
functions and clauses that InfluxQL has on 1.x, 2.x (v1 `/query`) and 3.x are used: no `tz()`
clause (the buckets are UTC hours, read in the site's time zone here, which is exact for zones
a whole number of hours from UTC such as Asia/Shanghai), no `elapsed()`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from api.history import quote_ident, quote_string
from api.influx import InfluxQueryClient, Series
from api.reports.model import Period, Scope

# Statements per request: several hundred would make a long GET URL; 40 keep it under ~16 KB.
BATCH: Final = 40
HOUR_MS: Final = 3_600_000


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def where(period: Period, scope: Scope, *more: str, start_ms: int | None = None) -> str:
    """The WHERE clause of a report statement: its period (from `start_ms` when given, to reach
    back before the period), the scope's building, and `more` conditions (already quoted)."""
    parts = [
        f"time >= {int(ms(period.start) if start_ms is None else start_ms)}ms",
        f"time < {ms(period.end)}ms",
    ]
    if scope.building is not None:
        parts.append(f'"building" = {quote_string(scope.building)}')
    parts.extend(more)
    return "WHERE " + " AND ".join(parts)


def tag_is(tag: str, value: str) -> str:
    return f"{quote_ident(tag)} = {quote_string(value)}"


async def run(client: InfluxQueryClient, statements: Sequence[str]) -> list[list[Series]]:
    """Every statement's series, in order, sent `BATCH` at a time."""
    out: list[list[Series]] = []
    for first in range(0, len(statements), BATCH):
        out.extend(await client.query_many(statements[first : first + BATCH]))
    return out


@dataclass(frozen=True, slots=True)
class Row:
    building: str
    device: str
    time_ms: int
    values: dict[str, Any]


def rows(series: Iterable[Series]) -> Iterator[Row]:
    """Each row of each series (grouped by building and device), its columns by name."""
    for one in series:
        building, device = one.tags.get("building", ""), one.tags.get("device", "")
        for values in one.values:
            named = dict(zip(one.columns, values, strict=False))
            yield Row(building, device, int(named.pop("time", 0) or 0), named)


def by_device(series: Iterable[Series], column: str = "v") -> dict[tuple[str, str], tuple[int, Any]]:
    """One row per (building, device): its time and `column`, for statements without GROUP BY time."""
    return {(r.building, r.device): (r.time_ms, r.values.get(column)) for r in rows(series)}


def scalar(series: Sequence[Series], column: str = "v") -> Any:
    """The one value of a statement without GROUP BY (None when it matched nothing)."""
    for row in rows(series):
        return row.values.get(column)
    return None


def local(time_ms: int, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(time_ms / 1000, tz)


def stamp(time_ms: int, tz: ZoneInfo) -> str:
    """A time for tables and CSV: ISO 8601 in the site's time zone, to the minute."""
    return local(time_ms, tz).isoformat(timespec="minutes")


def weekday_hour_means(points: Iterable[tuple[int, float]], tz: ZoneInfo) -> list[list[float | None]]:
    """values[weekday][hour] (Monday first, local time): the mean of the hourly values that fall
    there, each hour weighing the same; None where there were none."""
    sums: dict[tuple[int, int], float] = defaultdict(float)
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for time_ms, value in points:
        moment = local(time_ms, tz)
        sums[moment.weekday(), moment.hour] += value
        counts[moment.weekday(), moment.hour] += 1
    return [[sums[d, h] / counts[d, h] if counts[d, h] else None for h in range(24)] for d in range(7)]


def pooled(counters: Iterable[tuple[int, Sequence[tuple[int, float]]]]) -> list[tuple[int, float]]:
    """Each hour's % of several counters together, from each counter's (capacity, its hourly means
    as (hour ms, value)): the sum of the means over the sum of the capacities of the counters that
    reported in that hour (one silent for an hour neither fills nor empties the others), in order."""
    total: dict[int, float] = defaultdict(float)
    room: dict[int, int] = defaultdict(int)
    for capacity, hours in counters:
        for t, v in hours:
            total[t] += v
            room[t] += capacity
    return sorted((t, 100.0 * total[t] / room[t]) for t in total if room[t])


def pct(part: float, whole: float) -> float:
    """A percentage, rounded to one decimal for tables."""
    return round(100.0 * part / whole, 1) if whole else 0.0
