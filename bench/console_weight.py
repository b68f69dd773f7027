"""The operators' console in Chromium against the real API: page weight and time to first alert row.

The alert store of `bench.api_alerts` (100,000 alerts in SQLite, about 2,000 open), the real app on
uvicorn in a process of its own on loopback, Debian's headless Chromium through Playwright, a
desktop window (1366x768), the tab already signed in (the token in sessionStorage, as after a sign-in):

- page weight: bytes transferred for the dashboard's load, as Chromium counts them on the wire
  (compressed bodies, plus headers), per kind of resource; the live event stream stays open and is
  not counted. Cold (an empty cache) and warm (a reload: versioned static files come from the cache);
- time to first alert row: from the start of navigation to the first row of the alert list in the
  document (a MutationObserver in the page), cold and warm, median and worst of the runs;
- the baseline, in the same run: the same page's first paint (`first-contentful-paint`), which
  holds no data, so that the difference is what the alert list costs;
- alert to screen: with the dashboard open, an AED alert is raised in the store and its event
  published on a real mosquitto, as the rules engine does (the API follows `louyu/alerts/#`, as
  deployed); from just before the store write to the alert's row entering the document (a
  MutationObserver in the page) and to the next animation frame (the frame that paints it). The
  bench's clock and the page's are the same machine's wall clock (`time.time()` against
  `performance.timeOrigin + performance.now()`). `ALERTS_TO_SCREEN` alerts, one a second. A
  second client of the stream in this process times the event's arrival, the server's part; it
  shares the process with Playwright's driver, so under load it can come later than the page.

    python -m bench.console_weight [RUNS]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Error as PlaywrightError

from bench.api_alerts import ALERTS, fill
from louyu.testing.services import Mosquitto, free_port, http_ok

CHROMIUM = "/usr/bin/chromium"
TOKEN_KEY = "louyu.token"  # api/web/static/api.js
ROW = "#alert-list > li[data-id]"
VIEWPORT: Any = {"width": 1366, "height": 768}

# Records when the first alert row enters the document, in ms since the start of navigation.
WATCH_FIRST_ROW = """
(() => {
  const seen = () => {
    if (window.__firstRow === undefined && document.querySelector('ROW_SELECTOR')) {
      window.__firstRow = performance.now();
      return true;
    }
    return false;
  };
  new MutationObserver((_, observer) => { if (seen()) observer.disconnect(); })
    .observe(document, { childList: true, subtree: true });
})();
""".replace("ROW_SELECTOR", ROW)


ALERTS_TO_SCREEN = 10

# Records when each alert row first enters the document, and the next animation frame after it,
# in ms of the wall clock.
WATCH_NEW_ROWS = """
(() => {
  window.__rows = {};
  const wall = () => performance.timeOrigin + performance.now();
  const note = (li) => {
    const id = li.dataset.id;
    if (window.__rows[id] !== undefined) return;
    const seen = { inserted: wall() };
    window.__rows[id] = seen;
    requestAnimationFrame(() => { seen.frame = wall(); });
  };
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node.nodeType !== 1) continue;
        if (node.matches('li[data-id]') && node.closest('#alert-list')) note(node);
        for (const li of node.querySelectorAll('#alert-list li[data-id], li[data-id]')) {
          if (li.closest('#alert-list')) note(li);
        }
      }
    }
  }).observe(document, { childList: true, subtree: true });
})();
"""


class Load:
    """One page load: what went over the wire, and when the first row came."""

    def __init__(self) -> None:
        self.bytes_by_type: dict[str, int] = defaultdict(int)
        self.decoded_by_type: dict[str, int] = defaultdict(int)
        self.requests = 0
        # (path, bytes on the wire, decoded bytes, content-encoding, ms from request to last byte)
        self.items: list[tuple[str, int, int, str, float]] = []
        self.first_row_ms = 0.0
        self.first_paint_ms = 0.0

    @property
    def total(self) -> int:
        return sum(self.bytes_by_type.values())


def measure(page: Any, url: str, reload: bool = False) -> Load:
    load = Load()

    def finished(request: Any) -> None:
        if request.url.endswith("/api/v1/events") or "/events?" in request.url:
            return
        sizes = request.sizes()
        kind = request.resource_type
        wire = sizes["responseBodySize"] + sizes["responseHeadersSize"]
        load.requests += 1
        load.bytes_by_type[kind] += wire
        response = request.response()
        decoded, encoding = 0, ""
        if response is not None:
            encoding = response.headers.get("content-encoding", "")
            try:
                decoded = len(response.body())
            except PlaywrightError:  # a body no longer available (a redirect): on the wire only
                decoded = 0
        load.decoded_by_type[kind] += decoded
        path = request.url.split("//", 1)[-1].split("/", 1)[-1]
        load.items.append((f"/{path}", wire, decoded, encoding, float(request.timing["responseEnd"])))

    page.on("requestfinished", finished)
    if reload:
        page.reload(wait_until="commit")
    else:
        page.goto(url, wait_until="commit")
    page.wait_for_selector(ROW, timeout=30_000)
    # The rest of the load (counts, buildings) lands after the first row; the open event stream
    # means the network is never idle, so give it a fixed while.
    page.wait_for_timeout(1500)
    load.first_row_ms = float(page.evaluate("window.__firstRow"))
    paint = page.evaluate(
        "performance.getEntriesByName('first-contentful-paint').map(e => e.startTime)[0] ?? null"
    )
    load.first_paint_ms = float(paint) if paint is not None else float("nan")
    page.remove_listener("requestfinished", finished)
    return load


def run(base: str, token: str, runs: int) -> tuple[list[Load], list[Load]]:
    from playwright.sync_api import sync_playwright

    cold: list[Load] = []
    warm: list[Load] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            for _ in range(runs):
                context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
                context.add_init_script(f"sessionStorage.setItem('{TOKEN_KEY}', '{token}');")
                context.add_init_script(WATCH_FIRST_ROW)
                page = context.new_page()
                cold.append(measure(page, f"{base}/dashboard?lang=zh"))
                warm.append(measure(page, f"{base}/dashboard?lang=zh", reload=True))
                context.close()
        finally:
            browser.close()
    return cold, warm


class StreamWatch:
    """A second client of the event stream, beside the page, in this process: when each alert's
    `raised` event arrives (wall clock ms), to tell the server's part from the page's."""

    def __init__(self, base: str, token: str) -> None:
        self.arrived: dict[int, float] = {}
        self.client = httpx.Client(
            base_url=base,
            headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"},
            timeout=httpx.Timeout(10, read=None),
        )
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self) -> None:
        try:
            with self.client.stream("GET", "/api/v1/events") as response:
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        data = json.loads(line[5:])
                        if data.get("event") == "raised":
                            self.arrived.setdefault(int(data["alert"]["id"]), time.time() * 1000)
        except httpx.HTTPError:
            return  # closed at the end of the run

    def close(self) -> None:
        self.client.close()


def alert_to_screen(
    base: str, token: str, database_url: str, broker_port: int
) -> list[tuple[float, float, float]]:
    """(ms to the event on a stream client, to the row in the document, to the frame after it)
    for each alert raised while the dashboard is open."""
    import datetime as dt

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from playwright.sync_api import sync_playwright

    from rules.database import make_engine
    from rules.publisher import event_payload
    from rules.store import AlertStore, NewAlert

    store = AlertStore(make_engine(database_url))
    # One connection for the whole run, as the rules engine keeps its own.
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-rules")
    client.connect("127.0.0.1", broker_port)
    client.loop_start()
    times: list[tuple[float, float, float]] = []
    watch = StreamWatch(base, token)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            try:
                context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
                context.add_init_script(f"sessionStorage.setItem('{TOKEN_KEY}', '{token}');")
                context.add_init_script(WATCH_NEW_ROWS)
                page = context.new_page()
                page.goto(f"{base}/dashboard?lang=zh", wait_until="commit")
                page.wait_for_selector(ROW, timeout=30_000)
                page.wait_for_timeout(2000)  # the load's own requests done, the stream open
                for n in range(ALERTS_TO_SCREEN):
                    new = NewAlert(
                        "aed-cabinet-open",
                        "critical",
                        "darong-b",
                        "aed",
                        f"aed-bench-{n}",
                        f"aed-cabinet-open at aed-bench-{n}",
                        True,
                        {"floor": "1F"},
                    )
                    raised = time.time() * 1000
                    event = store.raise_alert(new, dt.datetime.now(dt.UTC))
                    assert event is not None
                    client.publish(event.topic, event_payload(event), qos=1)
                    alert_id = event.alert.id
                    # Polled from here (a string predicate would be eval, which the page's CSP
                    # forbids); the times are the page's own, so polling does not add to them.
                    seen = None
                    deadline = time.monotonic() + 10
                    while seen is None or "frame" not in seen:
                        if time.monotonic() > deadline:
                            raise SystemExit(f"alert {alert_id} never reached the screen")
                        page.wait_for_timeout(20)
                        seen = page.evaluate(f"window.__rows['{alert_id}'] ?? null")
                    streamed = watch.arrived.get(alert_id, float("nan")) - raised
                    times.append((streamed, float(seen["inserted"]) - raised, float(seen["frame"]) - raised))
                    page.wait_for_timeout(1000)
                context.close()
            finally:
                browser.close()
    finally:
        watch.close()
        client.loop_stop()
        client.disconnect()
        store.engine.dispose()
    return times


def _kib(n: float) -> str:
    return f"{n / 1024:7.1f} KiB"


def report(name: str, loads: list[Load]) -> None:
    rows = [load.first_row_ms for load in loads]
    paints = [load.first_paint_ms for load in loads]
    last = loads[-1]
    print(f"  {name}: {len(loads)} loads")
    print(
        f"    transferred {_kib(statistics.median(load.total for load in loads))} (median), "
        f"{last.requests} requests; decoded {_kib(sum(last.decoded_by_type.values()))}"
    )
    for kind in sorted(last.bytes_by_type, key=lambda k: -last.bytes_by_type[k]):
        print(
            f"      {kind:<10} {_kib(last.bytes_by_type[kind])} on the wire,"
            f" {_kib(last.decoded_by_type.get(kind, 0))} decoded"
        )
    if name.startswith("cold"):
        print("    each request of the last load (bytes on the wire, decoded, encoding, ms to last byte):")
        for path, wire, decoded, encoding, ms in sorted(last.items, key=lambda item: -item[1]):
            print(f"      {wire:8,d} {decoded:8,d} {encoding or '-':5} {ms:7.0f} ms  {path[:90]}")
    print(
        f"    first alert row: median {statistics.median(rows):6.0f} ms, worst {max(rows):6.0f} ms"
        f"  (first paint: median {statistics.median(paints):6.0f} ms; row - paint"
        f" {statistics.median(rows) - statistics.median(paints):5.0f} ms)"
    )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    runs = int(args[0]) if args else 5
    if not Path(CHROMIUM).exists():
        raise SystemExit("Debian's chromium is not installed: run `make sysdeps`")
    with tempfile.TemporaryDirectory(prefix="louyu-bench-console-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'louyu.db'}"
        started = time.perf_counter()
        token = fill(url)
        filled_s = time.perf_counter() - started
        port = free_port()
        broker = Mosquitto(Path(tmp) / "mosquitto")
        broker.start()
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.api_alerts", "serve", url, str(port), str(broker.port)],
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        try:
            deadline = time.monotonic() + 30
            while not _broker_ok(f"http://127.0.0.1:{port}/readyz"):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the API server did not start or did not reach the broker")
                time.sleep(0.05)
            base = f"http://127.0.0.1:{port}"
            cold, warm = run(base, token, runs)
            to_screen = alert_to_screen(base, token, url, broker.port)
        finally:
            server.terminate()
            server.wait(10)
            broker.kill()
    print(f"console weight: /dashboard signed in, {ALERTS:,} alerts in SQLite (filled in {filled_s:.1f} s)")
    print("  headless Chromium, 1366x768, loopback; the event stream is open and not counted")
    report("cold (empty cache)", cold)
    report("warm (reload)", warm)
    print(f"  alert to screen: {len(to_screen)} AED alerts raised in the store and published on MQTT,")
    print("  the dashboard open; ms from just before the store write to:")
    for n, what in enumerate(
        (
            "the event on a second stream client",
            "the row in the document (MutationObserver)",
            "the next animation frame",
        )
    ):
        values = [times[n] for times in to_screen]
        print(f"    {what:<44} p50 {statistics.median(values):5.0f} ms, max {max(values):5.0f} ms")


def _broker_ok(url: str) -> bool:
    """The API answers and follows the broker (its readiness says so)."""
    if not http_ok(url.replace("/readyz", "/healthz")):
        return False
    try:
        checks = httpx.get(url, timeout=2).json()["checks"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return checks.get("broker", {}).get("ok") is True


if __name__ == "__main__":
    main()
