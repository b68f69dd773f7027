"""Starting a drill from the console, in a real headless Chromium against the real pipeline: the
operator presses "Start drill" on an AED of the building view, the confirmation says it is a
drill, and the API (202) sends the cabinet's messages on a real mosquitto, where the real rules
engine raises the drill's alert; the console shows it as a drill, and its incident too. Lower
roles see no button. Every request is checked against the OpenAPI document; axe-core and our
contrast check with the dialog open; screenshots in test-artifacts/web/screens/.
"""

# ruff: noqa: RUF001  (full-width punctuation is correct in the Chinese texts checked here)

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from api.roles import Role
from tests.web.browsing import DESKTOP, PHONE, check_accessibility, screenshot, sign_in
from tests.web.conftest import WebApi
from tests.web.contract import ApiContract
from tests.web.test_incident_plan_browser import open_incident

pytestmark = [pytest.mark.browser, pytest.mark.integration]

BUILDING = "darong-b"
DEVICE = "aed-b-1f-lobby"
ROW = f'#floor-list tr[data-device="{DEVICE}"]'
SAYS = {
    "zh": {"button": "演练", "drill": "这是演练，不是真实事件", "mark": "演练"},
    "en": {"button": "Start drill", "drill": "This is a DRILL, not a real emergency", "mark": "DRILL"},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_operator_starts_a_drill_on_a_cabinet_and_it_runs_through_the_real_pipeline(
    browser: Browser, system: WebApi, contract: ApiContract, lang: str
) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN" if lang == "zh" else "en-GB")
    contract.attach(context, system.url)
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        sign_in(page, system, Role.OPERATOR, lang, f"#/building/{BUILDING}")
        button = page.locator(f'{ROW} button[data-action="drill"]')
        expect(button).to_have_text(SAYS[lang]["button"])
        # Every registered AED of the building has one; nothing else has.
        aeds = page.locator('#floor-list tr[data-kind="aed"]').count()
        assert aeds >= 1
        expect(page.locator('#floor-list button[data-action="drill"]')).to_have_count(aeds)

        # Cancel sends nothing.
        button.click()
        dialog = page.locator("#drill-dialog")
        expect(dialog).to_be_visible()
        expect(dialog.locator('button[value="cancel"]')).to_be_focused()
        dialog.locator('button[value="cancel"]').click()
        expect(dialog).to_be_hidden()
        expect(button).to_be_focused()
        assert contract.calls("/api/v1/drills", "POST") == 0

        # The confirmation says plainly that it is a drill, on which cabinet, where.
        button.click()
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text(SAYS[lang]["drill"])
        expect(dialog.locator('[data-role="drill-where"]')).to_contain_text(f"{BUILDING}/{DEVICE}")
        expect(dialog.locator('[data-role="drill-where"]')).to_contain_text("1F")
        screenshot(page, f"drill-confirm-desktop-{lang}")
        check_accessibility(page, f"drill confirmation {lang}")
        with page.expect_response(lambda r: r.url.endswith("/api/v1/drills")) as answer:
            dialog.locator('[data-role="drill-confirm"]').click()
        assert answer.value.status == 202
        assert answer.value.request.post_data_json == {
            "building": BUILDING,
            "device": DEVICE,
            "interval_s": 20,
        }
        assert contract.calls("/api/v1/drills", "POST") == 1

        # The console opens the building's alerts; the drill's alert arrives from the rules engine
        # on the stream, marked as a drill, with its incident.
        expect(page).to_have_url(f"{system.url}/dashboard?lang={lang}#/alerts?building={BUILDING}")
        row = page.locator('#alert-list > li[data-severity="critical"]')
        expect(row).to_have_count(1, timeout=10_000)
        expect(row.locator('[data-role="incident"]')).to_contain_text(SAYS[lang]["mark"], timeout=10_000)
        row.locator('[data-role="incident"]').click()
        view = page.locator("#view-incident")
        expect(view).to_have_attribute("data-drill", "true")
        expect(view.locator('[data-role="drill"]')).to_be_visible()
        expect(view.locator(f'.plan-aed[data-marked="true"][data-device="{DEVICE}"]')).to_have_count(1)
        screenshot(page, f"drill-incident-desktop-{lang}")
        check_accessibility(page, f"drill incident {lang}")
        assert errors == [], errors
    finally:
        context.close()

    # What the store holds: one drill incident on that cabinet, its alert labelled a drill.
    with system.client(Role.OPERATOR) as client:
        drills = client.get("/api/v1/incidents", params={"drill": "true"}).json()["items"]
        real = client.get("/api/v1/incidents", params={"drill": "false"}).json()["items"]
    assert [(i["building"], i["device"], i["drill"]) for i in drills] == [(BUILDING, DEVICE, True)]
    assert real == []


@pytest.mark.parametrize("role", [Role.VIEWER, Role.PATROL])
def test_lower_roles_see_no_drill_button(
    browser: Browser, system: WebApi, contract: ApiContract, role: Role
) -> None:
    context = browser.new_context(viewport=PHONE)
    contract.attach(context, system.url)
    try:
        page = context.new_page()
        sign_in(page, system, role, "en", f"#/building/{BUILDING}")
        expect(page.locator(ROW)).to_be_visible()
        expect(page.locator('#floor-list button[data-action="drill"]')).to_have_count(0)
    finally:
        context.close()


def test_a_drill_is_refused_over_a_real_incident_and_the_console_says_so(
    browser: Browser, system: WebApi, contract: ApiContract
) -> None:
    open_incident(system)  # a real cabinet opening at the same AED
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    contract.attach(context, system.url)
    try:
        page = context.new_page()
        sign_in(page, system, Role.OPERATOR, "en", f"#/building/{BUILDING}")
        page.locator(f'{ROW} button[data-action="drill"]').click()
        # The confirmation fits a phone, its buttons in reach.
        dialog = page.locator("#drill-dialog")
        expect(dialog).to_be_visible()
        box = dialog.bounding_box()
        assert box is not None and box["width"] <= PHONE["width"] and box["height"] <= PHONE["height"]
        for button in dialog.locator("button").all():
            assert (button.bounding_box() or {"height": 0})["height"] >= 44
        screenshot(page, "drill-confirm-phone-en")
        check_accessibility(page, "drill confirmation phone")
        with page.expect_response(lambda r: r.url.endswith("/api/v1/drills")) as answer:
            page.locator('#drill-dialog [data-role="drill-confirm"]').click()
        assert answer.value.status == 409
        expect(page.locator(f'{ROW} [data-role="drill-error"]')).to_have_text(
            "This cabinet has an open real incident: no drill over it."
        )
        expect(page).to_have_url(f"{system.url}/dashboard?lang=en#/building/{BUILDING}")
        screenshot(page, "drill-refused-phone-en", full_page=True)
        check_accessibility(page, "drill refused phone")
    finally:
        context.close()
    with system.client(Role.OPERATOR) as client:
        assert client.get("/api/v1/incidents", params={"drill": "true"}).json()["items"] == []
