"""A district: 100,000 registered devices, and the liveness sweep over all of them.

The registry is built in code (100 buildings x 1,000 parking spaces behind 10 gateways each).
Every device reports once; then 1 % fall silent, half of them behind a gateway that has gone
offline (held back by inhibition). Reported: memory (RSS), the pure `find_silent` pass, a full
sweep (raising the alerts into SQLite), and a sweep with nothing new.
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

from collector.models import Availability, Reading
from collector.registry import BuildingInfo, DeviceInfo, Registry
from rules.config import load_rules
from rules.database import make_engine
from rules.database.migrate import upgrade
from rules.engine import RuleEngine
from rules.liveness import find_silent
from rules.metrics import RulesMetrics
from rules.publisher import NullPublisher
from rules.store import AlertStore

BUILDINGS = 100
PER_BUILDING = 1000
GATEWAYS = 10


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def build_registry() -> Registry:
    registry = Registry(area="district", area_name=None, timezone="Asia/Shanghai", buildings={})
    for b in range(BUILDINGS):
        building = f"tower-{b:03d}"
        registry.buildings[building] = BuildingInfo(building, building, None, None)
        for g in range(GATEWAYS):
            registry.add(DeviceInfo(building, "parking_lot", f"gw-{g}", capacity=500))
        for n in range(PER_BUILDING - GATEWAYS):
            registry.add(
                DeviceInfo(building, "parking_space", f"s-{n:04d}", floor="B1", gateway=f"gw-{n % GATEWAYS}")
            )
    return registry


def main() -> None:
    base_rss = rss_mb()
    t = time.perf_counter()
    registry = build_registry()
    build_s = time.perf_counter() - t
    registry_rss = rss_mb()
    with tempfile.TemporaryDirectory(prefix="louyu-bench-") as tmp:
        db = make_engine(f"sqlite:///{Path(tmp)}/louyu.db")
        upgrade(db)
        # No sweep summary (LOUYU_RULES_LIVENESS_SUMMARY_OVER=0): this measures raising every
        # silent device's own alert, the sweep's worst case.
        engine = RuleEngine(
            load_rules(),
            registry,
            AlertStore(db),
            NullPublisher(),
            liveness_summary_over=0,
            metrics=RulesMetrics(CollectorRegistry()),
        )
        t0 = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)
        engine.load(t0)

        t = time.perf_counter()
        for info in registry:
            fields = {"occupied": 10} if info.kind == "parking_lot" else {"occupied": True}
            engine.handle(Reading(info.building, info.kind, info.device, 0, dict(fields)), t0)
        ingest_s = time.perf_counter() - t
        loaded_rss = rss_mb()

        # 1 % go silent: in every tenth building, every tenth device. In half of those buildings
        # the devices' gateway gw-0 is offline, so their alerts are inhibited.
        later = t0 + dt.timedelta(minutes=31)
        fresh = later.timestamp() - 60
        silent_expected = 0
        for key in engine.last_seen:
            building, _, device = key
            quiet = (
                int(building[-3:]) % 10 == 0 and not device.startswith("gw-") and int(device[-4:]) % 10 == 0
            )
            if quiet:
                silent_expected += 1
            else:
                engine.last_seen[key] = fresh
        for b in range(0, BUILDINGS, 20):
            engine.handle(Availability(f"tower-{b:03d}", "parking_lot", "gw-0", False, 0), later, False)

        t = time.perf_counter()
        found = find_silent(engine.last_seen, later.timestamp(), 30 * 60)
        find_ms = (time.perf_counter() - t) * 1000

        t = time.perf_counter()
        raised = engine.sweep(later)
        sweep_ms = (time.perf_counter() - t) * 1000
        inhibited = engine.metrics.inhibited.labels("device-offline")._value.get()
        t = time.perf_counter()
        again = engine.sweep(later + dt.timedelta(seconds=15))
        resweep_ms = (time.perf_counter() - t) * 1000
        db.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print("rules district: 100,000 registered devices, liveness sweep")
    print(f"  devices            {len(registry):,} ({BUILDINGS} buildings)")
    print(f"  registry build     {build_s:.2f} s, +{registry_rss - base_rss:.0f} MB RSS")
    print(
        f"  one reading each   {ingest_s:.2f} s ({len(registry) / ingest_s:,.0f} readings/s through the engine)"
    )
    print(f"  RSS                {loaded_rss:.0f} MB with engine state (peak {peak_mb:.0f} MB)")
    print(
        f"  find_silent        {find_ms:.1f} ms over {len(engine.last_seen):,} devices -> {len(found):,} silent"
    )
    print(
        f"  full sweep         {sweep_ms:.0f} ms: {len(raised):,} alerts raised, {inhibited:,.0f} held back"
    )
    print(f"  sweep, nothing new {resweep_ms:.1f} ms ({len(again)} alerts)")
    assert len(found) == silent_expected


if __name__ == "__main__":
    main()
