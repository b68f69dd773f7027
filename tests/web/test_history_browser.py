"""The device history chart in Chromium against the real API reading a real InfluxDB: the axis
is the chosen range in the area's time zone and the page's language, fixed scales per field, a lone
aggregated point drawn, a text alternative, and the range not carried to the next device. Every
request and answer is checked against the OpenAPI document."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from api.config import ApiConfig
from api.influx import InfluxQueryClient
from api.roles import Role
from collector.latest import LatestState
from collector.models import Reading
from collector.registry import Registry
from louyu.testing.services import Influxd
from tests.web.browsing import SIZES, check_accessibility, screenshot, sign_in
from tests.web.conftest import WebApi
from tests.web.contract import ApiContract

pytestmark = [pytest.mark.browser, pytest.mark.integration]

AED = "darong-b/aed/aed-b-1f-lobby"
GARAGE = "darong-a/parking_lot/garage-b1"
# Ticks of the 24 h range fall every 3 hours of Qingdao's clock, whatever the browser's zone.
QINGDAO_3H = {f"{h:02d}:00" for h in range(0, 24, 3)}


def write_history(influxd: Influxd, now_ms: int) -> None:
    """One battery reading 3 h ago (one aggregated point in any range), and a garage's occupancy
    every hour for a week, through InfluxDB's own HTTP API as the collector writes them."""
    lines = [f"aed,building=darong-b,device=aed-b-1f-lobby battery_pct=80 {now_ms - 3 * 3_600_000}"]
    for hour in range(1, 7 * 24):
        lines.append(
            f"parking_lot,building=darong-a,device=garage-b1 occupied={100 + hour % 24 * 5}i "
            f"{now_ms - hour * 3_600_000}"
        )
    with httpx.Client(base_url=influxd.url, timeout=10) as client:
        client.post("/query", data={"q": "CREATE DATABASE louyu"}).raise_for_status()
        response = client.post("/write", params={"db": "louyu", "precision": "ms"}, content="\n".join(lines))
        assert response.status_code == 204, response.text


def blue_pixels(page: Page) -> int:
    return int(
        page.evaluate(
            """() => {
              const canvas = document.querySelector("#history-chart canvas");
              if (!canvas) return 0;
              const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
              let n = 0;
              for (let i = 0; i < data.length; i += 4) {
                if (Math.abs(data[i] - 0x0a) < 30 && Math.abs(data[i + 1] - 0x58) < 30 && Math.abs(data[i + 2] - 0xa8) < 30 && data[i + 3] > 100) n++;
              }
              return n;
            }"""
        )
    )


def chart_range(page: Page) -> tuple[float, float]:
    start, end = (page.locator("#history-chart").get_attribute("data-x") or "0,0").split(",")
    return float(start), float(end)


@pytest.fixture
def history_web(influxd: Influxd, registry: Registry, start_web: Callable[..., WebApi]) -> WebApi:
    now_ms = int(time.time() * 1000)
    write_history(influxd, now_ms)
    devices = LatestState(registry)
    devices.apply(
        Reading("darong-b", "aed", "aed-b-1f-lobby", now_ms, {"state": "ready", "battery_pct": 80.0})
    )
    devices.apply(Reading("darong-a", "parking_lot", "garage-b1", now_ms, {"occupied": 150}))
    return start_web(
        config=ApiConfig(rate_per_s=1000, rate_burst=1000, sse_poll_s=0.5, seed_from_influx=False),
        devices=devices,
        history=InfluxQueryClient(influxd.url, "v1", "louyu"),
    )


def test_the_history_chart_tells_the_truth(browser: Browser, history_web: WebApi) -> None:
    web = history_web
    contract = ApiContract(httpx.get(f"{web.url}/openapi.json", timeout=10).json())
    for lang in ("zh", "en"):
        for size, viewport in SIZES.items():
            # The browser in New York: the axis must still read Qingdao's hours.
            context = browser.new_context(
                viewport=viewport,
                locale="zh-CN" if lang == "zh" else "en-US",
                timezone_id="America/New_York",
            )
            contract.attach(context, web.url)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error, errors=errors: errors.append(str(error)))
            try:
                sign_in(page, web, Role.VIEWER, lang, f"#/device/{AED}")
                chart = page.locator("#history-chart")
                expect(chart).to_have_attribute("data-x", re.compile(r"^\d+,\d+$"), timeout=10_000)
                start, end = chart_range(page)
                # The chosen range (24 h by default), ending now: not the lone point's extent.
                assert end - start == 24 * 3600
                assert abs(end - time.time()) < 120
                # Battery: 0-100 %, whatever the data.
                expect(chart).to_have_attribute("data-y", "0,100")
                ticks = (chart.get_attribute("data-ticks") or "").split("|")
                assert len(ticks) >= 7 and set(ticks) <= QINGDAO_3H, ticks  # 24-hour clock, Qingdao
                # The single aggregated point is drawn.
                assert blue_pixels(page) > 20
                summary = page.locator("#history-summary")
                if lang == "zh":
                    expect(summary).to_contain_text("1 个数据点")
                else:
                    expect(summary).to_contain_text("1 point;")  # not "1 points"
                expect(summary).to_contain_text("80%")
                expect(chart).to_have_attribute("role", "img")
                expect(chart).to_have_attribute("aria-label", summary.inner_text())
                page.locator("#history-table-box summary").click()
                expect(page.locator("#history-table-body tr")).to_have_count(1)
                expect(page.locator("#history-table-body td").nth(1)).to_have_text("80")
                screenshot(page, f"history-{size}-{lang}")
                check_accessibility(page, f"history {size} {lang}")

                if size == "desktop":
                    # A week: daily ticks naming the day in the page's language.
                    page.locator("#history-range").select_option("168")
                    expect(chart).to_have_attribute(
                        "data-ticks", re.compile("周" if lang == "zh" else "(Mon|Tue|Wed|Thu|Fri|Sat|Sun)")
                    )
                    start, end = chart_range(page)
                    assert end - start == 7 * 24 * 3600
                    # The next device starts from 24 h again; its count is scaled 0..capacity.
                    page.goto(f"{web.url}/dashboard?lang={lang}#/device/{GARAGE}")
                    expect(page.locator("#history-range")).to_have_value("24")
                    expect(chart).to_have_attribute("data-y", "0,300", timeout=10_000)
                    start, end = chart_range(page)
                    assert end - start == 24 * 3600
                    expect(page.locator("#history-summary")).to_contain_text(
                        "个数据点" if lang == "zh" else "points;"
                    )
                    screenshot(page, f"history-garage-{size}-{lang}")
                    check_accessibility(page, f"history garage {size} {lang}")
                assert errors == [], errors
            finally:
                context.close()
    assert contract.calls("/api/v1/devices/{building}/{kind}/{device}/history") >= 8
    assert contract.problems == [], contract.problems
