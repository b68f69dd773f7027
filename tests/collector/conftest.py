"""Fixtures to run the collector in-process or as a `louyu collector` subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from collector.broker import BrokerTarget
from collector.registry import Registry
from collector.service import Collector, CollectorConfig, InfluxTarget

StartCollector = Callable[..., Collector]


def settle(collector: Collector, received: int, timeout: float = 30.0) -> None:
    """Wait until the collector has received `received` messages, then store and ack them.

    The broker acknowledging a publisher says nothing of delivery to the collector yet.
    """
    deadline = time.monotonic() + timeout
    while collector.stats.received < received:
        assert time.monotonic() < deadline, f"received {collector.stats.received} of {received}"
        time.sleep(0.02)
    assert collector.pipeline.flush()


@pytest.fixture
def start_collector(tmp_path: Path) -> Iterator[StartCollector]:
    """Start an in-process collector; every one started is stopped after the test."""
    started: list[Collector] = []

    def start(broker_port: int, influx: InfluxTarget, name: str = "c1", **overrides: Any) -> Collector:
        broker = overrides.pop("broker", BrokerTarget("127.0.0.1", broker_port))
        config = CollectorConfig(
            broker=broker,
            influx=influx,
            spool_path=tmp_path / f"{name}-spool.db",
            dead_letter_path=tmp_path / f"{name}-dead.db",
            client_id=f"louyu-test-{name}",
            batch_interval_s=0.05,
            **overrides,
        )
        collector = Collector(config, Registry.load(), CollectorRegistry())
        assert collector.start(wait_s=15), "collector did not subscribe"
        started.append(collector)
        return collector

    yield start
    for collector in started:
        collector.stop()


class CollectorProcess:
    """`python -m louyu collector` as a child process, to be killed for real."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = {**os.environ, **env, "LOUYU_LOG_FORMAT": "json"}
        self.log = workdir / "collector.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 20.0) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "louyu", "collector"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.read_text().count('"subscribed": true') >= self.starts:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        raise TimeoutError(f"collector did not subscribe: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


@pytest.fixture
def collector_process(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], CollectorProcess]]:
    made: list[CollectorProcess] = []

    def make(env: dict[str, str]) -> CollectorProcess:
        process = CollectorProcess(
            tmp_path,
            {
                "LOUYU_SPOOL_PATH": str(tmp_path / "spool.db"),
                "LOUYU_DEAD_LETTER_PATH": str(tmp_path / "dead.db"),
                "LOUYU_MQTT_CLIENT_ID": "louyu-test-proc",
                "LOUYU_BATCH_INTERVAL_S": "0.05",
                # The test brokers are anonymous, which production refuses.
                "LOUYU_ENVIRONMENT": "development",
                **env,
            },
        )
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()
