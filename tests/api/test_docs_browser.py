"""The docs page renders in a real headless Chromium with no network beyond loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Route, sync_playwright

from tests.api.conftest import Api

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CHROMIUM = "/usr/bin/chromium"


def test_docs_page_renders_every_operation_offline(api: Api) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `make sysdeps`")
    outside: list[str] = []

    def guard(route: Route) -> None:
        if route.request.url.startswith(api.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.route("**/*", guard)
            page.goto(f"{api.url}/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            paths = page.locator(".opblock-summary-path").all_inner_texts()
            title = page.locator(".info .title").inner_text()
        finally:
            browser.close()
    assert "louyu operator API" in title
    assert not outside, f"the docs page reached outside: {outside}"
    # Its own strict policy (the one inline script allowed by hash) breaks nothing.
    assert not [text for text in console if "Content Security Policy" in text], console
    for path in ("/api/v1/alerts", "/api/v1/alerts/{alert_id}/ack", "/api/v1/events", "/readyz"):
        assert any(p.replace("\u200b", "") == path for p in paths), (path, paths)
