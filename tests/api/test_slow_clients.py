"""Slow and greedy HTTP clients against the real app on a real uvicorn server, with real
sockets: connections that never finish their headers are closed; event streams are limited per
token and in all."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Callable, Iterator

import httpx

from api.config import ApiConfig
from api.roles import Role
from tests.api.conftest import Api

HEADER_TIMEOUT_S = 1.0


def _connect(api: Api) -> socket.socket:
    sock = socket.create_connection((api.server.host, api.server.port), timeout=5)
    sock.setblocking(False)
    return sock


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(4096) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def test_slow_header_connections_are_closed(start_api: Callable[..., Api]) -> None:
    api = start_api(ApiConfig(rate_per_s=1000, rate_burst=1000, header_timeout_s=HEADER_TIMEOUT_S))
    silent = [_connect(api) for _ in range(100)]  # connect, send nothing
    trickling = [_connect(api) for _ in range(100)]  # a header byte at a time (slowloris)
    request = b"GET /api/v1/alerts HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    kept = _connect(api)
    try:
        with api.client(Role.VIEWER) as client, client.stream("GET", "/api/v1/events") as stream:
            # A kept-alive connection that answered a request, then trickles the next one.
            kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            started = time.monotonic()
            sent = 0
            while time.monotonic() - started < 4 * HEADER_TIMEOUT_S:
                for sock in [*trickling, kept]:
                    with contextlib.suppress(OSError):
                        sock.send(request[sent % len(request) : sent % len(request) + 1])
                sent += 1
                time.sleep(0.1)
            open_after = [s for s in [*silent, *trickling] if not _closed_by_server(s)]
            kept_answer = b""
            with contextlib.suppress(BlockingIOError, ConnectionError):
                kept_answer = kept.recv(65536)
            kept_closed = _closed_by_server(kept)
            # A request that is answered is not affected, an event stream included: still open
            # after four deadlines, and it still delivers.
            event = api.raise_alert()
            line = next(line for line in stream.iter_lines() if line.startswith("id:"))
            assert line == f"id: {event.id}"
            assert client.get("/api/v1/alerts").status_code == 200
    finally:
        for sock in [*silent, *trickling, kept]:
            sock.close()
    assert open_after == [], f"{len(open_after)} of 200 slow connections still open"
    assert kept_answer.startswith(b"HTTP/1.1 200") and kept_closed


def _streams(api: Api, client: httpx.Client, count: int) -> Iterator[httpx.Response]:
    for _ in range(count):
        response = client.send(client.build_request("GET", "/api/v1/events"), stream=True)
        yield response


def test_event_streams_are_limited_per_token_and_in_all(start_api: Callable[..., Api]) -> None:
    api = start_api(
        ApiConfig(rate_per_s=1000, rate_burst=1000, sse_max_streams_per_token=2, sse_max_streams=3)
    )
    opened: list[httpx.Response] = []
    viewer, patrol, operator = api.client(Role.VIEWER), api.client(Role.PATROL), api.client(Role.OPERATOR)
    try:
        opened += list(_streams(api, viewer, 2))
        assert [r.status_code for r in opened] == [200, 200]
        third = next(_streams(api, viewer, 1))
        assert third.status_code == 429 and third.headers["retry-after"] == "10"
        assert "per token" in third.read().decode()
        opened += list(_streams(api, patrol, 1))
        assert opened[-1].status_code == 200
        everyone = next(_streams(api, operator, 1))  # a fresh token, but the server is full
        assert everyone.status_code == 429 and "on this server" in everyone.read().decode()
        metrics = httpx.get(f"{api.url}/metrics", timeout=5).text
        assert 'louyu_api_auth_failures_total{reason="stream_limit"} 2.0' in metrics
        # A stream closed by its client gives its slot back.
        opened.pop(0).close()
        deadline = time.monotonic() + 5
        while True:
            again = next(_streams(api, operator, 1))
            if again.status_code == 200:
                opened.append(again)
                break
            again.close()
            assert time.monotonic() < deadline, "the closed stream's slot was not given back"
            time.sleep(0.1)
    finally:
        for response in opened:
            response.close()
        for client in (viewer, patrol, operator):
            client.close()
