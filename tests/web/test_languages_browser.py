"""Both languages complete, in Chromium against the real system (mosquitto, the rules engine with
the shipped rules, the API): an alert's summary in the reader's language in the list, the banner
and the detail; the device's reading in words; plural forms. Every request and answer is checked
against the OpenAPI document."""

# Full-width colons are correct in Chinese text.
# ruff: noqa: RUF001

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from api.roles import Role
from louyu.testing.services import Mosquitto
from tests.web.browsing import SIZES, check_accessibility, publish, screenshot, sign_in
from tests.web.conftest import WebApi
from tests.web.contract import ApiContract

pytestmark = [pytest.mark.browser, pytest.mark.integration]

WORDS = {
    # lang: (how the summary starts, the place in that language)
    "zh": ("AED 箱门打开：", "B 座一楼大堂"),
    "en": ("AED cabinet opened: ", "Tower B lobby"),
}


def test_alert_summaries_and_readings_in_the_readers_language(
    browser: Browser, system: WebApi, mosquitto: Mosquitto, contract: ApiContract
) -> None:
    publish(mosquitto, "louyu/darong-b/aed/aed-b-1f-lobby", {"state": "ready", "cabinet_open": True})
    for lang, (start, place) in WORDS.items():
        for size, viewport in SIZES.items():
            context = browser.new_context(
                viewport=viewport, locale="en-US"
            )  # the PC's own setting is ignored
            contract.attach(context, system.url)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
            try:
                sign_in(page, system, Role.OPERATOR, lang)
                row = page.locator('#alert-list > li[data-severity="critical"]')
                expect(row).to_have_count(1, timeout=10_000)
                summary = row.locator(".summary")
                expect(summary).to_have_text(re.compile("^" + re.escape(start) + ".*" + re.escape(place)))
                expect(page.locator("#banner-text")).to_contain_text(start)
                if lang == "zh":
                    # Neither the English summary nor the other half of the registry's location.
                    expect(row).not_to_contain_text("cabinet opened")
                    expect(row).not_to_contain_text("Tower B lobby")
                else:
                    expect(row).not_to_contain_text("箱门打开")
                screenshot(page, f"alert-language-{size}-{lang}")
                check_accessibility(page, f"alert language {size} {lang}")
                if size == "wall":
                    summary.click()
                    expect(page.locator("#detail-title")).to_have_text(re.compile("^" + re.escape(start)))
                    page.goto(f"{system.url}/dashboard?lang={lang}#/device/darong-b/aed/aed-b-1f-lobby")
                    latest = page.locator("#device-latest")
                    expect(latest).to_contain_text("正常" if lang == "zh" else "ready")
                    expect(latest).to_contain_text("是" if lang == "zh" else "yes")
                    if lang == "zh":
                        expect(latest).not_to_contain_text(re.compile(r"\b(ready|true|cabinet_open)\b"))
                assert errors == [], errors
            finally:
                context.close()
    assert contract.calls("/api/v1/alerts") >= 6


def test_plural_forms_follow_the_language(browser: Browser, system: WebApi, contract: ApiContract) -> None:
    """`plural()` picks the language's form: "1 point" / "2 points" in English, one form in Chinese."""
    for lang, one, two in (("en", "1 point", "2 points"), ("zh", "1 个数据点", "2 个数据点")):
        context = browser.new_context(locale="en-US")
        contract.attach(context, system.url)
        page = context.new_page()
        try:
            sign_in(page, system, Role.VIEWER, lang)
            words = page.evaluate(
                """async () => {
                  const { plural } = await import(document.querySelector('script[type=module]').src.replace(/[^/]+$/, "common.js"));
                  return [plural("history.points", 1), plural("history.points", 2)];
                }"""
            )
            assert words == [one, two]
        finally:
            context.close()
