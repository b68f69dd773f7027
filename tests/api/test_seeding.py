"""Seeding the latest-state table at start-up, kind by kind against a real influxd: the AED
first, start-up never held up by the parking spaces of a district, one kind's failure costing
the others nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from api.config import ApiConfig
from api.influx import InfluxError, InfluxQueryClient, Series
from api.roles import Role
from api.seeding import kinds_in_order
from collector.registry import Registry
from louyu.testing.services import Influxd
from tests.api.conftest import Api
from tests.api.test_history import influx

__all__ = ["influx"]  # the fixture: an hour of a lot, a space and two AEDs in a real influxd

SPACE = "/api/v1/devices/darong-a/parking_space/b1-001"
AED = "/api/v1/devices/darong-b/aed/aed-b-1f-lobby"
LOT = "/api/v1/devices/darong-a/parking_lot/garage"


class Client(InfluxQueryClient):
    """The real client, made slow or failing for one kind's statements (a district's parking
    spaces take 17 s on InfluxDB 1.6 here; an index or shard of one measurement can fail)."""

    def __init__(self, server: Influxd, kind: str, delay_s: float = 0.0, fail: bool = False) -> None:
        super().__init__(server.url, "v1", "louyu")
        self.kind, self.delay_s, self.fail = kind, delay_s, fail
        self.kinds_asked: list[str] = []

    async def query_many(self, statements: Sequence[str]) -> list[list[Series]]:
        if statements and "GROUP BY" in statements[0] and "last(" in statements[0]:
            kind = statements[0].split(" FROM ")[1].split()[0].strip('"')
            self.kinds_asked.append(kind)
            if kind == self.kind:
                if self.fail:
                    raise InfluxError("shard unreadable")
                await asyncio.sleep(self.delay_s)
        return await super().query_many(statements)


def test_the_kinds_with_fewest_devices_come_first(registry: Registry) -> None:
    # Thousands of spaces against a few of everything else: the spaces last, whatever the rest.
    assert kinds_in_order(registry)[-1] == "parking_space"


def test_start_up_does_not_wait_for_the_slowest_kind(start_api: Callable[..., Api], influx: Influxd) -> None:
    client = Client(influx, "parking_space", delay_s=3.0)
    started = time.monotonic()
    api = start_api(ApiConfig(seed_timeout_s=0.5, rate_per_s=1000, rate_burst=1000), history=client)
    took = time.monotonic() - started
    with api.client(Role.VIEWER) as viewer:
        aed = viewer.get(AED).json()
        space = viewer.get(SPACE).json()
        assert took < 3.0, f"start-up took {took:.1f} s"
        assert aed["reading"]["state"] == "ready"  # seeded before start-up returned
        assert space["reading"] in (None, {})  # still being read in the background
        deadline = time.monotonic() + 10
        while viewer.get(SPACE).json()["reading"] in (None, {}):
            assert time.monotonic() < deadline, "the parking space was never seeded"
            time.sleep(0.1)
        assert viewer.get(SPACE).json()["reading"] == {"occupied": True}
    assert client.kinds_asked[-1] == "parking_space"


def test_a_kind_that_fails_costs_the_others_nothing(start_api: Callable[..., Api], influx: Influxd) -> None:
    api = start_api(history=Client(influx, "parking_lot", fail=True))
    with api.client(Role.VIEWER) as viewer:
        assert viewer.get(AED).json()["reading"]["state"] == "ready"
        assert viewer.get(SPACE).json()["reading"] == {"occupied": True}
        assert viewer.get(LOT).json()["reading"] in (None, {})
