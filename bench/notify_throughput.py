"""How fast a backlog drains: alert events already in the store -> signed webhooks on loopback.

The case after an outage (the notifier was down while alerts piled up): N events in the store, one
route to R webhook receivers, the time until every delivery is recorded as delivered. Receivers are
served in parallel and each in order, so the figure is per receiver and in total. A second run has
every receiver answer 503 to one request in ten, to show what retries cost.

    python -m bench.notify_throughput [EVENTS] [RECEIVERS]
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from collector.registry import Registry
from louyu.logs import configure_logging
from rules.database import make_engine
from rules.database.migrate import upgrade
from rules.notify.config import parse_routing
from rules.notify.service import NotifierService
from rules.store import AlertStore, NewAlert

SECRET_ENV = "LOUYU_BENCH_HOOK_SECRET"


class Endpoint:
    def __init__(self, fail_every: int) -> None:
        self.count = 0
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                with endpoint.lock:
                    endpoint.count += 1
                    status = 503 if fail_every and endpoint.count % fail_every == 0 else 200
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def run(events: int, receivers: int, fail_every: int, workdir: Path) -> tuple[float, float, int]:
    """Returns (seconds to route every event, seconds to deliver everything, requests made)."""
    engine = make_engine(f"sqlite:///{workdir / 'louyu.db'}")
    upgrade(engine)
    store = AlertStore(engine)
    now = dt.datetime.now(dt.UTC)
    for n in range(events):
        store.raise_alert(
            NewAlert("aed-cabinet-open", "critical", "darong-b", "aed", f"bench-{n}", "bench", True, {}), now
        )
    endpoints = [Endpoint(fail_every) for _ in range(receivers)]
    names = [f"hook-{i}" for i in range(receivers)]
    routing = "receivers:\n" + "".join(
        f'  - {{name: {name}, webhook: {{url: "{e.url}", secret_env: {SECRET_ENV}}}, '
        "retry: {initial: 10ms, max: 50ms}}\n"
        for name, e in zip(names, endpoints, strict=True)
    )
    routing += f"routes: [{{receivers: [{', '.join(names)}]}}]\n"
    service = NotifierService(parse_routing(routing), Registry.load(), engine, None, poll_s=0.05)
    # A first start skips history older than 15 minutes; these events are seconds old.
    started = time.perf_counter()
    service.start()
    try:
        routed_at = None
        expected = events * receivers
        while True:
            if routed_at is None and service.ledger.cursor() >= events:
                routed_at = time.perf_counter()
            if service.ledger.counts().get("delivered", 0) >= expected:
                break
            time.sleep(0.02)
        done = time.perf_counter()
    finally:
        service.stop()
        for endpoint in endpoints:
            endpoint.close()
        engine.dispose()
    return (routed_at or done) - started, done - started, sum(e.count for e in endpoints)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    events = int(args[0]) if args else 2000
    receivers = int(args[1]) if len(args) > 1 else 3
    configure_logging("ERROR")
    os.environ.setdefault(SECRET_ENV, "whsec_" + base64.b64encode(os.urandom(32)).decode())
    print(f"notify throughput: a backlog of {events} alert events, {receivers} webhook receivers")
    for label, fail_every in (("receivers healthy", 0), ("1 request in 10 answered 503", 10)):
        with tempfile.TemporaryDirectory(prefix="louyu-bench-") as tmp:
            routed, total, requests = run(events, receivers, fail_every, Path(tmp))
        deliveries = events * receivers
        print(f"  {label}")
        print(f"    routed {events} events in {routed:.2f} s ({events / routed:,.0f} events/s)")
        print(
            f"    delivered {deliveries} in {total:.2f} s ({deliveries / total:,.0f} deliveries/s, "
            f"{deliveries / total / receivers:,.0f}/s per receiver), {requests} requests"
        )


if __name__ == "__main__":
    main()
