"""`GET /api/v1/alerts` with 100,000 alerts in the store: latency at a steady request rate.

A SQLite alert store filled with 100,000 alerts (about 2,000 of them open), the real app on
uvicorn in a process of its own on loopback, and an open-loop load generator: requests leave at
fixed times whatever the answers do, and each latency is counted from the time the request was
due, so a slow answer cannot hide the ones queued behind it. The mix: the first page, filters
(state, building and severity, device), sorting by severity, and a walk ten pages deep by cursor.
The baseline, measured in the same run at the same rate: `GET /healthz` (the server's floor).

    python -m bench.api_alerts [RATE_PER_S] [SECONDS]
"""

from __future__ import annotations

import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import insert

from louyu.testing.services import free_port, http_ok

ALERTS = 100_000
OPEN = 2_000
TARGET_P99_MS = 100.0
BUILDINGS = [f"darong-{c}" for c in "abcdefghijklmnopq"]
RULES = [
    ("aed-cabinet-open", "critical", "aed"),
    ("aed-fault", "major", "aed"),
    ("aed-battery-low", "minor", "aed"),
    ("parking-lot-full", "warning", "parking_lot"),
    ("canteen-crowded", "warning", "canteen"),
    ("device-offline", "minor", "parking_space"),
]


def fill(database_url: str) -> str:
    """100,000 alerts over 30 days, bulk-inserted; returns an admin token."""
    import api.tokens  # noqa: F401  (registers api_tokens)
    from api.roles import Role
    from api.tokens import TokenStore
    from rules.database import make_engine
    from rules.database.alerts import AlertRow
    from rules.database.migrate import upgrade

    engine = make_engine(database_url)
    upgrade(engine)
    rng = random.Random(7)
    start = dt.datetime(2026, 10, 28, tzinfo=dt.UTC)
    rows = []
    for n in range(ALERTS):
        rule, severity, kind = RULES[n % len(RULES)]
        started = start + dt.timedelta(seconds=n * 26 + rng.randrange(20))
        is_open = n >= ALERTS - OPEN
        state = rng.choice(["firing", "acknowledged"]) if is_open else "resolved"
        rows.append(
            {
                "rule": rule,
                "severity": severity,
                "state": state,
                "building": BUILDINGS[n % len(BUILDINGS)],
                "kind": kind,
                # Unique per alert: at most one open alert per rule and device holds trivially.
                "device": f"dev-{n:06d}",
                "summary": f"{rule} at dev-{n:06d}",
                "value": rng.random(),
                "started_at": started,
                "updated_at": started,
                "acknowledged_at": started if state == "acknowledged" else None,
                "acknowledged_by": "patrol-wang" if state == "acknowledged" else None,
                "resolved_at": started + dt.timedelta(minutes=5) if state == "resolved" else None,
                "resolution": "cleared" if state == "resolved" else None,
                "escalation_level": 0,
                "flapping": False,
                "silenced": False,
                "labels": {"floor": "1F"},
            }
        )
    with engine.begin() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(insert(AlertRow), rows[i : i + 5000])
    _, token = TokenStore(engine).create("bench", Role.ADMIN, dt.datetime.now(dt.UTC))
    engine.dispose()
    return token


def serve(database_url: str, port: int, broker_port: int | None = None) -> None:
    """The server process: the real app, uvicorn, until killed. With `broker_port`, the app
    follows `louyu/alerts/#` on that broker, as deployed: an alert event wakes the event streams."""
    from api.app import create_app
    from api.config import ApiConfig
    from api.tokens import TokenStore
    from collector.broker import BrokerTarget
    from collector.registry import Registry
    from rules.database import make_engine
    from rules.store import AlertStore

    engine = make_engine(database_url)
    app = create_app(
        ApiConfig(
            rate_per_s=1e9,
            rate_burst=10**9,
            mqtt=BrokerTarget("127.0.0.1", broker_port) if broker_port else None,
            mqtt_client_id="bench-api",
        ),
        store=AlertStore(engine),
        tokens=TokenStore(engine),
        registry=Registry.load(),
    )
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def load(
    base: str, token: str, paths: Callable[[int], str], rate: float, seconds: float, workers: int = 16
) -> tuple[list[float], int]:
    """Open-loop: request i is due at start + i / rate; its latency counts from then."""
    total = int(rate * seconds)
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    next_index = 0
    begin = time.perf_counter() + 0.2

    def worker() -> None:
        nonlocal next_index, errors
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            while True:
                with lock:
                    i = next_index
                    next_index += 1
                if i >= total:
                    return
                due = begin + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                response = client.get(paths(i))
                took = time.perf_counter() - due
                with lock:
                    latencies.append(took * 1000)
                    if response.status_code != 200:
                        errors += 1

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        serve(args[1], int(args[2]), int(args[3]) if len(args) > 3 else None)
        return
    rate = float(args[0]) if args else 50.0
    seconds = float(args[1]) if len(args) > 1 else 15.0
    with tempfile.TemporaryDirectory(prefix="louyu-bench-api-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'louyu.db'}"
        started = time.perf_counter()
        token = fill(url)
        filled_s = time.perf_counter() - started
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.api_alerts", "serve", url, str(port)],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        try:
            deadline = time.monotonic() + 30
            while not http_ok(f"http://127.0.0.1:{port}/healthz"):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the API server did not start")
                time.sleep(0.05)
            base = f"http://127.0.0.1:{port}"
            cursors = _cursors(base, token, 10)
            mix = [
                "/api/v1/alerts",
                "/api/v1/alerts?state=firing&state=acknowledged&limit=100",
                "/api/v1/alerts?building=darong-c&severity=minor",
                "/api/v1/alerts?sort=severity&limit=50",
                "/api/v1/alerts?device=dev-012345",
                *[f"/api/v1/alerts?cursor={c}" for c in cursors],
            ]
            # Warm up (connections, SQLite page cache), then each query alone, then the loads.
            load(base, token, lambda i: mix[i % len(mix)], rate, 2)
            alone = _alone(base, token, mix[:5] + mix[-1:])
            floor, floor_errors = load(base, token, lambda i: "/healthz", rate, seconds)
            lat, errors = load(base, token, lambda i: mix[i % len(mix)], rate, seconds)
        finally:
            server.terminate()
            server.wait(10)
    p99 = _pct(lat, 99)
    print(f"api alerts: GET /api/v1/alerts, {ALERTS:,} alerts in SQLite (filled in {filled_s:.1f} s)")
    print(
        f"  steady rate {rate:.0f} req/s for {seconds:.0f} s, open loop; latency from each request's due time"
    )
    print(f"  mix: {len(mix)} queries (first page, filters, sort by severity, 10 pages deep by cursor)")
    print(
        f"  alerts : p50 {_pct(lat, 50):6.1f} ms  p90 {_pct(lat, 90):6.1f} ms  p99 {p99:6.1f} ms  "
        f"max {max(lat):6.1f} ms  mean {statistics.fmean(lat):5.1f} ms  errors {errors}/{len(lat)}"
    )
    print(
        f"  healthz: p50 {_pct(floor, 50):6.1f} ms  p90 {_pct(floor, 90):6.1f} ms  p99 {_pct(floor, 99):6.1f} ms  "
        f"max {max(floor):6.1f} ms  errors {floor_errors}/{len(floor)}"
    )
    print("  each query alone (mean of 20, sequential):")
    for path, ms in alone.items():
        print(f"    {ms:6.1f} ms  {path}")
    print(f"  p99 ratio alerts / healthz: {p99 / _pct(floor, 99):.1f}x")
    verdict = "met" if p99 < TARGET_P99_MS and errors == 0 else "NOT met"
    print(f"  target p99 < {TARGET_P99_MS:.0f} ms at {rate:.0f} req/s: {verdict}")


def _alone(base: str, token: str, paths: list[str]) -> dict[str, float]:
    out = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for path in paths:
            started = time.perf_counter()
            for _ in range(20):
                client.get(path).raise_for_status()
            label = path if "cursor=" not in path else "/api/v1/alerts?cursor=(page 10)"
            out[label] = (time.perf_counter() - started) / 20 * 1000
    return out


def _cursors(base: str, token: str, pages: int) -> list[str]:
    out = []
    cursor = None
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for _ in range(pages):
            params: dict[str, str] = {"cursor": cursor} if cursor else {}
            cursor = client.get("/api/v1/alerts", params=params).json()["next_cursor"]
            out.append(cursor)
    return out


if __name__ == "__main__":
    main()
