"""Prometheus' own tools accept louyu: `promtool check metrics` on every endpoint, under `louyu up`
and for each part alone, and `promtool test rules` on the shipped alerting rules."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from louyu.testing.services import Influxd, Mosquitto, free_port

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args], check=False, input=stdin, capture_output=True, text=True, timeout=60
    )


def test_shipped_alerting_rules_are_valid_and_pass_their_unit_tests() -> None:
    checked = promtool("check", "rules", str(RULES / "louyu-alerts.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = promtool("test", "rules", str(RULES / "louyu-alerts.test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout


def test_promtool_refuses_a_family_named_twice() -> None:
    # The check the exposition tests rely on can fail: a duplicated family is refused.
    twice = "# HELP x one\n# TYPE x gauge\nx 1\n# HELP x two\n# TYPE x gauge\nx 2\n"
    assert promtool("check", "metrics", stdin=twice).returncode != 0


def rule_metric_names() -> set[str]:
    text = (RULES / "louyu-alerts.yml").read_text()
    return set(re.findall(r"\blouyu_[a-z_]+", text))


def family_names(exposition: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\S+)", exposition, flags=re.MULTILINE))


def base_name(series: str) -> str:
    return re.sub(r"_(total|bucket|sum|count|created)$", "", series)


@pytest.fixture
def environment(tmp_path: Path, mosquitto: Mosquitto, influxd: Influxd) -> dict[str, str]:
    return dict(
        os.environ,
        LOUYU_ENVIRONMENT="development",
        LOUYU_MQTT_URL=mosquitto.url,
        LOUYU_INFLUX_URL=influxd.url,
        LOUYU_DATABASE_URL=f"sqlite:///{tmp_path / 'louyu.db'}",
        LOUYU_SPOOL_PATH=str(tmp_path / "spool.db"),
        LOUYU_DEAD_LETTER_PATH=str(tmp_path / "dead-letters.db"),
        LOUYU_STATE_DIR=str(tmp_path / "state"),
        LOUYU_LOG_FORMAT="json",
    )


@contextmanager
def serve(env: dict[str, str], command: list[str], url: str, log: Path) -> Iterator[str]:
    """Run `louyu COMMAND` until its metrics answer; yield the URL; stop it with SIGTERM."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "louyu", *command], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            process.wait(30)


def check_endpoint(url: str) -> str:
    text = httpx.get(url, timeout=10)
    assert text.headers["content-type"].startswith("text/plain; version=")
    checked = promtool("check", "metrics", stdin=text.text)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # OpenMetrics when asked, parsed by the reference parser (which refuses duplicates too).
    negotiated = httpx.get(url, headers={"Accept": OPENMETRICS}, timeout=10)
    assert negotiated.headers["content-type"].startswith("application/openmetrics-text")
    assert negotiated.text.endswith("# EOF\n")
    names = [family.name for family in text_string_to_metric_families(negotiated.text)]
    assert len(names) == len(set(names))
    return text.text


@pytest.mark.integration
@pytest.mark.slow
def test_louyu_up_exposes_each_family_once(tmp_path: Path, environment: dict[str, str]) -> None:
    port = free_port()
    env = dict(environment, LOUYU_API_BIND=f"127.0.0.1:{port}")
    with serve(env, ["up"], f"http://127.0.0.1:{port}/metrics", tmp_path / "up.log") as url:
        exposition = check_endpoint(url)
        assert exposition.count("# HELP louyu_alerts ") == 1
        # Every louyu metric the shipped alerting rules read is exposed by the parts of `louyu up`.
        exposed = {base_name(name) for name in family_names(exposition)}
        missing = {base_name(name) for name in rule_metric_names()} - exposed
        assert not missing, missing


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("part", ["collector", "rules", "notifier"])
def test_each_part_alone_exposes_valid_metrics(
    tmp_path: Path, environment: dict[str, str], part: str
) -> None:
    port = free_port()
    env = dict(environment, LOUYU_METRICS_BIND=f"127.0.0.1:{port}")
    with serve(env, [part], f"http://127.0.0.1:{port}/metrics", tmp_path / f"{part}.log") as url:
        exposition = check_endpoint(url)
        assert f"louyu_{'notify' if part == 'notifier' else part}_" in exposition


@pytest.mark.integration
@pytest.mark.slow
def test_api_alone_exposes_valid_metrics(tmp_path: Path, environment: dict[str, str]) -> None:
    port = free_port()
    env = dict(environment, LOUYU_API_BIND=f"127.0.0.1:{port}")
    with serve(env, ["api"], f"http://127.0.0.1:{port}/metrics", tmp_path / "api.log") as url:
        assert "louyu_api_requests" in check_endpoint(url)
