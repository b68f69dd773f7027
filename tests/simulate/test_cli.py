"""`louyu simulate` on the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from louyu.cli import app
from louyu.testing.services import Mosquitto

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(app, ["simulate", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in (
        "--speed",
        "--start",
        "--rate",
        "--duration",
        "--count",
        "--qos",
        "--scenario",
        "--scenario-at",
    ):
        assert option in result.output
    for name in ("aed-cabinet-open", "sensor-outage", "garage-full", "lunch-rush"):
        assert name in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "garage-empty"], "unknown scenario 'garage-empty'"),
        (["--start", "soon"], "--start 'soon' cannot be read"),
        (["--duration", "forever"], "--duration 'forever' cannot be read"),
        (["--mqtt-url", "http://x"], "LOUYU_MQTT_URL"),
    ],
)
def test_bad_options_say_what_is_wrong(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["simulate", *args])
    assert result.exit_code == 2
    assert message in result.output


@pytest.mark.integration
def test_a_run_prints_plain_progress_and_a_summary(mosquitto: Mosquitto) -> None:
    env = {**os.environ, "LOUYU_MQTT_URL": mosquitto.url}
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "louyu"),
            "simulate",
            "--rate",
            "2000",
            "--count",
            "12000",
            "--qos",
            "1",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines and all(line.startswith("t=") and "rate=" in line and "acked=" in line for line in lines)
    assert "sent 12627 messages" in result.stderr  # 12,000 readings, 625 availability, 2 status
    assert "errors 0" in result.stderr
