"""The collector against a bare paho subscriber, on the same broker in the same run.

One paho publisher caps a live QoS 1 stream at about 20,000 msg/s here, which would hide the
consumer; so the main figure drains a backlog: a mixed QoS 1 stream of all four kinds is queued
for a persistent session while the consumer is away, then the consumer starts and the drain is
timed, from its first message to its last (for the collector: to its last write to InfluxDB).
Each round starts a fresh influxd, so the stored count is exact. A live stream at a fixed rate
follows, for the record.

Targets (issue 15, tightening issue 2's): drain rate >= 95% of the bare subscriber's, nothing
lost, CPU per message <= 1.2x the bare subscriber's (medians of rounds), peak RSS <= 150 MB.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from collector.broker import BrokerTarget
from collector.registry import Registry
from louyu.simulate.model import iter_mixed_messages
from louyu.simulate.publisher import Simulator
from louyu.testing.clients import influx_count, publish_all
from louyu.testing.services import Influxd, Mosquitto

MESSAGES = int(os.environ.get("BENCH_COLLECTOR_MESSAGES", "200000"))
ROUNDS = int(os.environ.get("BENCH_COLLECTOR_ROUNDS", "2"))
LIVE_RATE = int(os.environ.get("BENCH_COLLECTOR_LIVE_RATE", "5000"))
LIVE_SECONDS = float(os.environ.get("BENCH_COLLECTOR_LIVE_SECONDS", "10"))
REQUIRED = {"parking_space": "occupied", "parking_lot": "occupied", "aed": "state", "canteen": "occupancy"}


def consumer(kind: str, port: int, count: str, client_id: str, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.consumers", kind, str(port), count, client_id, *extra],
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} consumer failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def stored_points(influxd: Influxd) -> int:
    return sum(influx_count(influxd.url, measurement, field) for measurement, field in REQUIRED.items())


def drain_round(
    root: Path, broker: Mosquitto, messages: list[tuple[str, bytes]], n: int
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for kind in ("bare", "collector"):
        influxd = Influxd(root / f"influxd-{n}-{kind}")
        influxd.start()
        workdir = root / f"{kind}-{n}"
        workdir.mkdir()
        extra = [influxd.url, str(workdir)] if kind == "collector" else []
        client_id = f"bench-{kind}-{n}"
        consumer(kind, broker.port, "prepare", client_id, *extra)
        started = time.perf_counter()
        publish_all(broker.port, messages)
        publish_s = time.perf_counter() - started
        result = consumer(kind, broker.port, str(len(messages)), client_id, *extra)
        if kind == "collector":
            result["in_influxdb"] = stored_points(influxd)
        else:
            result["in_influxdb"] = result["received"]
        result["publish_rate"] = len(messages) / publish_s
        influxd.kill()
        results[kind] = result
    return results


def live(root: Path, broker: Mosquitto, registry: Registry) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for kind in ("bare", "collector"):
        influxd = Influxd(root / f"influxd-live-{kind}")
        influxd.start()
        workdir = root / f"{kind}-live"
        workdir.mkdir()
        extra = [influxd.url, str(workdir)] if kind == "collector" else []
        client_id = f"bench-live-{kind}"
        consumer(kind, broker.port, "prepare", client_id, *extra)
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.consumers", kind, str(broker.port), "live", client_id, *extra],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.5)  # connected and subscribed before the stream starts
        simulator = Simulator(
            BrokerTarget("127.0.0.1", broker.port),
            registry=registry,
            rate=LIVE_RATE,
            duration_s=LIVE_SECONDS,
            availability=False,
            client_id=f"bench-sim-{kind}",
        )
        simulator.start()
        simulator.wait(LIVE_SECONDS + 60)
        simulator.stop()
        out, _ = process.communicate(timeout=120)
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        result["sent"] = simulator.data_sent  # telemetry only, not its own online/offline status
        if kind == "collector":
            result["in_influxdb"] = stored_points(influxd)
        influxd.kill()
        results[kind] = result
    return results


def main() -> None:
    registry = Registry.load()
    with tempfile.TemporaryDirectory(prefix="louyu-bench-collector-") as tmp:
        root = Path(tmp)
        broker = Mosquitto(root / "mosquitto")
        broker.start()
        try:
            rounds = []
            for n in range(ROUNDS):
                messages = list(
                    iter_mixed_messages(registry, MESSAGES, seed=n, now_ms=int(time.time() * 1000) - 60_000)
                )
                rounds.append(drain_round(root, broker, messages, n))
            live_results = live(root, broker, registry)
        finally:
            broker.kill()
    report(rounds, live_results)


def report(rounds: list[dict[str, dict[str, Any]]], live_results: dict[str, dict[str, Any]]) -> None:
    print(
        f"\ncollector drain: {MESSAGES:,} mixed QoS 1 messages queued for a persistent session, {len(rounds)} rounds"
    )
    print(
        f"{'consumer':<10} {'round':>5} {'drain msg/s':>12} {'CPU us/msg':>11} {'peak RSS MB':>12} {'stored':>9} {'lost':>6}"
    )
    rates: dict[str, list[float]] = {"bare": [], "collector": []}
    cpus: dict[str, list[float]] = {"bare": [], "collector": []}
    for n, result in enumerate(rounds):
        for kind, r in result.items():
            rate = MESSAGES / r["seconds"]
            cpu = r["cpu_s"] / MESSAGES * 1e6
            rates[kind].append(rate)
            cpus[kind].append(cpu)
            print(
                f"{kind:<10} {n:>5} {rate:>12,.0f} {cpu:>11.1f} {r['peak_rss_mb']:>12.1f} {r['in_influxdb']:>9,} "
                f"{MESSAGES - r['in_influxdb']:>6}"
            )
    rate_ratio = statistics.median(c / b for c, b in zip(rates["collector"], rates["bare"], strict=True))
    cpu_ratio = statistics.median(c / b for c, b in zip(cpus["collector"], cpus["bare"], strict=True))
    print(f"collector/bare drain rate (median of rounds): {rate_ratio:.2f}  (target >= 0.95)")
    print(f"collector/bare CPU per message (median of rounds): {cpu_ratio:.2f}  (target <= 1.20)")
    print(f"\nlive stream: {LIVE_RATE:,} msg/s for {LIVE_SECONDS:g} s (the simulator's --rate mode)")
    for kind, r in live_results.items():
        received = max(r["received"], 1)
        stored = r.get("in_influxdb", r["received"])
        print(
            f"{kind:<10} sent {r['sent']:>8,} received {r['received']:>8,} stored {stored:>8,} "
            f"CPU {r['cpu_s'] / received * 1e6:6.1f} us/msg  peak RSS {r['peak_rss_mb']:.1f} MB"
        )


if __name__ == "__main__":
    main()
