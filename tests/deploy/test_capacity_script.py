"""deploy/capacity/measure.py, the source of docs/scaling.md's measured figures, on small sizes."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "capacity" / "measure.py"


@pytest.fixture(scope="module")
def measure() -> ModuleType:
    if shutil.which("mosquitto_sub") is None:
        pytest.skip("mosquitto-clients is not installed")
    spec = importlib.util.spec_from_file_location("louyu_capacity_measure", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_shared_subscription_splits_without_loss_or_duplicates(measure: ModuleType, tmp_path: Path) -> None:
    result = measure.measure_shared_split(tmp_path, messages=900, subscribers=3)
    assert result["delivered"] == 900
    assert result["distinct"] == 900
    assert all(n > 0 for n in result["per_subscriber"]), result


def test_throughput_run_delivers_everything(measure: ModuleType, tmp_path: Path) -> None:
    result = measure.measure_mosquitto(tmp_path, messages=4000, publishers=2, qos=1)
    assert result["messages"] == 4000
    assert result["msg_per_s"] > 0


def test_connection_memory(measure: ModuleType, tmp_path: Path) -> None:
    result = measure.measure_connections(tmp_path, connections=300)
    assert result["rss_after_kib"] >= result["rss_before_kib"]
