"""Tokens and roles against the real app: every route for every role, allowed and refused;
every kind of bad token refused alike; rate limit; body size limit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from api.config import ApiConfig
from api.roles import Role
from tests.api.conftest import Api

ALL = frozenset(Role)
ACKERS = frozenset({Role.PATROL, Role.OPERATOR, Role.ADMIN})
OPERATORS = frozenset({Role.OPERATOR, Role.ADMIN})


@dataclass(frozen=True)
class Call:
    name: str
    allowed: frozenset[Role]
    # Given the API and a client, make the request and return the response.
    send: Callable[[Api, httpx.Client, int], httpx.Response]
    ok: int = 200


def _stream_status(client: httpx.Client, path: str) -> httpx.Response:
    with client.stream("GET", path) as response:
        return response  # status and headers only: the stream is endless


CALLS = [
    Call("list alerts", ALL, lambda a, c, n: c.get("/api/v1/alerts")),
    Call(
        "one alert", ALL, lambda a, c, n: c.get(f"/api/v1/alerts/{a.raise_alert(device=f'get-{n}').alert.id}")
    ),
    Call(
        "ack",
        ACKERS,
        lambda a, c, n: c.post(f"/api/v1/alerts/{a.raise_alert(device=f'ack-{n}').alert.id}/ack", json={}),
    ),
    Call(
        "resolve",
        OPERATORS,
        lambda a, c, n: c.post(f"/api/v1/alerts/{a.raise_alert(device=f'res-{n}').alert.id}/resolve"),
    ),
    Call("list silences", OPERATORS, lambda a, c, n: c.get("/api/v1/silences")),
    Call(
        "create silence",
        OPERATORS,
        lambda a, c, n: c.post(
            "/api/v1/silences", json={"device": f"dev-{n}", "duration_minutes": 10, "reason": "maintenance"}
        ),
        ok=201,
    ),
    Call(
        "end silence",
        OPERATORS,
        lambda a, c, n: c.delete(
            f"/api/v1/silences/{a.store.create_silence(reason='x', created_by='t', ends_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1), now=dt.datetime.now(dt.UTC), device=f'dev-{n}').id}"
        ),
    ),
    Call(
        "extend silence",
        OPERATORS,
        lambda a, c, n: c.patch(
            f"/api/v1/silences/{a.store.create_silence(reason='x', created_by='t', ends_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1), now=dt.datetime.now(dt.UTC), device=f'dev-{n}').id}",
            json={"extend_minutes": 30},
        ),
    ),
    Call("devices", ALL, lambda a, c, n: c.get("/api/v1/devices")),
    Call("one device", ALL, lambda a, c, n: c.get("/api/v1/devices/darong-b/aed/aed-b-1f-lobby")),
    Call("buildings", ALL, lambda a, c, n: c.get("/api/v1/buildings")),
    # No InfluxDB in this app: an allowed role gets past auth to the 503 that says so.
    Call(
        "history",
        ALL,
        lambda a, c, n: c.get(
            "/api/v1/devices/darong-a/parking_lot/garage/history", params={"field": "occupied"}
        ),
        ok=503,
    ),
    Call("events", ALL, lambda a, c, n: _stream_status(c, "/api/v1/events")),
]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_every_route_for_every_role(api: Api, role: Role) -> None:
    wrong: list[str] = []
    with api.client(role) as client:
        for n, call in enumerate(CALLS):
            response = call.send(api, client, n)
            expected = call.ok if role in call.allowed else 403
            if response.status_code != expected:
                wrong.append(f"{call.name}: {response.status_code} (expected {expected})")
    assert not wrong, f"{role.value}: {wrong}"


def test_no_token_is_401_on_every_protected_route(api: Api) -> None:
    with api.client() as client:
        for n, call in enumerate(CALLS):
            response = call.send(api, client, n)
            assert response.status_code == 401, call.name
            assert response.headers["www-authenticate"] == "Bearer"


def test_unknown_revoked_and_expired_tokens_get_the_same_401(api: Api) -> None:
    now = dt.datetime.now(dt.UTC)
    _, revoked = api.tokens.create("gone", Role.ADMIN, now)
    api.tokens.revoke_name("gone", now)
    _, expired = api.tokens.create("old", Role.ADMIN, now - dt.timedelta(days=3), expires_days=1)
    forged = api.token[Role.ADMIN][:-4] + "AAAA"
    answers = []
    for token in (revoked, expired, forged, "louyu_nonsense", "x" * 5000):
        with api.client(token=token) as client:
            response = client.get("/api/v1/alerts")
            answers.append((response.status_code, response.text))
    with httpx.Client(base_url=api.url) as client:
        basic = client.get("/api/v1/alerts", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        answers.append((basic.status_code, basic.text))
    assert {a for a in answers} == {(401, '{"detail":"missing or invalid token"}')}


def test_tokens_are_stored_hashed_and_shown_once(api: Api) -> None:
    info, token = api.tokens.create("someone", Role.VIEWER, dt.datetime.now(dt.UTC))
    assert token.startswith("louyu_") and len(token) > 40
    with api.store.engine.connect() as conn:
        dump = "\n".join(str(row) for row in conn.exec_driver_sql("SELECT * FROM api_tokens"))
    assert token not in dump
    assert token[len("louyu_") + 6 :] not in dump  # only the short prefix is kept in clear
    assert info.prefix == token[: len("louyu_") + 6]


def test_the_actor_is_the_token_name_never_the_body(api: Api) -> None:
    alert = api.raise_alert().alert
    with api.client(Role.PATROL) as client:
        forged = client.post(f"/api/v1/alerts/{alert.id}/ack", json={"note": "x", "by": "someone-else"})
        assert forged.status_code == 422  # unknown fields are refused
        done = client.post(f"/api/v1/alerts/{alert.id}/ack", json={"note": "on my way"})
    assert done.status_code == 200
    assert done.json()["acknowledged_by"] == "patrol-1"
    events = api.store.events(alert.id)
    assert (events[-1].event, events[-1].by, events[-1].note) == ("acknowledged", "patrol-1", "on my way")


def test_rate_limit_answers_429_with_retry_after(start_api: Callable[..., Api]) -> None:
    api = start_api(ApiConfig(rate_per_s=0.5, rate_burst=5))
    with api.client(Role.VIEWER) as client:
        statuses = [client.get("/api/v1/alerts").status_code for _ in range(8)]
        refused = client.get("/api/v1/alerts")
    assert statuses[:5] == [200] * 5
    assert statuses[5:] == [429] * 3
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 2
    # Per token: another token still has its whole budget.
    with api.client(Role.OPERATOR) as other:
        assert other.get("/api/v1/alerts").status_code == 200


def test_request_body_over_the_limit_is_413(api: Api) -> None:
    alert = api.raise_alert().alert
    big = b'{"note": "' + b"x" * (70 * 1024) + b'"}'
    with api.client(Role.ADMIN) as client:
        declared = client.post(
            f"/api/v1/alerts/{alert.id}/ack", content=big, headers={"content-type": "application/json"}
        )
        chunked = client.post(
            f"/api/v1/alerts/{alert.id}/ack",
            content=iter([big[i : i + 8192] for i in range(0, len(big), 8192)]),
            headers={"content-type": "application/json"},
        )
        assert declared.status_code == 413
        assert chunked.status_code == 413
        assert api.store.get(alert.id).state == "firing"  # type: ignore[union-attr]
        small = client.post(f"/api/v1/alerts/{alert.id}/ack", json={"note": "fine"})
    assert small.status_code == 200


def test_api_answers_are_not_cached_or_sniffed(api: Api) -> None:
    with api.client(Role.VIEWER) as client:
        for response in (client.get("/api/v1/alerts"), client.get("/api/v1/alerts/424242")):
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["x-content-type-options"] == "nosniff"
    with httpx.Client(base_url=api.url) as client:
        assert client.get("/api/v1/alerts").headers["cache-control"] == "no-store"  # the 401 too


def test_health_and_metrics_need_no_token(api: Api) -> None:
    with httpx.Client(base_url=api.url) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["alert_store"]["ok"] is True
        client.get("/api/v1/alerts")  # a 401, counted
        text = client.get("/metrics").text
    assert 'louyu_api_requests_total{method="GET",route="/api/v1/alerts",status="401"} 1.0' in text
    assert 'louyu_api_auth_failures_total{reason="missing"}' in text
    assert "louyu_alerts{" in text


def test_readyz_reports_the_alert_store(api: Api) -> None:
    with httpx.Client(base_url=api.url) as client:
        assert client.get("/readyz").status_code == 200
        with api.store.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE alert_events RENAME TO alert_events_away")
        down = client.get("/readyz")
        told = client.get("/readyz", headers={"Authorization": f"Bearer {api.token[Role.VIEWER]}"})
        with api.store.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE alert_events_away RENAME TO alert_events")
        assert client.get("/readyz").status_code == 200
    assert down.status_code == 503
    # Without a token: which dependency, not how (no database text for anyone who asks).
    assert down.json()["checks"]["alert_store"] == {"ok": False, "detail": "unavailable"}
    assert "alert_events" not in down.text and "Error" not in down.text
    # With a valid token: the error, for whoever operates the system.
    assert told.status_code == 503
    check = told.json()["checks"]["alert_store"]
    assert check["ok"] is False and "OperationalError" in check["detail"]
