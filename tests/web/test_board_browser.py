"""The public board in Chromium against the real API and a real InfluxDB: it never contradicts
itself (hours from the registry, no "closed" beside a queue, a lone point drawn, a legend only for a
drawn line) and says plainly when its figures are out of date. Every answer the page reads is
checked against the OpenAPI document."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from api.config import ApiConfig
from api.influx import InfluxQueryClient
from collector.latest import LatestState
from collector.models import Reading
from collector.registry import Registry
from louyu.testing.services import Influxd
from tests.web.browsing import SIZES, check_accessibility, screenshot
from tests.web.conftest import WebApi
from tests.web.contract import ApiContract

pytestmark = [pytest.mark.browser, pytest.mark.integration]

TZ = ZoneInfo("Asia/Shanghai")
# Thursday 26 November 2026, 20:00 in Qingdao: after dinner service by the hours, yet a queue.
NOW = dt.datetime(2026, 11, 26, 20, 0, tzinfo=TZ).astimezone(dt.UTC)
NOW_MS = int(NOW.timestamp() * 1000)
TODAY_BLUE = (0x0A, 0x58, 0xA8)


@pytest.fixture
def registry() -> Registry:
    """Tower B's canteen alone, serving lunch 11:00-14:00 and dinner 17:00-19:30."""
    text = (
        "area: darong\ntimezone: Asia/Shanghai\nbuildings:\n  - id: darong-b\n    name: 大荣中心 B 座\n"
        "    devices:\n"
        '      - {kind: canteen, id: main-hall, location: "B 座二楼员工餐厅 / Tower B 2F staff canteen", '
        'capacity: 420, service_hours: ["11:00-14:00", "17:00-19:30"]}\n'
    )
    return Registry.from_text(text)


def write_past_lunches(influxd: Influxd) -> None:
    """Four previous Thursdays' lunches and dinners, through InfluxDB's HTTP API."""
    lines = []
    for week in range(1, 5):
        day = dt.datetime(2026, 11, 26, tzinfo=TZ) - dt.timedelta(days=7 * week)
        for minute, people in ((11 * 60 + 30, 210), (12 * 60, 420), (17 * 60 + 30, 300), (19 * 60, 100)):
            ts = int((day + dt.timedelta(minutes=minute)).timestamp() * 1000)
            lines.append(f"canteen,building=darong-b,device=main-hall occupancy={people}i {ts}")
    with httpx.Client(base_url=influxd.url, timeout=10) as client:
        client.post("/query", data={"q": "CREATE DATABASE louyu"}).raise_for_status()
        response = client.post("/write", params={"db": "louyu", "precision": "ms"}, content="\n".join(lines))
        assert response.status_code == 204, response.text


def queue_now(registry: Registry) -> LatestState:
    states = LatestState(registry)
    states.apply(
        Reading("darong-b", "canteen", "main-hall", NOW_MS - 20_000, {"occupancy": 400, "queue_length": 60})
    )
    return states


def blue_pixels(page: Page) -> int:
    """Pixels of today's colour in the canteen chart's canvas: a lone point must be drawn."""
    return int(
        page.evaluate(
            """([r, g, b]) => {
              const canvas = document.querySelector(".canteen canvas");
              if (!canvas) return 0;
              const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
              let n = 0;
              for (let i = 0; i < data.length; i += 4) {
                if (Math.abs(data[i] - r) < 30 && Math.abs(data[i + 1] - g) < 30 && Math.abs(data[i + 2] - b) < 30 && data[i + 3] > 100) n++;
              }
              return n;
            }""",
            list(TODAY_BLUE),
        )
    )


def open_board(browser: Browser, web: WebApi, contract: ApiContract, lang: str, size: str) -> Page:
    context = browser.new_context(viewport=SIZES[size], locale="zh-CN" if lang == "zh" else "en-GB")
    contract.attach(context, web.url)
    page = context.new_page()
    page.goto(f"{web.url}/board?lang={lang}")
    expect(page.locator("body")).to_have_attribute("data-loaded", "true", timeout=10_000)
    return page


def test_the_board_never_contradicts_itself_and_says_when_it_is_stale(
    browser: Browser, influxd: Influxd, registry: Registry, start_web: Callable[..., WebApi]
) -> None:
    write_past_lunches(influxd)
    web = start_web(
        config=ApiConfig(rate_per_s=1000, rate_burst=1000, seed_from_influx=False),
        devices=queue_now(registry),
        history=InfluxQueryClient(influxd.url, "v1", "louyu"),
        clock=lambda: NOW,
    )
    contract = ApiContract(httpx.get(f"{web.url}/openapi.json", timeout=10).json())
    body = httpx.get(f"{web.url}/api/v1/board", timeout=10).json()
    [canteen] = body["canteens"]
    assert canteen["service_hours"] == ["11:00-14:00", "17:00-19:30"]
    # 20:00-22:00 is outside the registry's hours, but 60 people queue: serving now, not closed.
    assert canteen["best"]["status"] == "ok"
    assert len(canteen["today"]) == 1  # the live reading is today's only point
    assert canteen["typical"]  # four Thursdays in InfluxDB
    for lang, closed, go_now in (("zh", "不营业", "现在就去"), ("en", "Closed", "Go now")):
        for size in SIZES:
            page = open_board(browser, web, contract, lang, size)
            try:
                best = page.locator('[data-field="best"]')
                expect(best).to_have_text(go_now)
                expect(page.locator(".canteen")).not_to_contain_text(closed)
                expect(page.locator('[data-field="load"]')).to_have_text("95%")
                # Both lines exist, so both legend entries; today's lone point is drawn.
                expect(page.locator(".legend [data-series]")).to_have_count(2)
                assert blue_pixels(page) > 20
                expect(page.locator("#board-stale")).to_be_hidden()
                expect(page.locator("#board-age")).not_to_be_empty()
                screenshot(page, f"board-{size}-{lang}")
                check_accessibility(page, f"board {size} {lang}")
            finally:
                page.context.close()
    assert contract.calls("/api/v1/board") >= 6
    assert contract.problems == [], contract.problems

    # Without history (no InfluxDB): no typical line, so no "typical day" legend.
    bare = start_web(
        config=ApiConfig(rate_per_s=1000, rate_burst=1000, seed_from_influx=False),
        devices=queue_now(registry),
        clock=lambda: NOW,
    )
    page = open_board(browser, bare, contract, "zh", "desktop")
    try:
        expect(page.locator('.legend [data-series="today"]')).to_have_count(1)
        expect(page.locator('.legend [data-series="typical"]')).to_have_count(0)
        assert blue_pixels(page) > 20
        # The API goes away: within a few seconds the board says so, in the page's language,
        # and keeps the figures it had with their time.
        bare.server.stop()
        stale = page.locator("#board-stale")
        expect(stale).to_be_visible(timeout=20_000)
        expect(stale).to_contain_text("无法连接服务器")
        expect(stale).to_contain_text("20:00")
        expect(page.locator("body")).to_have_attribute("data-stale", "true")
        screenshot(page, "board-stale-desktop-zh")
        check_accessibility(page, "board stale")
    finally:
        page.context.close()
    assert contract.problems == [], contract.problems
