"""The strict Content-Security-Policy breaks nothing: the dashboard (signed in, an alert live,
a device's history chart) and the public board load in a real headless Chromium with the
policy the API sends, and the browser reports no violation."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

import httpx
from playwright.sync_api import Browser, Page, expect

from api.config import ApiConfig
from api.influx import InfluxQueryClient
from api.roles import Role
from louyu.testing.services import Influxd
from tests.api.conftest import new_alert
from tests.web.conftest import WebApi
from tests.web.test_browser import browser, sign_in  # noqa: F401 (the browser fixture)

# Every violation the page sees, whether or not Chromium also logs it to the console.
WATCH_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _watch(page: Page, console: list[str]) -> None:
    page.add_init_script(WATCH_VIOLATIONS)
    page.on("console", lambda message: console.append(message.text))
    page.on("pageerror", lambda error: console.append(f"pageerror: {error}"))


def _violations(page: Page, console: list[str]) -> list[str]:
    seen: list[str] = page.evaluate("window.__csp")
    return seen + [text for text in console if "Content Security Policy" in text or "pageerror" in text]


def test_dashboard_and_board_load_without_a_csp_violation(
    browser: Browser,  # noqa: F811
    start_web: Callable[..., WebApi],
    influxd: Influxd,
) -> None:
    httpx.post(f"{influxd.url}/query", data={"q": "CREATE DATABASE louyu"}, timeout=10).raise_for_status()
    now_ms = int(time.time() * 1000)
    lines = [
        f"canteen,building=darong-b,device=main-hall occupancy={200 + n}i {now_ms - n * 60_000}"
        for n in range(90)
    ]
    write = httpx.post(
        f"{influxd.url}/write",
        params={"db": "louyu", "precision": "ms"},
        content="\n".join(lines),
        timeout=10,
    )
    assert write.status_code == 204, write.text
    web = start_web(
        config=ApiConfig(rate_per_s=1000, rate_burst=1000, sse_poll_s=0.5),
        history=InfluxQueryClient(influxd.url, "v1", "louyu"),
    )
    web.store.raise_alert(new_alert(), dt.datetime.now(dt.UTC))
    policy = httpx.get(f"{web.url}/dashboard", timeout=10).headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy

    context = browser.new_context()
    page = context.new_page()
    console: list[str] = []
    _watch(page, console)
    try:
        sign_in(page, web, Role.OPERATOR)
        expect(page.locator("#alert-list li").first).to_contain_text("aed-b-1f-lobby", timeout=10_000)
        page.goto(f"{web.url}/dashboard#/device/darong-b/canteen/main-hall")
        expect(page.locator("#device-latest")).to_be_visible()
        expect(page.locator(".uplot canvas").first).to_be_visible(timeout=10_000)
        dashboard = _violations(page, console)
        console.clear()
        page.goto(f"{web.url}/board")
        expect(page.locator("body")).to_have_attribute("data-loaded", "true", timeout=10_000)
        board = _violations(page, console)
        # The watch works and the policy is enforced: an inline script is refused and reported.
        page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
            " document.body.append(s); }"
        )
        page.wait_for_function("window.__csp.length > 0", timeout=5_000)
        refused = page.evaluate("[window.ran, window.__csp]")
    finally:
        context.close()
    assert dashboard == [], dashboard
    assert board == [], board
    assert refused[0] is None and any(v.startswith("script-src") for v in refused[1]), refused
