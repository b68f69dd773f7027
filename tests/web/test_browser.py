"""The dashboard and the board in a real headless Chromium, against the real system: mosquitto, the
rules engine fed by it, the alert store, and the API (with its own MQTT feed) serving the pages.

Screenshots go to test-artifacts/web/.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from playwright.sync_api import Browser, ViewportSize, expect

from api.roles import Role
from louyu.testing.services import Mosquitto
from tests.web.browsing import PHONE, WALL, check_accessibility, publish, sign_in, wait_for_device
from tests.web.conftest import ARTIFACTS, WebApi

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_alert_arrives_live_is_acknowledged_by_keyboard_and_resolved(
    browser: Browser, system: WebApi, mosquitto: Mosquitto
) -> None:
    patrol_ctx = browser.new_context(viewport=PHONE, locale="zh-CN")
    operator_ctx = browser.new_context(viewport=WALL, locale="zh-CN")
    patrol, operator = patrol_ctx.new_page(), operator_ctx.new_page()
    errors: list[str] = []
    for page in (patrol, operator):
        page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        sign_in(patrol, system, Role.PATROL)
        sign_in(operator, system, Role.OPERATOR)
        expect(patrol.locator("#alert-empty")).to_be_visible()
        expect(patrol.locator("#whoami")).to_contain_text("巡查")
        check_accessibility(operator, "dashboard, signed in")

        # A sensor opens the AED cabinet: MQTT -> rules engine -> store -> SSE -> both screens.
        published = time.monotonic()
        publish(mosquitto, "louyu/darong-b/aed/aed-b-1f-lobby", {"state": "ready", "cabinet_open": True})
        row = patrol.locator('#alert-list li[data-severity="critical"]')
        expect(row).to_be_visible(timeout=10_000)
        latency = time.monotonic() - published
        expect(operator.locator('#alert-list li[data-severity="critical"]')).to_be_visible(timeout=10_000)
        expect(row).to_have_attribute("data-state", "firing")
        expect(row.locator(".summary")).not_to_be_empty()
        banner = patrol.locator("#banner")
        expect(banner).to_be_visible()
        expect(patrol.locator("#banner-text")).to_contain_text("aed-b-1f-lobby")
        expect(patrol.locator("body")).to_have_attribute("data-beeps", "1")
        expect(patrol.locator("#alert-count")).to_have_text("1")
        # What the role may do decides the buttons: a patrol acknowledges but does not resolve.
        expect(row.locator('[data-action="ack"]')).to_be_visible()
        expect(row.locator('[data-action="resolve"]')).to_have_count(0)
        expect(operator.locator('#alert-list li [data-action="resolve"]')).to_be_visible()
        patrol.screenshot(path=str(ARTIFACTS / "dashboard-alert-phone.png"), full_page=True)
        operator.screenshot(path=str(ARTIFACTS / "dashboard-alert-wall.png"))
        check_accessibility(patrol, "dashboard with a critical alert")

        # Keyboard only: into the note, type, Tab to the ack button, Enter.
        note = row.locator("input.note")
        note.focus()
        patrol.keyboard.type("到达现场")
        patrol.keyboard.press("Tab")
        focused = patrol.evaluate("document.activeElement.dataset.action")
        assert focused == "ack"
        patrol.keyboard.press("Enter")
        expect(row).to_have_attribute("data-state", "acknowledged", timeout=10_000)
        expect(row.locator('[data-role="state"]')).to_have_text("已确认")
        expect(row.locator('[data-action="ack"]')).to_have_count(0)
        expect(patrol.locator("#banner")).to_be_hidden()
        # The operator's screen follows through the event stream.
        op_row = operator.locator('#alert-list li[data-severity="critical"]')
        expect(op_row).to_have_attribute("data-state", "acknowledged", timeout=10_000)
        expect(op_row.locator(".meta")).to_contain_text("patrol-")

        [alert] = system.store.open_alerts()
        assert alert.rule == "aed-cabinet-open"
        assert alert.state == "acknowledged"
        assert alert.acknowledged_by is not None and alert.acknowledged_by.startswith("patrol")
        events = system.store.events(alert.id)
        assert [e.event for e in events] == ["raised", "acknowledged"]
        assert events[-1].note == "到达现场"

        # The operator resolves it with a note; it leaves the open list on both screens.
        op_row.locator("input.note").fill("cabinet closed, AED checked")
        op_row.locator('[data-action="resolve"]').click()
        # The cabinet still reports open: resolving needs the box ticked, not just a click.
        dialog = operator.locator("#confirm-dialog")
        expect(dialog).to_be_visible()
        expect(operator.locator("#confirm-warning")).to_be_visible()
        expect(operator.locator("#confirm-ok")).to_be_disabled()
        operator.locator("#confirm-check").check()
        operator.locator("#confirm-ok").click()
        expect(operator.locator("#alert-list li")).to_have_count(0, timeout=10_000)
        expect(patrol.locator("#alert-list li")).to_have_count(0, timeout=10_000)
        resolved = system.store.get(alert.id)
        assert resolved is not None and resolved.state == "resolved"
        assert system.store.events(alert.id)[-1].note == "cabinet closed, AED checked"
        operator.select_option("#f-state", "resolved")
        expect(operator.locator('#alert-list li[data-state="resolved"]')).to_have_count(1)

        # Language: English on request, still signed in (the token lives in the tab).
        patrol.locator("#lang-switch").click()
        expect(patrol.locator("nav.tabs a[data-view=alerts]")).to_contain_text("Alerts", timeout=10_000)
        expect(patrol.locator("html")).to_have_attribute("lang", "en")
        expect(patrol.locator("#whoami")).to_contain_text("patrol")
        publish(mosquitto, "louyu/darong-c/aed/aed-c-1f-lobby", {"state": "fault"})
        en_row = patrol.locator('#alert-list li[data-severity="major"]')
        expect(en_row).to_be_visible(timeout=10_000)
        expect(en_row.locator('[data-role="state"]')).to_have_text("firing")
        expect(en_row.locator('[data-action="ack"]')).to_have_text("Acknowledge")
        patrol.screenshot(path=str(ARTIFACTS / "dashboard-english-phone.png"), full_page=True)
        check_accessibility(patrol, "dashboard in English")
        assert errors == []
        (ARTIFACTS / "figures.txt").write_text(f"mqtt publish -> alert row on screen: {latency:.2f} s\n")
    finally:
        patrol_ctx.close()
        operator_ctx.close()


def test_buildings_and_device_detail(browser: Browser, system: WebApi, mosquitto: Mosquitto) -> None:
    publish(mosquitto, "louyu/darong-a/parking_lot/garage-b1", {"occupied": 250, "capacity": 300})
    publish(mosquitto, "louyu/darong-b/aed/aed-b-12f-lift", {"state": "ready", "pads_expiry": _soon(10)})
    publish(mosquitto, "louyu/darong-b/canteen/main-hall", {"occupancy": 300, "queue_length": 12})
    wait_for_device(system, "darong-b", "canteen", "main-hall")
    wait_for_device(system, "darong-a", "parking_lot", "garage-b1")
    wait_for_device(system, "darong-b", "aed", "aed-b-12f-lift")
    context = browser.new_context(viewport=WALL)
    page = context.new_page()
    try:
        sign_in(page, system, Role.VIEWER)
        page.get_by_role("link", name="楼宇").click()
        cards = page.locator("article.building")
        expect(cards).to_have_count(17)
        tower_a = cards.filter(has_text="大荣中心 A 座")
        expect(tower_a.locator('li[data-lot="garage-b1"]')).to_contain_text("50 空位 / 300")
        lift = page.locator('li[data-device="aed-b-12f-lift"]')
        expect(lift).to_have_attribute("data-flagged", "true")
        expect(lift).to_contain_text("电极片即将过期")
        expect(cards.filter(has_text="大荣中心 B 座")).to_contain_text("71%")
        page.screenshot(path=str(ARTIFACTS / "dashboard-buildings.png"))
        check_accessibility(page, "buildings")
        # A viewer sees no action buttons anywhere.
        page.locator('nav.tabs a[data-view="alerts"]').click()
        expect(page.locator("[data-action]")).to_have_count(0)
        # Device detail: latest reading (history needs InfluxDB; here it says so).
        page.goto(f"{system.url}/dashboard#/device/darong-b/canteen/main-hall")
        expect(page.locator("#device-latest")).to_contain_text("在场人数")
        expect(page.locator("#device-latest")).to_contain_text("300")
        expect(page.locator("#history-field option")).to_have_count(4)
        page.screenshot(path=str(ARTIFACTS / "dashboard-device.png"))
        check_accessibility(page, "device detail")
    finally:
        context.close()


def test_public_board_without_a_token(browser: Browser, system: WebApi, mosquitto: Mosquitto) -> None:
    publish(
        mosquitto, "louyu/darong-b/canteen/main-hall", {"occupancy": 378, "capacity": 420, "queue_length": 35}
    )
    publish(mosquitto, "louyu/darong-a/parking_lot/garage-b2", {"occupied": 280})
    wait_for_device(system, "darong-b", "canteen", "main-hall")
    wait_for_device(system, "darong-a", "parking_lot", "garage-b2")
    for viewport, name in ((WALL, "board-lobby.png"), (PHONE, "board-phone.png")):
        _check_board(browser, system, viewport, name)


def _check_board(browser: Browser, system: WebApi, viewport: ViewportSize, name: str) -> None:
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(f"{system.url}/board")
        expect(page.locator("body")).to_have_attribute("data-loaded", "true", timeout=10_000)
        expect(page.locator('[data-field="load"]')).to_have_text("90%")
        expect(page.locator(".canteen")).to_contain_text("378 / 420")
        expect(page.locator(".canteen")).to_contain_text("35")
        expect(page.locator('[data-lot="garage-b2"]')).to_contain_text("20")
        expect(page.locator('[data-field="best"]')).not_to_be_empty()
        page.screenshot(path=str(ARTIFACTS / name), full_page=True)
        check_accessibility(page, f"board {name}")
        # Everything from the API process itself: nothing from a CDN.
        assert requests and all(url.startswith(system.url) for url in requests), requests
        page.get_by_role("link", name="English").click()
        expect(page.locator("h1")).to_contain_text("Canteen and parking")
        expect(page.locator('[data-field="load"]')).to_have_text("90%")
    finally:
        context.close()


def _soon(days: int) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()
