"""The board and the console in a demo running simulated time (LOUYU_DEMO_CLOCK), in Chromium
against the real API and a real InfluxDB: the pages say plainly that the time is simulated, the
board reads the simulated time of day (the lunch rush is open, with its queue and today's curve
since the simulated morning), and it never says "closed" beside it, in zh and en, whatever the
real hour of the run. Every answer the page reads is checked against the OpenAPI document."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, expect

from api.config import ApiConfig
from api.influx import InfluxQueryClient
from collector.area_clock import AreaClock, parse_clock, wall_ms
from collector.latest import LatestState
from collector.models import Reading
from collector.registry import Registry
from louyu.testing.services import Influxd
from tests.web.browsing import SIZES, check_accessibility, screenshot
from tests.web.conftest import WebApi
from tests.web.contract import ApiContract

pytestmark = [pytest.mark.browser, pytest.mark.integration]

TZ = ZoneInfo("Asia/Shanghai")
MIN = 60_000


@pytest.fixture
def registry() -> Registry:
    """Tower B's canteen with the default service hours (lunch 11:00-13:30)."""
    text = (
        "area: darong\ntimezone: Asia/Shanghai\nbuildings:\n  - id: darong-b\n    name: 大荣中心 B 座\n"
        "    devices:\n"
        '      - {kind: canteen, id: main-hall, location: "B 座二楼员工餐厅 / Tower B 2F staff canteen", '
        "capacity: 420}\n"
    )
    return Registry.from_text(text)


def behind(clock: AreaClock, text: str | None) -> int:
    """Minutes the HH:MM in `text` is behind the area's clock now."""
    match = re.search(r"(\d\d):(\d\d)", text or "")
    assert match, text
    now = dt.datetime.fromtimestamp(clock.area_ms(wall_ms()) / 1000, TZ)
    return now.hour * 60 + now.minute - (int(match[1]) * 60 + int(match[2]))


def lunch_load(area_hour: float) -> int:
    """People seated: none before 11:30, then filling to 400 by noon."""
    return 0 if area_hour < 11.5 else min(400, int((area_hour - 11.5) * 800))


def write_the_simulated_morning(influxd: Influxd, clock: AreaClock, now_ms: int) -> None:
    """A reading every 5 real seconds since the demo began, at real times, as the simulator sends."""
    lines = []
    for real in range(clock.anchor_real_ms, now_ms, 5_000):
        local = dt.datetime.fromtimestamp(clock.area_ms(real) / 1000, TZ)
        people = lunch_load(local.hour + local.minute / 60)
        lines.append(f"canteen,building=darong-b,device=main-hall occupancy={people}i {real}")
    with httpx.Client(base_url=influxd.url, timeout=10) as client:
        client.post("/query", data={"q": "CREATE DATABASE louyu"}).raise_for_status()
        response = client.post("/write", params={"db": "louyu", "precision": "ms"}, content="\n".join(lines))
        assert response.status_code == 204, response.text


def test_the_board_runs_the_demo_clock_and_is_open_at_the_simulated_lunch(
    browser: Browser, influxd: Influxd, registry: Registry, start_web: Callable[..., WebApi]
) -> None:
    # The demo began 13.5 real minutes ago at 07:30, twenty times faster: it is 12:00 in the area,
    # and the run of this test (about a minute and a half) stays inside the simulated lunch.
    now = wall_ms()
    clock = parse_clock("07:30x20", TZ, now - 810_000)
    area_now = dt.datetime.fromtimestamp(clock.area_ms(now) / 1000, TZ)
    assert (area_now.hour, area_now.minute) == (12, 0) and area_now.weekday() < 5
    write_the_simulated_morning(influxd, clock, now - 5_000)
    devices = LatestState(registry)
    devices.apply(Reading("darong-b", "canteen", "main-hall", now, {"occupancy": 400, "queue_length": 40}))
    web = start_web(
        config=ApiConfig(rate_per_s=1000, rate_burst=1000, seed_from_influx=False),
        devices=devices,
        history=InfluxQueryClient(influxd.url, "v1", "louyu"),
        area_clock=clock,
    )
    contract = ApiContract(httpx.get(f"{web.url}/openapi.json", timeout=10).json())

    body = httpx.get(f"{web.url}/api/v1/board", timeout=10).json()
    assert body["clock"]["simulated"] is True and body["clock"]["speed"] == 20.0
    board_now = dt.datetime.fromisoformat(body["clock"]["now"])
    assert board_now.utcoffset() == dt.timedelta(hours=8)
    assert (board_now.hour, 0) <= (12, board_now.minute) <= (12, 5)
    [canteen] = body["canteens"]
    # The simulated lunch: open now and for the rest of lunch, whatever the real hour.
    assert canteen["best"]["status"] == "ok"
    open_at = {dt.datetime.fromisoformat(s["at"]).strftime("%H:%M") for s in canteen["forecast"] if s["open"]}
    assert {"12:15", "12:30", "13:00", "13:15"} <= open_at
    assert "13:30" not in open_at and "14:00" not in open_at  # lunch ends by the registry's hours
    # Today's curve is the simulated day's: from the morning (no one) to the lunch (the hall full).
    today = {p["minute"]: p["load"] for p in canteen["today"]}
    assert min(today) <= 8 * 60 and max(today) == 12 * 60
    assert today[min(today)] == 0 and today[11 * 60 + 45] > 0.3
    assert canteen["typical"] == []  # no simulated day before this one

    for lang, label, closed in (("zh", "模拟时间", "不营业"), ("en", "simulated", "Closed")):
        for size in SIZES:
            context = browser.new_context(viewport=SIZES[size], locale="zh-CN" if lang == "zh" else "en-GB")
            contract.attach(context, web.url)
            page = context.new_page()
            try:
                page.goto(f"{web.url}/board?lang={lang}")
                expect(page.locator("body")).to_have_attribute("data-loaded", "true", timeout=10_000)
                badge = page.locator("#sim-clock")
                expect(badge).to_be_visible()
                expect(badge).to_have_text(re.compile(rf"^{label} 12:\d\d · \u00d720$"))
                assert abs(behind(clock, badge.text_content())) <= 2
                # The board's own clock is the simulated one (of its last build), not the real hour.
                updated = page.locator("#board-updated")
                expect(updated).to_have_text(re.compile(r"^12:\d\d$"))
                assert 0 <= behind(clock, updated.text_content()) <= 7
                expect(page.locator(".canteen")).not_to_contain_text(closed)
                expect(page.locator('[data-field="best"]')).not_to_have_text("—")
                expect(page.locator('[data-field="load"]')).to_have_text("95%")
                expect(page.locator(".canteen")).to_contain_text("40")
                expect(page.locator('.legend [data-series="today"]')).to_have_count(1)
                expect(page.locator('.legend [data-series="typical"]')).to_have_count(0)
                # The simulated clock runs on between polls: three real seconds, a simulated minute.
                first = badge.text_content()
                expect(badge).not_to_have_text(first or "", timeout=8_000)
                screenshot(page, f"board-demo-clock-{size}-{lang}")
                check_accessibility(page, f"board demo clock {size} {lang}")
            finally:
                context.close()
    assert contract.calls("/api/v1/board") >= 6
    assert contract.problems == [], contract.problems


def test_the_console_says_its_time_is_simulated_and_production_does_not(
    browser: Browser, registry: Registry, start_web: Callable[..., WebApi]
) -> None:
    clock = parse_clock("07:30x60", TZ)
    demo = start_web(area_clock=clock)
    real = start_web()
    for lang, label in (("zh", "模拟时间"), ("en", "simulated")):
        for size in ("wall", "phone"):
            context = browser.new_context(viewport=SIZES[size])
            page = context.new_page()
            try:
                page.goto(f"{demo.url}/dashboard?lang={lang}")
                badge = page.locator("#sim-clock")
                expect(badge).to_have_text(re.compile(rf"^{label} \d\d:\d\d · \u00d760$"))
                assert abs(behind(clock, badge.text_content())) <= 2
                screenshot(page, f"dashboard-demo-clock-{size}-{lang}")
                check_accessibility(page, f"dashboard demo clock {size} {lang}")
                # Production (the default): the real clock, and nothing says otherwise.
                page.goto(f"{real.url}/dashboard?lang={lang}")
                expect(page.locator("#signin")).to_be_visible()
                expect(page.locator("#sim-clock")).to_have_count(0)
                page.goto(f"{real.url}/board?lang={lang}")
                expect(page.locator("body")).to_have_attribute("data-loaded", "true", timeout=10_000)
                expect(page.locator("#sim-clock")).to_have_count(0)
            finally:
                context.close()
    assert httpx.get(f"{real.url}/api/v1/board", timeout=10).json()["clock"]["simulated"] is False
