"""Seeding the latest-state table from InfluxDB's last values, so that a restarted API does not
show every device as silent until it speaks again.

Kind by kind, the kinds with the fewest registered devices first: an AED's state is in the table
within a fraction of a second, while the last value of every parking space of a district (98,000
series, 17 s on InfluxDB 1.6 here) comes after. One kind's failure or slowness never costs the
others. Start-up waits for the seeding at most `seed_timeout_s`; what is not done by then goes on in
the background, at most `seed_background_s` in all. A live reading that arrives meanwhile is never
overwritten by an older seeded value (`LatestState.seed`).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import structlog

from api.history import last_values_statements, seed_targets
from api.influx import InfluxError, InfluxQueryClient
from collector.latest import LatestState
from collector.models import KINDS, NAME_RE, DeviceKey
from collector.registry import Registry

log = structlog.get_logger("louyu.api.seeding")


def kinds_in_order(registry: Registry) -> list[str]:
    """Every kind, the fewest registered devices first."""
    counts = Counter(device.kind for device in registry.devices())
    return sorted(KINDS, key=lambda kind: (counts[kind], KINDS.index(kind)))


async def seed_kind(client: InfluxQueryClient, table: LatestState, kind: str) -> int:
    results = await client.query_many(last_values_statements(kind))
    seeded = 0
    for (_, name), series_list in zip(seed_targets(kind), results, strict=False):
        for series in series_list:
            building, device = series.tags.get("building", ""), series.tags.get("device", "")
            if not (NAME_RE.fullmatch(building) and NAME_RE.fullmatch(device)):
                continue
            for row in series.values:
                if len(row) >= 2 and row[1] is not None and isinstance(row[0], int):
                    table.seed(DeviceKey(building, kind, device), name, row[1], row[0])
                    seeded += 1
    return seeded


async def seed_latest(client: InfluxQueryClient, table: LatestState, kinds: list[str]) -> int:
    """Each kind in turn; a kind that fails is logged and skipped. Returns the values seeded."""
    seeded = 0
    for kind in kinds:
        try:
            values = await seed_kind(client, table, kind)
        except InfluxError as error:
            log.warning("seed_from_influx_failed", kind=kind, error=str(error)[:200])
            continue
        seeded += values
        log.info("seeded_from_influx", kind=kind, values=values)
    return seeded


async def start_seeding(
    client: InfluxQueryClient, table: LatestState, registry: Registry, wait_s: float, limit_s: float
) -> asyncio.Task[int] | None:
    """Start seeding; return once it is done or after `wait_s`, with the task still running (to
    be cancelled at shutdown), or None when it finished in time."""

    async def bounded() -> int:
        try:
            return await asyncio.wait_for(seed_latest(client, table, kinds_in_order(registry)), limit_s)
        except TimeoutError:
            log.warning("seed_from_influx_failed", error=f"not finished within {limit_s} s")
            return 0

    task = asyncio.create_task(bounded(), name="louyu-seed-latest")
    done, _ = await asyncio.wait({task}, timeout=wait_s)
    if done:
        return None
    log.info("seeding_goes_on_in_the_background", waited_s=wait_s)
    return task
