"""The HTML reports in Chromium, in zh and en, at the wall, desktop and phone sizes: the charts
load as images with their text alternatives, the tables are there, axe-core (WCAG 2.1 AA) finds
nothing above minor, and a full-page screenshot of each is kept in test-artifacts/web/screens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import Engine

from api.influx import InfluxQueryClient
from api.roles import Role
from louyu.testing.services import Influxd
from tests.api import report_month as m
from tests.web.browsing import SIZES, check_accessibility, screenshot
from tests.web.conftest import WebApi

pytestmark = pytest.mark.integration

OCTOBER = "period=month&start=2026-10-15T12:00:00%2B08:00"


@pytest.mark.parametrize("kind", ["aed-readiness", "alert-handling"])
def test_report_pages(kind: str, browser: Browser, start_web: Callable[..., WebApi], influxd: Influxd,
                      engine: Engine) -> None:  # fmt: skip
    m.write_influx(influxd)
    m.fill_store(engine)
    web = start_web(history=InfluxQueryClient(influxd.url, "v1", "louyu"))
    for lang, heading in (("zh", "报告"), ("en", "report")):
        for size_name, size in SIZES.items():
            context = browser.new_context(
                viewport=size, extra_http_headers={"Authorization": f"Bearer {web.token[Role.OPERATOR]}"}
            )
            page = context.new_page()
            errors: list[str] = []
            page.on(
                "console", lambda msg, errors=errors: errors.append(msg.text) if msg.type == "error" else None
            )
            response = page.goto(
                f"{web.url}/api/v1/reports/{kind}?{OCTOBER}&building={m.BUILDING}&lang={lang}"
            )
            assert response is not None and response.status == 200
            expect(page.locator("h1")).to_contain_text(heading)
            images = page.locator("figure.report-chart img")
            assert images.count() >= 1
            for n in range(images.count()):
                image = images.nth(n)
                assert (image.get_attribute("alt") or "").strip()
                # Decoded and drawn: a broken image has no natural width.
                assert image.evaluate("img => img.complete && img.naturalWidth > 100")
            assert page.locator("table").count() >= 3
            assert (
                page.evaluate("getComputedStyle(document.body).maxWidth") == "1200px"
            )  # the stylesheet loaded
            check_accessibility(page, f"{kind} {lang} {size_name}")
            assert errors == []
            screenshot(page, f"report-{kind}-{lang}-{size_name}", full_page=True)
            context.close()
