"""InfluxQL pieces the report builders share: the period and scope as a WHERE clause, and
statements sent in batches (one HTTP request per batch, not one per device)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Final

from api.history import quote_string
from api.influx import InfluxQueryClient, Series

BATCH: Final = 200


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


def where(
    start: dt.datetime, end: dt.datetime, building: str | None = None, device: str | None = None
) -> str:
    """`time >= ..ms AND time < ..ms` and the building and device when given (quoted)."""
    parts = [f"time >= {ms(start)}ms", f"time < {ms(end)}ms"]
    if building is not None:
        parts.append(f'"building" = {quote_string(building)}')
    if device is not None:
        parts.append(f'"device" = {quote_string(device)}')
    return " AND ".join(parts)


async def run(client: InfluxQueryClient, statements: Sequence[str]) -> list[list[Series]]:
    """Every statement's series, in order, BATCH statements per request."""
    out: list[list[Series]] = []
    for first in range(0, len(statements), BATCH):
        out.extend(await client.query_many(statements[first : first + BATCH]))
    return out


def by_device(series: list[Series]) -> dict[tuple[str, str], list[list[object]]]:
    """Series grouped by building and device (GROUP BY "building","device") as rows."""
    return {(s.tags.get("building", ""), s.tags.get("device", "")): s.values for s in series}


def from_ms(value: object) -> dt.datetime:
    assert isinstance(value, int)
    return dt.datetime.fromtimestamp(value / 1000, dt.UTC)
