"""What an anonymous or hostile HTTP client can no longer do to the real API: grow the metrics
without bound, or get tracebacks, error text or unbounded queries out of it."""

from __future__ import annotations

import socket

import httpx

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
