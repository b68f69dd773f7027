"""Run the benchmarks: each module's `main()` prints its figures and ratios against a baseline
measured in the same run. Usage: `python -m bench [NAME ...]` (default: all)."""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS = [
    "collector_drain",
    "rules_latency",
    "notify_latency",
    "notify_throughput",
    "api_alerts",
    "rules_district",
]


def main() -> None:
    names = sys.argv[1:] or BENCHMARKS
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    for name in names:
        print(f"\n===== {name} =====", flush=True)
        started = time.monotonic()
        importlib.import_module(f"bench.{name}").main()
        print(f"({name}: {time.monotonic() - started:.0f} s)", flush=True)


main()
