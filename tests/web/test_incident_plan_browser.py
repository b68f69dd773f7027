"""The AED incident's place on the site plan, in a real headless Chromium against the real API
(uvicorn, SQLite alert store, mosquitto and the rules engine): the incident view draws the plan
with the incident's building highlighted and its cabinet ringed at the registry's position, next
to the building, floor and location text. Every request is checked against the OpenAPI document;
axe-core (WCAG 2.1 AA) and our contrast check; screenshots of the incident view at 1920x1080,
1366x768 and 390x844, in zh and en, in test-artifacts/web/screens/.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine

from api.roles import Role
from api.tokens import TokenStore
from rules.store import NewAlert
from tests.web.browsing import SIZES, check_accessibility, screenshot, sign_in
from tests.web.conftest import WebApi
from tests.web.contract import ApiContract

pytestmark = [pytest.mark.browser, pytest.mark.integration]

BUILDING = "darong-b"
DEVICE = "aed-b-1f-lobby"
MARGIN_M = 12  # site_plan.js draws the bounds with this margin, north up


def open_incident(web: WebApi) -> int:
    """An AED cabinet opened at Tower B's lobby a minute ago: an open incident."""
    raised = web.store.raise_alert(
        NewAlert(
            "aed-cabinet-open",
            "critical",
            BUILDING,
            "aed",
            DEVICE,
            "AED cabinet opened",
            True,
            {"floor": "1F"},
        ),
        dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
    )
    assert raised is not None
    return raised.alert.id


def expected_centre(web: WebApi) -> tuple[float, float]:
    """Where the plan must draw the cabinet: its registry position, as the API gives it, in the
    SVG's frame (metres from the bounds' west and north edges plus the margin)."""
    with web.client(Role.OPERATOR) as client:
        site: dict[str, Any] = client.get("/api/v1/site").json()
    [place] = [p for p in site["places"] if p["building"] == BUILDING and p["device"] == DEVICE]
    min_x, _, _, max_y = site["bounds"]
    x, y = place["position"]
    return x - min_x + MARGIN_M, max_y - y + MARGIN_M


def ring_of(page: Page) -> dict[str, Any]:
    ring: dict[str, Any] = page.locator(
        "#view-incident .plan-aed[data-marked='true'] circle.plan-ring-still"
    ).evaluate(
        """(c) => {
            const building = document.querySelector(
                '#view-incident .plan-building[data-building="darong-b"] path').getBBox();
            return {cx: Number(c.getAttribute('cx')), cy: Number(c.getAttribute('cy')),
                    inside: c.cx.baseVal.value >= building.x && c.cx.baseVal.value <= building.x + building.width
                        && c.cy.baseVal.value >= building.y && c.cy.baseVal.value <= building.y + building.height};
        }"""
    )
    return ring


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_incident_view_shows_its_cabinet_ringed_on_the_site_plan(
    browser: Browser, system: WebApi, contract: ApiContract, lang: str
) -> None:
    incident = open_incident(system)
    cx, cy = expected_centre(system)
    errors: list[str] = []
    for size, viewport in SIZES.items():
        context = browser.new_context(viewport=viewport, locale="zh-CN" if lang == "zh" else "en-GB")
        contract.attach(context, system.url)
        try:
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            sign_in(page, system, Role.OPERATOR, lang, f"#/incident/{incident}")
            view = page.locator("#view-incident")
            expect(view).to_have_attribute("data-id", str(incident))
            place = view.locator(".inc-place")
            expect(place.locator('[data-role="where"]')).to_contain_text("1F")
            # The plan is in the same part as the text, the whole site drawn, one building highlighted.
            expect(place.locator("svg.plan-svg a.plan-building")).to_have_count(17)
            expect(place.locator('a.plan-building[data-highlight="true"]')).to_have_count(1)
            expect(place.locator(f'a.plan-building[data-building="{BUILDING}"]')).to_have_attribute(
                "data-highlight", "true"
            )
            # Exactly one AED marked, the incident's, at its registry position inside its building.
            marked = place.locator('.plan-aed[data-marked="true"]')
            expect(marked).to_have_count(1)
            expect(marked).to_have_attribute("data-device", DEVICE)
            expect(marked).to_have_attribute("data-building", BUILDING)
            ring = ring_of(page)
            assert ring["cx"] == pytest.approx(cx, abs=0.06) and ring["cy"] == pytest.approx(cy, abs=0.06)
            assert ring["inside"], ring
            # The ring pulses; the plan says in words which AED it marks.
            pulse = marked.locator("circle.plan-ring")
            assert pulse.evaluate("(c) => getComputedStyle(c).animationName") == "plan-ring"
            description = place.locator("svg.plan-svg desc").text_content() or ""
            assert ("本事件的 AED" if lang == "zh" else "this incident's AED") in description
            assert "1F" in description
            if size == "desktop":
                # A step re-renders the view: the plan is carried over as drawn, not fetched again.
                sites = contract.calls("/api/v1/site", "GET")
                place.locator("svg.plan-svg").evaluate("(s) => { s.dataset.before = 'yes'; }")
                view.locator('button[data-step="en_route"]').click()
                expect(view.locator('[data-role="steps"] li[data-step="en_route"]')).to_have_count(1)
                expect(place.locator("svg.plan-svg")).to_have_attribute("data-before", "yes")
                expect(marked).to_have_count(1)
                assert contract.calls("/api/v1/site", "GET") == sites
            screenshot(page, f"incident-plan-{size}-{lang}", full_page=size == "phone")
            check_accessibility(page, f"incident plan {size} {lang}")
            assert errors == [], errors
        finally:
            context.close()
    assert contract.calls("/api/v1/site", "GET") >= 3


def test_without_motion_the_ring_stands_still(
    browser: Browser, system: WebApi, contract: ApiContract
) -> None:
    incident = open_incident(system)
    context = browser.new_context(viewport=SIZES["desktop"], reduced_motion="reduce")
    contract.attach(context, system.url)
    try:
        page = context.new_page()
        sign_in(page, system, Role.OPERATOR, "en", f"#/incident/{incident}")
        marked = page.locator('#view-incident .plan-aed[data-marked="true"]')
        expect(marked).to_have_count(1)
        assert (
            marked.locator("circle.plan-ring").evaluate("(c) => getComputedStyle(c).animationName") == "none"
        )
        expect(marked.locator("circle.plan-ring")).to_be_hidden()
        still = marked.locator("circle.plan-ring-still")
        assert float(still.evaluate("(c) => parseFloat(getComputedStyle(c).strokeWidth)")) >= 3
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_patrols_phone_shows_the_cabinet_on_the_plan_without_links_it_cannot_follow(
    browser: Browser, system: WebApi, contract: ApiContract, engine: Engine, lang: str
) -> None:
    incident = open_incident(system)
    cx, cy = expected_centre(system)
    token = TokenStore(engine).create("patrol", Role.PATROL, dt.datetime.now(dt.UTC))[1]
    context = browser.new_context(
        viewport=SIZES["phone"], has_touch=True, is_mobile=True, locale="zh-CN" if lang == "zh" else "en-GB"
    )
    contract.attach(context, system.url)
    try:
        page = context.new_page()
        page.goto(f"{system.url}/patrol?lang={lang}#/incident/{incident}")
        page.locator("#token").fill(token)
        page.locator("#signin-form button[type=submit]").tap()
        view = page.locator("#view-incident")
        expect(view).to_have_attribute("data-id", str(incident))
        plan = view.locator(".inc-place svg.plan-svg")
        # The phone has no building view: the buildings are labelled images, not links.
        expect(plan.locator('g.plan-building[role="img"]')).to_have_count(17)
        expect(plan.locator("a")).to_have_count(0)
        expect(plan.locator(f'g.plan-building[data-building="{BUILDING}"]')).to_have_attribute(
            "data-highlight", "true"
        )
        ring = ring_of(page)
        assert ring["cx"] == pytest.approx(cx, abs=0.06) and ring["cy"] == pytest.approx(cy, abs=0.06)
        screenshot(page, f"incident-plan-patrol-phone-{lang}", full_page=True)
        check_accessibility(page, f"incident plan patrol phone {lang}")
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_incident_view_in_wall_mode_shows_the_ringed_cabinet(
    browser: Browser, system: WebApi, contract: ApiContract, lang: str
) -> None:
    incident = open_incident(system)
    context = browser.new_context(viewport=SIZES["wall"], locale="zh-CN" if lang == "zh" else "en-GB")
    contract.attach(context, system.url)
    try:
        page = context.new_page()
        sign_in(page, system, Role.OPERATOR, lang, f"&view=wall#/incident/{incident}")
        view = page.locator("#view-incident")
        expect(view).to_have_attribute("data-id", str(incident))
        marked = view.locator('.inc-place .plan-aed[data-marked="true"]')
        expect(marked).to_have_count(1)
        expect(marked).to_have_attribute("data-device", DEVICE)
        assert page.evaluate("document.body.classList.contains('wall')")
        screenshot(page, f"incident-plan-wallmode-{lang}")
        check_accessibility(page, f"incident plan wall mode {lang}")
    finally:
        context.close()
