"""The reports page of the dashboard in Chromium, zh and en, wall, desktop and phone: signed in
with the tab's token, it makes the AED report of a known month (a real influxd and alert store)
for one building and shows it with its charts, downloads the PDF, lists nothing kept yet, and
axe-core finds nothing above minor. Without a token it says to sign in."""

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


def test_reports_page(
    browser: Browser, start_web: Callable[..., WebApi], influxd: Influxd, engine: Engine
) -> None:
    m.write_influx(influxd)
    m.fill_store(engine)
    web = start_web(history=InfluxQueryClient(influxd.url, "v1", "louyu"))
    for lang, title, none_kept in (("zh", "AED 就绪与响应报告", "尚无定时生成的报告。"),
                                   ("en", "AED readiness and response report", "No scheduled report yet.")):  # fmt: skip
        for size_name, size in SIZES.items():
            context = browser.new_context(viewport=size, accept_downloads=True)
            context.add_init_script(f"sessionStorage.setItem('louyu.token', '{web.token[Role.OPERATOR]}')")
            page = context.new_page()
            errors: list[str] = []
            page.on(
                "console", lambda msg, errors=errors: errors.append(msg.text) if msg.type == "error" else None
            )
            page.goto(f"{web.url}/reports?lang={lang}")
            expect(page.locator("#kept li")).to_have_text(none_kept)
            page.locator("select[name=kind]").select_option("aed-readiness")
            page.locator("input[name=date]").fill("2026-10-15")
            page.locator("select[name=building]").select_option(m.BUILDING)
            page.locator("#report-form button[type=submit]").click()
            expect(page.locator("#report h1")).to_have_text(title, timeout=60_000)
            images = page.locator("#report figure img")
            assert images.count() >= 3
            for n in range(images.count()):
                assert images.nth(n).evaluate("img => img.complete && img.naturalWidth > 100")
                assert (images.nth(n).get_attribute("alt") or "").strip()
            expect(page.locator("#report")).to_contain_text(m.LOBBY)
            check_accessibility(page, f"reports page {lang} {size_name}")
            screenshot(page, f"reports-page-{lang}-{size_name}", full_page=True)
            if size_name == "desktop":
                with page.expect_download(timeout=60_000) as info:
                    page.locator("button[data-format=pdf]").click()
                download = info.value
                assert (
                    download.suggested_filename == f"aed-readiness-{m.BUILDING}-2026-10-01-month-{lang}.pdf"
                )
                with open(download.path(), "rb") as pdf:
                    assert pdf.read(5) == b"%PDF-"
            assert errors == []
            context.close()
    # No token in the tab: the page says to sign in and shows no form.
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{web.url}/reports?lang=en")
    expect(page.locator("#reports-signin")).to_be_visible()
    expect(page.locator("#report-form")).to_be_hidden()
    context.close()
