"""Schemathesis (4.x) against the real app, as `st run` runs it: every phase (examples, coverage,
fuzzing, stateful), every check, the exceptions of `schemathesis.toml` and nothing else.

The app runs on uvicorn with a real SQLite alert store, real tokens and a real influxd for history.
The run is bounded (a few examples per operation, a fixed seed, deterministic generation) so that
it finishes in about a minute on a loaded machine and fails the same way every time.

Left out, with the reason: `/api/v1/events` (an endless event stream: a generated request never
ends; tests/api/test_events.py covers it) and `/metrics` (Prometheus text, no schema to conform
to; tests/api/test_* check its content).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import schemathesis
from schemathesis import engine
from schemathesis.engine import Status, events

from api.config import ApiConfig
from api.influx import InfluxQueryClient
from api.roles import Role
from louyu.testing.services import Influxd
from tests.api.conftest import Api, new_alert

pytestmark = pytest.mark.integration

CONFIG = Path(__file__).resolve().parents[2] / "schemathesis.toml"
NOT_FUZZED = ("/api/v1/events", "/metrics")
SEED = 20261128
PHASES = ("examples", "coverage", "fuzzing", "stateful")


@dataclass
class Figures:
    operations: set[str] = field(default_factory=set)
    cases: int = 0
    checks: int = 0
    failures: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def run(api: Api, headers: dict[str, str], max_examples: int, phases: tuple[str, ...] = PHASES) -> Figures:
    config = schemathesis.Config.from_path(CONFIG)
    config.update(seed=SEED, max_failures=None)
    project = config.projects.default
    project.headers = headers
    project.workers = 1
    project.generation.max_examples = max_examples
    project.generation.deterministic = True
    project.generation.database = "none"
    for phase in PHASES:
        project.phases.get_by_name(name=phase).enabled = phase in phases
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json", config=config)
    for path in NOT_FUZZED:
        schema = schema.exclude(path=path)
    figures = Figures()
    for event in engine.from_schema(schema).execute():
        if isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
            recorder = event.recorder
            figures.cases += len(recorder.cases)
            for case in recorder.cases.values():
                figures.operations.add(case.value.operation.label)
            for nodes in recorder.checks.values():
                for node in nodes:
                    figures.checks += 1
                    if node.status == Status.FAILURE and node.failure_info is not None:
                        info = node.failure_info
                        figures.failures.append(
                            f"{info.failure.operation}: {info.failure.title}: {info.failure.message}\n{info.code_sample}"
                        )
        elif isinstance(event, events.NonFatalError):
            figures.errors.append(f"{event.label}: {event.info.title}: {event.info}"[:1000])
        elif isinstance(event, events.FatalError):
            raise event.exception
    return figures


@pytest.fixture
def fuzzed_api(start_api: Callable[..., Api], influxd: Influxd) -> Api:
    httpx.post(f"{influxd.url}/query", data={"q": "CREATE DATABASE louyu"}, timeout=10).raise_for_status()
    api = start_api(
        ApiConfig(rate_per_s=100_000, rate_burst=100_000, seed_from_influx=False),
        history=InfluxQueryClient(influxd.url, "v1", "louyu"),
    )
    now = dt.datetime.now(dt.UTC)
    for n in range(30):
        api.store.raise_alert(new_alert(device=f"dev-{n}"), now)
    return api


def _report(figures: Figures) -> str:
    return (
        f"{len(figures.operations)} operations, {figures.cases} cases, {figures.checks} checks, "
        f"{len(figures.failures)} failures, {len(figures.errors)} errors"
    )


def test_every_phase_and_check_with_an_admin_token(
    fuzzed_api: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    # Three examples per operation: the coverage phase (about 1,400 of the cases, every operation)
    # does not depend on it; fuzzing still reaches all 30 operations (84 cases rather than 138 at
    # five) and the stateful phase the same 8 links (18 cases rather than 30).
    figures = run(fuzzed_api, {"Authorization": f"Bearer {fuzzed_api.token[Role.ADMIN]}"}, max_examples=3)
    with capsys.disabled():
        print(f"\nschemathesis, admin token: {_report(figures)}")
    # It did reach the operations: all but the two left out, hundreds of requests.
    assert len(figures.operations) >= 20, sorted(figures.operations)
    assert figures.cases > 500
    assert not figures.errors, "\n".join(figures.errors)
    assert not figures.failures, "\n\n".join(figures.failures)


def test_every_operation_without_a_token(fuzzed_api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    """Without a token every protected operation answers its documented 401, whatever the input
    (the coverage phase of the run above already drops the token from some requests; here every
    request goes without one)."""
    figures = run(fuzzed_api, {}, max_examples=3, phases=("examples", "fuzzing"))
    with capsys.disabled():
        print(f"\nschemathesis, no token: {_report(figures)}")
    assert len(figures.operations) >= 20, sorted(figures.operations)
    assert not figures.errors, "\n".join(figures.errors)
    assert not figures.failures, "\n\n".join(figures.failures)
