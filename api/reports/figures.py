"""Small exact figures the builders share: intervals clipped and merged, nearest-rank
percentiles, and durations written for a reader.

Percentiles are nearest-rank (the value at rank ceil(p/100 * n) of the sorted values): always a
time that really happened, and one a reader can check by counting.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence

Interval = tuple[dt.datetime, dt.datetime]


def clip(start: dt.datetime, end: dt.datetime | None, lo: dt.datetime, hi: dt.datetime) -> Interval | None:
    """[start, end) cut to [lo, hi); an open interval (end None) runs to hi. None when outside."""
    a = max(start, lo)
    b = min(end or hi, hi)
    return (a, b) if b > a else None


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union of intervals, as sorted disjoint intervals."""
    out: list[Interval] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def covered_s(intervals: Iterable[Interval]) -> float:
    return sum((b - a).total_seconds() for a, b in merge(intervals))


def percentile(values: Sequence[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 50)


def seconds(a: dt.datetime | None, b: dt.datetime | None) -> float | None:
    return None if a is None or b is None else (b - a).total_seconds()


def rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)
