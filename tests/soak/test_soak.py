"""The 3-minute soak: the whole system at district load while every fault strikes in turn
(`make soak` runs the 30-minute one). Its own verdicts are the assertions."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

OUTPUT = Path(__file__).resolve().parents[2] / "test-artifacts" / "soak"


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.soak
@pytest.mark.timeout(1500)
def test_three_minute_soak_loses_nothing_and_delivers_every_incident() -> None:
    # A fresh folder each run: the last run's influxd data and broker persistence would count twice.
    shutil.rmtree(OUTPUT, ignore_errors=True)
    OUTPUT.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--minutes", "3", "--out", str(OUTPUT)],
        capture_output=True,
        text=True,
        timeout=1400,
        check=False,
    )
    print(done.stdout[-20000:])
    summary = json.loads((OUTPUT / "summary.json").read_text())
    failed = [f"{c['name']}: {c['detail']}" for c in summary["checks"] if not c["ok"]]
    assert not failed, "\n".join(failed) + "\n" + done.stderr[-5000:]
    assert done.returncode == 0, done.stderr[-5000:]
    assert (OUTPUT / "soak.png").stat().st_size > 10_000
    # Incidents happened during faults as well as outside them, and were measured in both.
    latency = summary["latency_ms"]["sensor_to_handset"]
    assert latency["during"]["n"] > 0 and latency["outside"]["n"] > 0
