"""Test helpers of the notifier: a real HTTP receiver on loopback, alerts written through the store."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from rules.records import EventRecord
from rules.store import AlertStore, NewAlert

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the Standard Webhooks test vector's secret


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class HttpReceiver:
    """A webhook endpoint on 127.0.0.1. `respond(n)` gives the status of the n-th request (from 1)."""

    respond: Callable[[int], int] = lambda n: 200
    delay_s: float = 0.0
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                if receiver.delay_s:
                    threading.Event().wait(receiver.delay_s)
                with receiver.lock:
                    status = receiver.respond(len(receiver.requests) + 1)
                    receiver.requests.append(
                        Request({k.lower(): v for k, v in self.headers.items()}, body, status)
                    )
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="test-http", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def ok(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if 200 <= r.status < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def new_alert(
    rule: str = "aed-cabinet-open",
    severity: str = "critical",
    building: str = "darong-b",
    kind: str = "aed",
    device: str = "aed-b-1f-lobby",
) -> NewAlert:
    return NewAlert(rule, severity, building, kind, device, f"{rule} at {device}", True, {"floor": "1F"})


def raise_alert(store: AlertStore, now: dt.datetime, **kwargs: str) -> EventRecord:
    event = store.raise_alert(new_alert(**kwargs), now)
    assert event is not None
    return event


T0 = dt.datetime(2026, 11, 27, 1, 0, tzinfo=dt.UTC)  # 09:00 Friday in Asia/Shanghai
