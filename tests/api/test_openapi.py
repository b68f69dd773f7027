"""Property-based run against the OpenAPI document (schemathesis): generated requests of every
operation, against the real app on uvicorn with a real store and a real influxd, never get a
server error; responses match their documented schemas."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.config import ApiConfig
from api.influx import InfluxQueryClient
from api.roles import Role
from louyu.testing.services import Influxd
from tests.api.conftest import Api, new_alert

pytestmark = pytest.mark.integration

ADMIN_TOKEN: dict[str, str] = {}
OWN_TAGS = {"alerts", "silences", "devices", "events", "health"}


@pytest.fixture
def api_schema(start_api: Callable[..., Api], influxd: Influxd) -> tuple[BaseSchema, Api]:
    httpx.post(f"{influxd.url}/query", data={"q": "CREATE DATABASE louyu"}, timeout=10).raise_for_status()
    api = start_api(
        ApiConfig(rate_per_s=100_000, rate_burst=100_000, seed_from_influx=False),
        history=InfluxQueryClient(influxd.url, "v1", "louyu"),
    )
    now = dt.datetime.now(dt.UTC)
    for n in range(40):
        api.store.raise_alert(new_alert(device=f"dev-{n}"), now)
    ADMIN_TOKEN["value"] = api.token[Role.ADMIN]
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    # The event stream never ends; tests/api/test_events.py covers it.
    return schema.exclude(path="/api/v1/events"), api


def _explore(strategy: Any, headers: dict[str, str], checks: list[Any]) -> None:
    @given(case=strategy)
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(headers=headers, checks=checks, timeout=10)

    run()


# schemathesis' own pytest integration (`from_fixture` + `parametrize`) does not run on the
# installed pytest, so each operation's strategy is driven with hypothesis directly.
def test_no_server_error_and_documented_answers(api_schema: tuple[BaseSchema, Api]) -> None:
    schema, api = api_schema
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN['value']}"}
    conformance = [response_schema_conformance, content_type_conformance, status_code_conformance]
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        operations += 1
        # Every operation of the document: never a 5xx. The routes of this package: documented
        # answers too (other packages' routers test their own documents).
        checks: list[Any] = [schemathesis.checks.not_a_server_error]
        if set(operation.tags or ()) & OWN_TAGS:
            checks += conformance

        try:
            _explore(operation.as_strategy(), headers, checks)
        except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 (report every operation's failure)
            failures[operation.label] = str(error)[:2000]
    assert operations >= 12
    # It did exercise the routes: hundreds of requests, most of them past authentication.
    metrics = httpx.get(f"{api.url}/metrics", timeout=10).text
    served = sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("louyu_api_requests_total{") and 'route="/api/v1/alerts' in line
    )
    assert served > 100
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
