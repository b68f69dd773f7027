"""Reports over a month: the time to build and render (PDF, HTML, CSV zip) each report for the
Darong area and for a district, against a real influxd (1.x) and a SQLite alert store.

What is written (bench/district_month.py: every device at its heartbeat, collector/cadence.py,
with 2 % of the devices silent once for a while):
- Darong, the baseline: the shipped registry (625 devices), a month of every device: AEDs every
  5 minutes, lot and canteen counters every minute (the canteen from four weeks earlier: its
  typical day looks back that far), spaces every 10 minutes; a month of alerts and deliveries.
- District: 100,000 devices (`BENCH_REPORTS_BUILDINGS`, default 100 buildings of 1,000: 20 AEDs,
  3 lot counters, a canteen in every fifth building, the rest parking spaces). A month of the
  AEDs (17.9 M points), lot counters (13.4 M) and canteens (1.7 M with their history): all the
  AED readiness, alert handling and parking-and-canteen reports read (the latter reads
  `parking_lot` and `canteen` only, never `parking_space`). A month of every space is 430 M
  points, more than this machine writes in a bench: the spaces are written for one day (the
  quality day, 14 M points, one building's gateway down 10:00-12:00) and for the whole month in
  one building (tower-000, 4.4 M points).
Timed: aed-readiness, alert-handling and parking-canteen for the district month; data-quality for
the district month without the spaces, the district day with every device and without the spaces,
and tower-000's spaces for the day and the month. The district month's data-quality build with
every device is then EXTRAPOLATED, and printed as such: the month without the spaces, plus the
spaces' share of the day (day with every device minus day without) times the month-to-day ratio
measured on tower-000's spaces. Its page and PDF list at most 200 devices (as the day's did).

Duration on the shared 2-core machine under other test suites (load average 7-13): about 26
minutes for the full district, 15 of them writing its 51 M points; 3 minutes with 2 buildings.
Figures: docs/reports.md#performance.

    python -m bench.reports_month                             # what `make bench` runs
    BENCH_REPORTS_BUILDINGS=2 python -m bench.reports_month   # a 2,000-device district
"""

from __future__ import annotations

import datetime as dt
import os
import random
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert

from api.influx import InfluxQueryClient
from api.reports.model import Period
from api.reports.service import ReportService
from api.web.forecast import TYPICAL_WEEKS
from bench.district_month import TZ, Writer, district, subset, write
from collector.registry import DeviceInfo, Registry
from louyu.testing.services import Influxd
from rules.config import load_rules
from rules.database import make_engine
from rules.database.alerts import AlertRow
from rules.database.migrate import upgrade
from rules.database.notifier import DeliveryRow

BUILDINGS = int(os.environ.get("BENCH_REPORTS_BUILDINGS", "100"))
START = dt.datetime(2026, 9, 30, 16, tzinfo=dt.UTC)  # October, Shanghai
END = dt.datetime(2026, 10, 31, 16, tzinfo=dt.UTC)
PERIOD = Period(START, END, "month")
HISTORY_START = START - dt.timedelta(weeks=TYPICAL_WEEKS)
# The data-quality day: a Wednesday in the month.
DAY_START = dt.datetime(2026, 10, 14, tzinfo=TZ)
DAY = Period(DAY_START.astimezone(dt.UTC), (DAY_START + dt.timedelta(days=1)).astimezone(dt.UTC), "day")
AED_RULES = [
    ("aed-cabinet-open", "critical"),
    ("aed-offline", "major"),
    ("aed-fault", "major"),
    ("aed-battery-low", "minor"),
]
KINDS = ["aed-readiness", "alert-handling", "parking-canteen", "data-quality"]


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


def measure(
    label: str,
    registry: Registry,
    database_url: str,
    server: Influxd,
    kind: str,
    period: Period = PERIOD,
    building: str | None = None,
    baseline: dict[str, float] | None = None,
) -> tuple[float, float]:
    """Build and render one report; print its figures (and its ratio to `baseline[kind]`, the
    same kind's total for Darong). Returns (build, total) seconds."""
    engine = make_engine(database_url)
    client = InfluxQueryClient(server.url, "v1", "louyu", timeout_s=1800)
    service = ReportService(registry, load_rules(), engine, client, lambda: END)
    started = time.perf_counter()
    report = service.make(kind, period, building)
    built = time.perf_counter()
    pdf = service.render(report, "pdf", "zh")
    rendered = time.perf_counter()
    html = service.render(report, "html", "en")
    zipped = service.render(report, "zip", "zh")
    done = time.perf_counter()
    engine.dispose()
    tables = [t for s in report.sections for t in s.tables]
    rows, shown = sum(len(t.rows) for t in tables), sum(len(t.displayed) for t in tables)
    charts = sum(len(s.charts) for s in report.sections)
    total = done - started
    ratio = f"  x{total / baseline[kind]:.1f} darong" if baseline and baseline.get(kind) else ""
    print(f"{label:22} {kind:15} build {built - started:6.1f} s  pdf {rendered - built:5.1f} s "
          f"({len(pdf) / 1e6:.1f} MB)  html+csv {done - rendered:5.1f} s ({len(html) / 1e6:.1f} MB, "
          f"zip {len(zipped) / 1e6:.1f} MB)  total {total:6.1f} s  rows {rows} ({shown} on the page), "
          f"charts {charts}{ratio}", flush=True)  # fmt: skip
    return built - started, total


def fill(server: Influxd, label: str, parts: list[tuple[str, list[DeviceInfo], dt.datetime, dt.datetime]],
         gateway_down: tuple[str, dt.datetime, dt.datetime] | None = None) -> None:  # fmt: skip
    """Write each part (what, devices, from, to) and print its points and write rate."""
    writer = Writer(server)
    for seed, (what, devices, start, end) in enumerate(parts):
        before, started = writer.points + len(writer.lines), time.perf_counter()
        write(writer, devices, start, end, seed, gateway_down)
        writer.flush()
        writer.flush()
        points, took = writer.points - before, time.perf_counter() - started
        print(f"{label}: {what}: {points / 1e6:.2f} M points written in {took:.0f} s "
              f"({points / max(took, 1e-9) / 1e3:.0f} k points/s, built and written)", flush=True)  # fmt: skip
    writer.close()


def new_influxd(tmp: str, name: str) -> Influxd:
    server = Influxd(Path(tmp) / f"influxd-{name}")
    server.start()
    httpx.post(f"{server.url}/query", data={"q": "CREATE DATABASE louyu"}, timeout=10).raise_for_status()
    return server


def darong(tmp: str) -> dict[str, float]:
    """The baseline: a month of every Darong device, each report; returns each kind's total."""
    registry = Registry.load()
    server = new_influxd(tmp, "darong")
    try:
        devices = registry.devices()
        fill(server, "darong", [
            ("every device, the month", [d for d in devices if d.kind != "canteen"], START, END),
            ("canteens, the month and four weeks before", registry.devices("canteen"), HISTORY_START, END),
        ])  # fmt: skip
        url = f"sqlite:///{Path(tmp) / 'darong.db'}"
        alerts, deliveries = fill_store(url, registry, 0.02)
        print(
            f"darong: {len(registry)} devices, {alerts} alerts and {deliveries} deliveries in the store",
            flush=True,
        )
        return {kind: measure("darong month", registry, url, server, kind)[1] for kind in KINDS}
    finally:
        server.kill()


def district_run(tmp: str, baseline: dict[str, float]) -> None:
    registry = district(BUILDINGS)
    buildings = list(registry.buildings)
    first, down = buildings[0], buildings[min(7, len(buildings) - 1)]
    spaces = registry.devices("parking_space")
    server = new_influxd(tmp, "district")
    try:
        started = time.perf_counter()
        gateway = (down, DAY_START + dt.timedelta(hours=10), DAY_START + dt.timedelta(hours=12))
        fill(server, "district", [
            ("AEDs, the month", registry.devices("aed"), START, END),
            ("lot counters, the month", registry.devices("parking_lot"), START, END),
            ("canteens, the month and four weeks before", registry.devices("canteen"), HISTORY_START, END),
            (f"{first}'s spaces, the month", [s for s in spaces if s.building == first], START, END),
            ("every other space, the quality day", [s for s in spaces if s.building != first],
             DAY.start, DAY.end),
        ], gateway)  # fmt: skip
        url = f"sqlite:///{Path(tmp) / 'district.db'}"
        alerts, deliveries = fill_store(url, registry, 0.02)
        print(f"district: {len(registry)} devices ({len(spaces)} spaces), {alerts} alerts and {deliveries} "
              f"deliveries in the store; filled in {time.perf_counter() - started:.0f} s", flush=True)  # fmt: skip
        for kind in ("aed-readiness", "alert-handling", "parking-canteen"):
            measure("district month", registry, url, server, kind, baseline=baseline)
        no_spaces = subset(registry, lambda d: d.kind != "parking_space")
        only_first = subset(registry, lambda d: d.kind == "parking_space" and d.building == first)
        q = "data-quality"
        month_rest, _ = measure("district month -spaces", no_spaces, url, server, q, baseline=baseline)
        day_all, day_total = measure("district day", registry, url, server, q, DAY)
        day_rest, _ = measure("district day -spaces", no_spaces, url, server, q, DAY)
        one_month, _ = measure(f"{first} spaces month", only_first, url, server, q, building=first)
        one_day, _ = measure(f"{first} spaces day", only_first, url, server, q, DAY, building=first)
        factor = one_month / one_day
        days = PERIOD.seconds / DAY.seconds
        low = month_rest + (day_all - day_rest) * factor
        high = month_rest + (day_all - day_rest) * days
        render = day_total - day_all
        print(f"EXTRAPOLATED, not measured: district month data-quality with every device: build = "
              f"{month_rest:.1f} s (the month without spaces) + the spaces' day ({day_all:.1f} - {day_rest:.1f} s) "
              f"x {factor:.1f} (month/day measured on {first}'s spaces) = {low:.0f} s, or x {days:.0f} (every "
              f"figure of a day 31 times) = {high:.0f} s; + {render:.1f} s to render (capped, as the day's): "
              f"{low + render:.0f} to {high + render:.0f} s", flush=True)  # fmt: skip
    finally:
        server.kill()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="louyu-bench-reports-") as tmp:
        started = time.perf_counter()
        baseline = darong(tmp)
        district_run(tmp, baseline)
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        print(f"(reports_month: {time.perf_counter() - started:.0f} s; load average {load})", flush=True)


if __name__ == "__main__":
    main()
