"""What an anonymous or hostile HTTP client can no longer do to the real API: grow the metrics
without bound, or get tracebacks, error text or unbounded queries out of it."""

from __future__ import annotations

import base64
import json
import logging
import socket
from typing import Final

import httpx
import pytest

from api.history import EVERY_PATTERN
from api.roles import Role
from tests.api.conftest import Api


def _series(text: str) -> set[str]:
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def _raw_request(api: Api, request: bytes) -> bytes:
    """Send bytes as they are (httpx would refuse an invented method on some paths)."""
    with socket.create_connection((api.server.host, api.server.port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_invented_methods_and_paths_add_no_metric_series(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=10) as client:
        for n in range(3):  # every label value a normal client meets exists once
            client.get("/api/v1/alerts")
            client.request("BREW", f"/api/v1/alerts/{n}")
            client.request("BREW", "/api/v1/alerts")
            client.get(f"/no/such/{n}")
            _raw_request(api, b"SPAM /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            client.get("/metrics")
        before = _series(client.get("/metrics").text)
        for n in range(50):
            client.request(f"INVENTED{n}", "/api/v1/alerts")
            client.request(f"X{n}", f"/api/v1/alerts/{n}")
            client.get(f"/nothing-here-{n}/{n}")
        answer = _raw_request(api, b"SPAM0123 /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 ")
        after = _series(client.get("/metrics").text)
    requests = {s for s in after if s.startswith("louyu_api_request")}
    assert requests - before == set()
    assert not any("INVENTED" in s or "nothing-here" in s for s in after)
    assert any('method="other"' in s for s in requests)


def _cursor(*parts: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


# (sort, cursor): every one a cursor the store never hands out, each once a 500 with a traceback.
CRAFTED_CURSORS: Final = [
    ("-id", _cursor("-id", 10**30, 1)),
    ("-id", _cursor("-id", -(10**20), 1)),
    ("-started_at", _cursor("-started_at", "2026-01-01T00:00:00+00:00", 2**64)),
    ("-started_at", _cursor("-started_at", "2026-01-01T00:00:00", 1)),
    ("started_at", _cursor("started_at", "0001-01-01T00:00:00", 1)),
    ("-started_at", _cursor("-started_at", "0001-01-01T00:00:00+00:00", 1)),
    ("-updated_at", _cursor("-updated_at", "9999-12-31T23:59:59-23:59", 1)),
    ("-severity", _cursor("-severity", 2**63, 2**63)),
    ("-id", "!!not*base64"),
    ("-id", base64.urlsafe_b64encode(b"\xff\xfe garbage").decode()),
    ("-id", _cursor("-id", 1.5, True)),
]


def assert_crafted_cursors_refused(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    """Each crafted cursor is a 400 with a problem body; nothing logged as an error."""
    api.raise_alert()
    with api.client(Role.VIEWER) as client, caplog.at_level(logging.WARNING):
        for sort, cursor in CRAFTED_CURSORS:
            answer = client.get("/api/v1/alerts", params={"sort": sort, "cursor": cursor})
            assert answer.status_code == 400, (sort, cursor, answer.text)
            assert answer.json()["detail"].startswith("invalid paging cursor"), answer.text
            assert "Traceback" not in answer.text
        # A cursor the store did hand out still pages.
        assert client.get("/api/v1/alerts", params={"limit": 1}).status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_crafted_cursors_are_400s_on_sqlite(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    assert_crafted_cursors_refused(api, caplog)


def test_the_openapi_document_states_the_history_window_bound(api: Api) -> None:
    document = httpx.get(f"{api.url}/openapi.json", timeout=10).json()
    operation = document["paths"]["/api/v1/devices/{building}/{kind}/{device}/history"]["get"]
    every = next(p for p in operation["parameters"] if p["name"] == "every")
    assert every["schema"]["pattern"] == EVERY_PATTERN
    assert "at most 366d" in every["description"]
    assert "400" in operation["responses"]


def test_security_headers_on_every_page_and_response(api: Api) -> None:
    paths = [
        "/dashboard",
        "/board",
        "/docs",
        "/openapi.json",
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/v1/alerts",  # 401
        "/no/such/page",  # 404
    ]
    with httpx.Client(base_url=api.url, timeout=10) as client:
        answers = {path: client.get(path) for path in paths}
        answers["413"] = client.post(
            "/api/v1/silences",
            content=b"x" * (1024 * 1024),
            headers={"Authorization": f"Bearer {api.token[Role.OPERATOR]}"},
        )
        answers["static"] = client.get(
            next(link for link in answers["/dashboard"].text.split('"') if link.endswith(".css"))
        )
    assert answers["413"].status_code == 413 and answers["static"].status_code == 200
    for where, answer in answers.items():
        headers = answer.headers
        policy = headers.get("content-security-policy", "")
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, where
        assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0], where
        assert headers.get("x-frame-options") == "DENY", where
        assert headers.get("referrer-policy") == "no-referrer", where
        assert headers.get("x-content-type-options") == "nosniff", where
    # The docs page allows its one inline script by hash, and nothing else inline.
    docs_policy = answers["/docs"].headers["content-security-policy"]
    assert "script-src 'self' 'sha256-" in docs_policy


def test_readyz_answers_a_token_holder_when_the_database_is_gone(api: Api) -> None:
    """The token cannot be checked either: the answer is the anonymous one, never a 500."""
    with api.store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE api_tokens RENAME TO api_tokens_away")
        conn.exec_driver_sql("ALTER TABLE alert_events RENAME TO alert_events_away")
    try:
        with api.client(Role.ADMIN) as client:
            down = client.get("/readyz")
    finally:
        with api.store.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE api_tokens_away RENAME TO api_tokens")
            conn.exec_driver_sql("ALTER TABLE alert_events_away RENAME TO alert_events")
    assert down.status_code == 503
    assert down.json()["checks"]["alert_store"] == {"ok": False, "detail": "unavailable"}
