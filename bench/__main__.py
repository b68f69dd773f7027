"""Run the benchmarks: each module's `main()` prints its figures and ratios against a baseline
measured in the same run. Usage: `python -m bench [NAME ...]` (default: all)."""

from __future__ import annotations

import subprocess
import sys
import time

BENCHMARKS = [
    "collector_drain",
    "collector_startup",
    "rules_latency",
    "notify_latency",
    "notify_throughput",
    "api_alerts",
    "rules_district",
    "console_weight",
    "reports_usage",
    "reports_month",
]


def main() -> None:
    names = sys.argv[1:] or BENCHMARKS
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        raise SystemExit(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    failed = []
    for name in names:
        print(f"\n===== {name} =====", flush=True)
        started = time.monotonic()
        # Each in a process of its own, so that memory figures are its own.
        done = subprocess.run([sys.executable, "-c", f"import bench.{name} as b; b.main()"], check=False)
        if done.returncode:
            failed.append(name)
        print(f"({name}: {time.monotonic() - started:.0f} s)", flush=True)
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


main()
