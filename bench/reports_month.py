"""Reports over a month: the time to build and render (PDF, HTML, CSV zip) each report for the
Darong area and for a district, against a real influxd (1.x) and a SQLite alert store.

- Darong: the shipped registry; every AED reporting every 15 minutes for the month (InfluxDB),
  and a month of alerts and notification deliveries in the store.
- District: 100,000 registered devices (100 buildings x 20 AEDs and 980 parking spaces, as in
  bench/rules_district.py); in InfluxDB the AEDs' readings, hourly (2,000 x 744 points); in the
  store 8,000 alerts (AED alerts, and 2 % of the spaces going offline once) and 16,000
  deliveries. The parking spaces' own readings are not written (the AED and alert reports do not
  read them, and 73 million points do not fit this machine's time budget): the parking-canteen
  and data-quality kinds are timed on Darong only.

    python -m bench.reports_month
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert

from api.influx import InfluxQueryClient
from api.reports.model import Period
from api.reports.service import ReportService
from collector.registry import BuildingInfo, DeviceInfo, Registry
from louyu.testing.services import Influxd
from rules.config import load_rules
from rules.database import make_engine
from rules.database.alerts import AlertRow
from rules.database.migrate import upgrade
from rules.database.notifier import DeliveryRow

START = dt.datetime(2026, 9, 30, 16, tzinfo=dt.UTC)  # October, Shanghai
END = dt.datetime(2026, 10, 31, 16, tzinfo=dt.UTC)
PERIOD = Period(START, END, "month")
AED_RULES = [
    ("aed-cabinet-open", "critical"),
    ("aed-offline", "major"),
    ("aed-fault", "major"),
    ("aed-battery-low", "minor"),
]


def district() -> Registry:
    registry = Registry(area="district", area_name=None, timezone="Asia/Shanghai", buildings={})
    for b in range(100):
        building = f"tower-{b:03d}"
        registry.buildings[building] = BuildingInfo(building, building, None, None)
        for n in range(20):
            registry.add(DeviceInfo(building, "aed", f"aed-{n:02d}", floor=f"{n}F"))
        for n in range(980):
            registry.add(DeviceInfo(building, "parking_space", f"s-{n:04d}", floor="B1"))
    return registry


def write(server: Influxd, lines: list[str]) -> None:
    for first in range(0, len(lines), 20_000):
        body = "\n".join(lines[first : first + 20_000])
        response = httpx.post(
            f"{server.url}/write", params={"db": "louyu", "precision": "s"}, content=body, timeout=120
        )
        response.raise_for_status()


def fill_influx(server: Influxd, registry: Registry, step_s: int) -> int:
    httpx.post(f"{server.url}/query", data={"q": "CREATE DATABASE louyu"}, timeout=10).raise_for_status()
    rng = random.Random(7)
    lines: list[str] = []
    points = 0
    for aed in registry.devices("aed"):
        tags = f"aed,building={aed.building},device={aed.device}"
        battery = rng.uniform(40, 100)
        pads = (START + dt.timedelta(days=rng.randint(10, 200))).date().isoformat()
        for t in range(int(START.timestamp()), int(END.timestamp()), step_s):
            battery -= step_s / 86400 * 0.5
            lines.append(
                f'{tags} state="ready",cabinet_open=false,battery_pct={battery:.1f},pads_expiry="{pads}" {t}'
            )
        if len(lines) >= 200_000:
            write(server, lines)
            points += len(lines)
            lines = []
    write(server, lines)
    return points + len(lines)


def fill_store(database_url: str, registry: Registry, spaces_offline: float) -> tuple[int, int]:
    engine = make_engine(database_url)
    upgrade(engine)
    rng = random.Random(11)
    alerts: list[dict[str, object]] = []
    span = (END - START).total_seconds()

    def alert(rule: str, severity: str, building: str, kind: str, device: str) -> None:
        started = START + dt.timedelta(seconds=rng.uniform(0, span - 7200))
        acked = started + dt.timedelta(seconds=rng.uniform(5, 600)) if rng.random() < 0.8 else None
        resolved = started + dt.timedelta(seconds=rng.uniform(60, 7200))
        alerts.append(dict(rule=rule, severity=severity, state="resolved", building=building, kind=kind, device=device,
                           summary=rule, value=None, started_at=started, acknowledged_at=acked,
                           acknowledged_by="patrol" if acked else None, resolved_at=resolved, resolved_by=None,
                           resolution="cleared", escalated_at=None, escalation_level=0, flapping=False, silenced=False,
                           labels={}, updated_at=resolved))  # fmt: skip

    for aed in registry.devices("aed"):
        for rule, severity in AED_RULES:
            if rng.random() < 0.75:
                alert(rule, severity, aed.building, "aed", aed.device)
    for space in registry.devices("parking_space"):
        if rng.random() < spaces_offline:
            alert("device-offline", "minor", space.building, "parking_space", space.device)
    deliveries = []
    for n, a in enumerate(alerts):
        for receiver in ("patrol", "city"):
            created = a["started_at"]
            assert isinstance(created, dt.datetime)
            delivered = created + dt.timedelta(milliseconds=rng.uniform(2, 300))
            deliveries.append(dict(id=f"d-{n}-{receiver}", created_at=created, event_id=n, alert_id=None, event="raised",
                                   reason="event", level=0, route="r", severity=a["severity"], rule=a["rule"],
                                   building=a["building"], receiver=receiver, channel="mqtt", title="t", payload="{}",
                                   status="delivered", attempts=1, next_attempt_at=created, deadline=created,
                                   delivered_at=delivered, finished_at=delivered))  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(AlertRow), alerts)
        conn.execute(insert(DeliveryRow), deliveries)
    engine.dispose()
    return len(alerts), len(deliveries)


def measure(name: str, registry: Registry, database_url: str, server: Influxd, kinds: list[str]) -> None:
    engine = make_engine(database_url)
    client = InfluxQueryClient(server.url, "v1", "louyu", timeout_s=300)
    service = ReportService(registry, load_rules(), engine, client, lambda: END)
    for kind in kinds:
        started = time.perf_counter()
        report = service.make(kind, PERIOD)
        built = time.perf_counter()
        pdf = service.render(report, "pdf", "zh")
        rendered = time.perf_counter()
        html = service.render(report, "html", "en")
        zipped = service.render(report, "zip", "zh")
        done = time.perf_counter()
        rows = sum(len(t.rows) for s in report.sections for t in s.tables)
        print(f"{name:8} {kind:16} build {built - started:6.1f} s  pdf {rendered - built:5.1f} s "
              f"({len(pdf) / 1e6:.1f} MB)  html+csv {done - rendered:5.1f} s ({len(html) / 1e6:.1f} MB, "
              f"zip {len(zipped) / 1e6:.1f} MB)  total {done - started:6.1f} s  rows {rows}", flush=True)  # fmt: skip
    engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="louyu-bench-reports-") as tmp:
        for name, registry, step, offline, kinds in (
            (
                "darong",
                Registry.load(),
                900,
                0.02,
                ["aed-readiness", "alert-handling", "parking-canteen", "data-quality"],
            ),
            ("district", district(), 3600, 0.02, ["aed-readiness", "alert-handling"]),
        ):
            server = Influxd(Path(tmp) / f"influxd-{name}")
            server.start()
            try:
                started = time.perf_counter()
                points = fill_influx(server, registry, step)
                url = f"sqlite:///{Path(tmp) / f'{name}.db'}"
                alerts, deliveries = fill_store(url, registry, offline)
                print(f"{name}: {len(registry)} devices, {points} AED points in InfluxDB, {alerts} alerts and "
                      f"{deliveries} deliveries in the store (filled in {time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
                measure(name, registry, url, server, kinds)
            finally:
                server.kill()


if __name__ == "__main__":
    main()
