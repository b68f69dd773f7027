"""The site plan, the building's floor list and wall mode in a real headless Chromium against the
real API (uvicorn, SQLite alert store, mosquitto and the rules engine: an alert raised by a sensor
message changes the plan live). Every request the page makes is checked against the OpenAPI
document (`contract`); axe-core (WCAG 2.1 AA) and our contrast check on every screen; screenshots
of each at 1920x1080, 1366x768 and 390x844, in zh and en, in test-artifacts/web/screens/.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from api.roles import Role
from louyu.testing.services import Mosquitto
from rules.store import NewAlert
from tests.web.browsing import (
    DESKTOP,
    SIZES,
    WALL,
    check_accessibility,
    publish,
    screenshot,
    sign_in,
    wait_for_device,
)
from tests.web.conftest import WebApi
from tests.web.contract import ApiContract

pytestmark = [pytest.mark.browser, pytest.mark.integration]

CRITICAL_FILL = "rgb(179, 38, 30)"  # --sev-critical
NAMES = {"zh": "大荣中心 B 座", "en": "Darong Centre Tower B"}


@contextmanager
def console(
    browser: Browser,
    web: WebApi,
    contract: ApiContract,
    role: Role = Role.OPERATOR,
    viewport: ViewportSize = DESKTOP,
    lang: str = "zh",
    path: str = "",
    reduced_motion: bool = False,
) -> Iterator[Page]:
    context = browser.new_context(
        viewport=viewport,
        locale="zh-CN" if lang == "zh" else "en-GB",
        reduced_motion="reduce" if reduced_motion else "no-preference",
    )
    contract.attach(context, web.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        sign_in(page, web, role, lang, path)
        yield page
        assert errors == [], errors
    finally:
        context.close()


def building(page: Page, code: str, where: str = "#buildings-plan") -> str:
    return f'{where} a.plan-building[data-building="{code}"]'


def fill_of(page: Page, selector: str) -> str:
    value: str = page.locator(f"{selector} path").evaluate("(p) => getComputedStyle(p).fill")
    return value


def raise_alerts(web: WebApi, n: int) -> None:
    """`n` open alerts over the towers, of every severity but critical."""
    now = dt.datetime.now(dt.UTC)
    severities = ["major", "minor", "warning", "info"]
    for i in range(n):
        event = web.store.raise_alert(
            NewAlert(
                "device-offline",
                severities[i % 4],
                f"darong-{'acdefghijklmnopq'[i % 16]}",
                "parking_space",
                f"bay-{i:03d}",
                f"Bay sensor {i:03d} silent for 30 minutes",
                None,
                {},
            ),
            now - dt.timedelta(seconds=n - i),
        )
        assert event is not None


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_plan_draws_the_registry_and_follows_a_sensor_alert_live(
    browser: Browser, system: WebApi, mosquitto: Mosquitto, contract: ApiContract, lang: str
) -> None:
    with console(browser, system, contract, lang=lang, path="#/buildings") as page:
        plan = page.locator("#buildings-plan svg.plan-svg")
        expect(page.locator("#buildings-plan a.plan-building")).to_have_count(17)
        # Accessible: the SVG names itself and describes what the colours mean; each building is a
        # link with a spoken label in the page's language.
        title_id = plan.get_attribute("aria-labelledby")
        assert page.locator(f"#{title_id}").text_content() == ("园区平面图" if lang == "zh" else "Site plan")
        assert "17" in (page.locator(f"#{plan.get_attribute('aria-describedby')}").text_content() or "")
        tower_b = building(page, "darong-b")
        expect(page.locator(tower_b)).to_have_attribute("aria-label", re.compile("^" + NAMES[lang]))
        expect(page.locator(tower_b)).to_have_attribute("data-severity", "none")
        expect(page.locator("#buildings-plan .plan-aed")).to_have_count(21)
        expect(page.locator("#buildings-plan .plan-badge-parking")).to_have_count(1)
        expect(page.locator("#buildings-plan .plan-badge-canteen")).to_have_count(1)
        quiet_fill = fill_of(page, tower_b)
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            screenshot(page, f"site-plan-{size}-{lang}", full_page=size == "phone")
        page.set_viewport_size(DESKTOP)
        check_accessibility(page, f"site plan {lang}")

        # A cabinet opens: sensor -> broker -> rules engine -> store -> stream -> plan.
        publish(mosquitto, "louyu/darong-b/aed/aed-b-1f-lobby", {"state": "ready", "cabinet_open": True})
        expect(page.locator(tower_b)).to_have_attribute("data-severity", "critical", timeout=10_000)
        expect(page.locator(tower_b)).to_have_attribute("data-alarm", "true")
        expect(page.locator(building(page, "darong-c"))).to_have_attribute("data-severity", "none")
        expect(page.locator('#buildings-plan .plan-aed[data-device="aed-b-1f-lobby"]')).to_have_attribute(
            "data-severity", "critical"
        )
        # It flashes: over a second and a half, its fill is the alarm colour, then light, and back.
        path = page.locator(f"{tower_b} path")
        assert path.evaluate("(p) => getComputedStyle(p).animationName") == "plan-flash"
        seen = set(
            path.evaluate(
                """(p) => new Promise((done) => {
                    const fills = [];
                    const timer = setInterval(() => fills.push(getComputedStyle(p).fill), 100);
                    setTimeout(() => { clearInterval(timer); done(fills); }, 1500);
                })"""
            )
        )
        assert seen == {CRITICAL_FILL, quiet_fill}, seen
        screenshot(page, f"site-plan-alarm-desktop-{lang}")
        check_accessibility(page, f"site plan with an alarm {lang}")

        # Acknowledged: still its worst alert (red), no longer flashing.
        alert_id = page.locator('#alert-list > li[data-severity="critical"]').first.get_attribute("data-id")
        with system.client(Role.PATROL) as client:
            assert client.post(f"/api/v1/alerts/{alert_id}/ack", json={}).status_code == 200
        expect(page.locator(tower_b)).to_have_attribute("data-alarm", "false", timeout=10_000)
        expect(page.locator(tower_b)).to_have_attribute("data-severity", "critical")
        assert path.evaluate("(p) => getComputedStyle(p).animationName") == "none"
        assert fill_of(page, tower_b) == CRITICAL_FILL

        # Clicking the building opens it: its floor list, from the top down.
        page.locator(tower_b).click()
        expect(page).to_have_url(re.compile(r"#/building/darong-b$"))
        expect(page.locator("#building-title")).to_have_text(NAMES[lang])
        floors = page.locator("#floor-list section.floor")
        expect(floors).to_have_count(3)
        assert [floors.nth(i).get_attribute("data-floor") for i in range(3)] == ["12F", "2F", "1F"]
        lobby = page.locator('#floor-list section[data-floor="1F"] tr[data-device="aed-b-1f-lobby"]')
        expect(lobby).to_have_attribute("data-status", "alerting")
        expect(lobby.locator("td").nth(0)).to_have_text("AED")
        expect(lobby.locator("td").nth(2)).to_have_text(
            "B 座一楼大堂前台旁" if lang == "zh" else "Tower B lobby, beside reception"
        )
        expect(lobby.locator("td").nth(3)).to_contain_text("告警" if lang == "zh" else "alerting")
        expect(lobby.locator("td").nth(3)).to_contain_text("箱门打开" if lang == "zh" else "cabinet open")
        hall = page.locator('#floor-list section[data-floor="2F"] tr[data-device="main-hall"]')
        expect(hall.locator("td").nth(0)).to_have_text("餐厅" if lang == "zh" else "canteen")
        # The building is marked on the plan beside its floors.
        expect(page.locator(building(page, "darong-b", "#building-plan"))).to_have_attribute(
            "data-highlight", "true"
        )
        expect(page.locator('nav.tabs a[data-view="buildings"]')).to_have_attribute("aria-current", "page")
        for size, viewport in SIZES.items():
            page.set_viewport_size(viewport)
            screenshot(page, f"building-floors-{size}-{lang}", full_page=size == "phone")
            check_accessibility(page, f"building floors {size} {lang}")
    assert contract.calls("/api/v1/site") >= 2


def test_without_motion_the_alarm_is_a_heavy_edge_and_the_keyboard_opens_a_building(
    browser: Browser, system: WebApi, mosquitto: Mosquitto, contract: ApiContract
) -> None:
    publish(mosquitto, "louyu/darong-a/parking_lot/garage", {"occupied": 412, "capacity": 600})
    publish(mosquitto, "louyu/darong-b/canteen/main-hall", {"occupancy": 378, "queue_length": 12})
    wait_for_device(system, "darong-a", "parking_lot", "garage")
    wait_for_device(system, "darong-b", "canteen", "main-hall")
    raised = system.store.raise_alert(
        NewAlert("aed-in-use", "critical", "darong-c", "aed", "aed-c-1f-lobby", "AED in use", "in_use", {}),
        dt.datetime.now(dt.UTC),
    )
    assert raised is not None
    with console(browser, system, contract, path="#/buildings", reduced_motion=True) as page:
        tower_c = building(page, "darong-c")
        expect(page.locator(tower_c)).to_have_attribute("data-alarm", "true")
        path = page.locator(f"{tower_c} path")
        assert path.evaluate("(p) => getComputedStyle(p).animationName") == "none"
        assert path.evaluate("(p) => getComputedStyle(p).strokeDasharray") != "none"
        assert fill_of(page, tower_c) == CRITICAL_FILL
        # Free parking and canteen load at a glance, as the API counts them.
        expect(page.locator("#buildings-plan .plan-badge-parking text")).to_have_text("P 188")
        expect(page.locator("#buildings-plan .plan-badge-canteen text")).to_have_text("餐 90%")
        expect(page.locator(building(page, "darong-a"))).to_have_attribute(
            "aria-label", re.compile("空位 188/600")
        )
        # Every building is reachable with Tab, and Enter opens it.
        page.locator(building(page, "darong-a")).focus()
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.dataset.building")
        assert focused == "darong-c"
        page.keyboard.press("Enter")
        expect(page).to_have_url(re.compile(r"#/building/darong-c$"))
        # Tower A's floor list: the garage, then its two levels of spaces as one row each.
        page.goto(f"{system.url}/dashboard?lang=en#/building/darong-a")
        expect(page.locator("#floor-list section.floor")).to_have_count(4)
        spaces = page.locator('#floor-list section[data-floor="B2"] tr[data-kind="parking_space"]')
        expect(spaces).to_have_attribute("data-count", "300")
        expect(spaces.locator("td").nth(1)).to_have_text("300 parking spaces")
        expect(spaces.locator("td").nth(3)).to_have_text("silent 300")  # nothing has reported
        garage = page.locator('#floor-list section[data-floor="B1-B2"] tr[data-device="garage"]')
        expect(garage.locator("td").nth(3)).to_have_text("ok · 412 / 600")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_wall_mode_shows_fifteen_rows_without_inputs_and_the_plan_and_says_when_data_is_stale(
    browser: Browser, system: WebApi, contract: ApiContract, lang: str
) -> None:
    raise_alerts(system, 24)
    critical = system.store.raise_alert(
        NewAlert(
            "aed-cabinet-open",
            "critical",
            "darong-b",
            "aed",
            "aed-b-1f-lobby",
            "AED cabinet opened",
            True,
            {},
        ),
        dt.datetime.now(dt.UTC),
    )
    assert critical is not None
    with console(browser, system, contract, viewport=WALL, lang=lang, path="&view=wall#/alerts") as page:
        rows = page.locator("#alert-list > li")
        expect(rows).to_have_count(25)
        expect(page.locator("body")).to_have_class(re.compile(r"\bwall\b"))
        # Dark: the page's ground is dark, its text light.
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(11, 15, 20)"
        # At least 15 whole rows on the 1920x1080 screen, the red banner included.
        expect(page.locator("#banner")).to_be_visible()
        whole = page.evaluate(
            "[...document.querySelectorAll('#alert-list > li')].filter((li) => li.getBoundingClientRect().bottom <= innerHeight).length"
        )
        assert whole >= 15, whole
        # Large type for what happened, readable across the room.
        size = page.locator("#alert-list > li .summary").first.evaluate(
            "(a) => parseFloat(getComputedStyle(a).fontSize)"
        )
        assert size >= 24, size
        # No input box until a row is chosen.
        visible_inputs = "input:visible, select:visible, textarea:visible"
        expect(page.locator(visible_inputs)).to_have_count(0)
        # The plan beside the list, the critical alert's building flashing.
        plan = page.locator("#wall-plan svg.plan-svg")
        expect(plan).to_be_visible()
        expect(page.locator("#wall-plan a.plan-building")).to_have_count(17)
        expect(page.locator(building(page, "darong-b", "#wall-plan"))).to_have_attribute("data-alarm", "true")
        list_box = page.locator("#alert-list").bounding_box()
        plan_box = plan.bounding_box()
        assert list_box and plan_box and plan_box["x"] >= list_box["x"] + list_box["width"]
        screenshot(page, f"wall-{lang}")
        check_accessibility(page, f"wall {lang}")
        # Choosing a row (a click on it) shows its note box and buttons, and only its own.
        third = rows.nth(2)
        third.locator('[data-role="state"]').click()
        expect(third).to_have_attribute("data-chosen", "true")
        expect(third.locator("input.note")).to_be_visible()
        expect(page.locator(visible_inputs)).to_have_count(1)
        screenshot(page, f"wall-chosen-{lang}")
        check_accessibility(page, f"wall with a chosen row {lang}")
        page.keyboard.press("Escape")
        expect(page.locator(visible_inputs)).to_have_count(0)
        # The API goes away: the stale sign, large, and the colours grey.
        system.server.stop()
        outage = page.locator("#outage")
        expect(outage).to_be_visible(timeout=10_000)
        expect(page.locator("body")).to_have_attribute("data-stale", "true")
        expect(outage).to_contain_text("数据已过期" if lang == "zh" else "DATA STALE")
        expect(page.locator("#outage-since")).to_contain_text(re.compile(r"\d\d:\d\d"))
        assert outage.evaluate("(o) => parseFloat(getComputedStyle(o).fontSize)") >= 30
        assert page.evaluate("getComputedStyle(document.querySelector('main')).filter") == "grayscale(1)"
        screenshot(page, f"wall-stale-{lang}")
        check_accessibility(page, f"wall stale {lang}")


def test_wall_mode_is_kept_in_the_url_across_the_language_switch_and_left_by_its_toggle(
    browser: Browser, system: WebApi, contract: ApiContract
) -> None:
    with console(browser, system, contract, viewport=WALL, path="&view=wall#/alerts") as page:
        expect(page.locator("#wall-side")).to_be_visible()
        page.locator("#lang-switch").click()
        expect(page).to_have_url(re.compile(r"\?lang=en&view=wall#/alerts$"))
        expect(page.locator("body")).to_have_class(re.compile(r"\bwall\b"))
        expect(page.locator("#wall-toggle")).to_have_text("Leave wall mode")
        expect(page.locator("#wall-side")).to_be_visible(timeout=10_000)
        page.locator("#wall-toggle").click()
        expect(page).to_have_url(re.compile(r"\?view=desk#/alerts$"))
        expect(page.locator("body")).not_to_have_class(re.compile(r"\bwall\b"))
        expect(page.locator("#wall-side")).to_be_hidden()
    # The page itself is a plain shell either way.
    assert httpx.get(f"{system.url}/dashboard?view=wall", timeout=10).status_code == 200
    assert httpx.get(f"{system.url}/dashboard?view=ceiling", timeout=10).status_code == 422
