"""A whole AED incident in two real browsers at once: the patrol on a 390x844 touch phone
(`/patrol`) and the operator on a 1920x1080 wall (`/dashboard`), from the cabinet's message on a
real mosquitto, through the real rules engine, alert store and notifier (paging the `patrol`
handset over MQTT), to the AED back in its cabinet and the closing note. Each asserts what it
sees and when; every request both pages make is checked against the OpenAPI document.

Also: the response times the API computes from a scripted incident (times set in the store) as
both pages show them, and a drill marked as one on both. zh and en; screenshots in
test-artifacts/web/screens/.
"""

# ruff: noqa: RUF001  (full-width punctuation is correct in the Chinese texts checked here)

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine

from api.roles import Role
from api.tokens import TokenStore
from collector.broker import BrokerTarget
from collector.registry import Registry
from louyu.testing.services import Mosquitto
from rules.notify.config import load_routing
from rules.notify.service import NotifierService
from rules.store import NewAlert
from tests.web.browsing import DESKTOP, PHONE, WALL, check_accessibility, publish, screenshot, sign_in
from tests.web.conftest import ARTIFACTS, WebApi
from tests.web.contract import ApiContract

pytestmark = [pytest.mark.browser, pytest.mark.integration]

TOPIC = "louyu/darong-b/aed/aed-b-1f-lobby"
OPEN = {"state": "ready", "cabinet_open": True}
IN_USE = {"state": "in_use", "cabinet_open": True}
BACK = {"state": "ready", "cabinet_open": False}
# The quick note the patrol taps to acknowledge, in the phone's language.
ACK_NOTE = {"zh": "收到，正在前往", "en": "Got it, on my way"}


@contextmanager
def notifier(engine: Engine, registry: Registry, mosquitto: Mosquitto) -> Iterator[None]:
    """The real notifier with the packaged routing file: critical alerts page the `patrol`
    handset over MQTT on the same broker."""
    service = NotifierService(
        load_routing(), registry, engine, BrokerTarget("127.0.0.1", mosquitto.port), poll_s=0.05
    )
    service.start()
    try:
        yield
    finally:
        service.stop()


@contextmanager
def two_screens(
    browser: Browser, web: WebApi, contract: ApiContract, patrol_token: str, phone_lang: str, wall_lang: str
) -> Iterator[tuple[Page, Page]]:
    """The patrol's phone and the operator's wall, both signed in, open at the same time."""
    phone_ctx = browser.new_context(
        viewport=PHONE, has_touch=True, is_mobile=True, locale="zh-CN" if phone_lang == "zh" else "en-GB"
    )
    wall_ctx = browser.new_context(viewport=WALL, locale="zh-CN" if wall_lang == "zh" else "en-GB")
    errors: list[str] = []
    try:
        pages = []
        for context in (phone_ctx, wall_ctx):
            contract.attach(context, web.url)
            page = context.new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            pages.append(page)
        phone, wall = pages
        phone.goto(f"{web.url}/patrol?lang={phone_lang}")
        phone.locator("#token").fill(patrol_token)
        phone.locator("#signin-form button[type=submit]").tap()
        expect(phone.locator("#live")).to_have_attribute("data-state", "connected", timeout=10_000)
        sign_in(wall, web, Role.OPERATOR, wall_lang)
        yield phone, wall
        assert errors == [], errors
    finally:
        phone_ctx.close()
        wall_ctx.close()


def seen_within(check: Page, selector: str, since: float, timeout: float = 10.0) -> float:
    """Seconds from `since` until `selector` is visible on the page."""
    check.locator(selector).first.wait_for(state="visible", timeout=timeout * 1000)
    return time.monotonic() - since


@pytest.mark.parametrize(("phone_lang", "wall_lang"), [("zh", "en"), ("en", "zh")])
def test_a_whole_incident_on_the_patrols_phone_and_the_operators_wall_at_once(
    browser: Browser,
    system: WebApi,
    contract: ApiContract,
    mosquitto: Mosquitto,
    engine: Engine,
    registry: Registry,
    phone_lang: str,
    wall_lang: str,
) -> None:
    # The packaged routing file pages the receiver `patrol`; a token of that name stands for it.
    patrol_token = TokenStore(engine).create("patrol", Role.PATROL, dt.datetime.now(dt.UTC))[1]
    figures: list[str] = []
    with (
        notifier(engine, registry, mosquitto),
        two_screens(browser, system, contract, patrol_token, phone_lang, wall_lang) as (phone, wall),
    ):
        # 1. The cabinet opens.
        published = time.monotonic()
        publish(mosquitto, TOPIC, OPEN)
        to_phone = seen_within(phone, '#mine-list > li[data-severity="critical"]', published)
        to_wall = seen_within(wall, '#alert-list > li[data-severity="critical"]', published)
        figures.append(f"cabinet open published -> phone card {to_phone:.2f} s, wall row {to_wall:.2f} s")
        card = phone.locator("#mine-list > li").first
        expect(card).to_have_attribute("data-mine", "called")
        expect(phone.locator("#banner")).to_be_visible()
        expect(wall.locator("#banner")).to_be_visible()
        [alert] = system.store.list_alerts(state=["firing"])[0]
        incident_id = alert.id
        card = phone.locator(f'#mine-list > li[data-id="{incident_id}"]')
        # The incident (grouping is the server's) is linked from its alert on both screens.
        expect(card).to_have_attribute("data-incident", str(incident_id), timeout=5_000)
        row = wall.locator(f'#alert-list > li[data-id="{incident_id}"]')
        expect(row).to_have_attribute("data-incident", str(incident_id), timeout=5_000)

        # 2. The operator opens the incident on the wall: where, the AED open, paged, not acknowledged,
        # the escalation counting down (the shipped rules escalate a critical alert after 5 minutes).
        row.locator('[data-role="incident"]').click()
        view = wall.locator("#view-incident")
        expect(view).to_have_attribute("data-id", str(incident_id))
        expect(view.locator('[data-role="where"]')).to_contain_text("1F")
        expect(view.locator('[data-role="stages"]')).to_have_attribute("data-stage", "open")
        escalation = view.locator('[data-role="escalation"]')
        expect(escalation).to_have_text(re.compile(r"[0-4]:[0-5]\d"))
        left = int(escalation.get_attribute("data-left") or "0")
        wall.wait_for_timeout(1_100)
        assert int(escalation.get_attribute("data-left") or "0") < left  # it counts down
        delivered = view.locator('[data-role="deliveries"] li[data-receiver="patrol"][data-channel="mqtt"]')
        expect(delivered.first).to_have_attribute("data-status", "delivered", timeout=10_000)
        screenshot(wall, f"incident-open-wall-{wall_lang}")
        check_accessibility(wall, f"incident view wall {wall_lang}")

        # 3. The patrol acknowledges with a note in two taps; the wall sees it live.
        tapped = time.monotonic()
        card.locator('[data-action="ack"]').tap()
        phone.locator("#ack-sheet .preset").first.tap()
        expect(view.locator('[data-role="ack"]')).to_contain_text("patrol", timeout=10_000)
        figures.append(
            f"patrol's second tap (ack) -> wall shows who acknowledged {time.monotonic() - tapped:.2f} s"
        )
        expect(escalation).to_have_count(0)
        expect(card).to_have_attribute("data-state", "acknowledged")

        # 4. "On my way" in two taps from the list: Respond, then the step.
        card.locator('[data-action="incident"]').tap()
        phone_view = phone.locator("#view-incident")
        expect(phone_view).to_have_attribute("data-id", str(incident_id))
        expect(phone_view.locator('[data-role="stages"]')).to_have_attribute("data-stage", "open")
        tapped = time.monotonic()
        phone_view.locator('button[data-step="en_route"]').tap()
        expect(view.locator('[data-role="timeline"] [data-event="en_route"]')).to_contain_text(
            "patrol", timeout=10_000
        )
        figures.append(f"'on my way' tapped -> on the wall's timeline {time.monotonic() - tapped:.2f} s")
        # The operator's steps are not the patrol's to press.
        expect(phone_view.locator('button[data-step="handed_over"]')).to_have_count(0)
        screenshot(phone, f"incident-en-route-phone-{phone_lang}")
        check_accessibility(phone, f"incident view phone {phone_lang}")

        # 5. Another cabinet opens at Tower C (another incident, newer than Tower B's acknowledged
        # alert); then Tower B's AED is taken out and used: a second alert of Tower B's incident.
        publish(mosquitto, "louyu/darong-c/aed/aed-c-1f-lobby", OPEN)
        expect(wall.locator('#alert-list > li[data-severity="critical"]')).to_have_count(2, timeout=10_000)
        published = time.monotonic()
        publish(mosquitto, TOPIC, IN_USE)
        expect(view.locator('[data-role="stages"]')).to_have_attribute("data-stage", "in_use", timeout=10_000)
        expect(phone_view.locator('[data-role="stages"]')).to_have_attribute(
            "data-stage", "in_use", timeout=10_000
        )
        figures.append(f"in use published -> both screens show it {time.monotonic() - published:.2f} s")
        expect(view.locator('[data-role="incident-alerts"] > li')).to_have_count(2)
        # By priority Tower C's firing alert would sit between Tower B's two (in use firing, cabinet
        # acknowledged): both lists keep an incident's alerts together, none hidden.
        for page, rows in ((wall, "#alert-list > li"), (phone, "#mine-list > li")):
            expect(page.locator(f'{rows}[data-incident="{incident_id}"]')).to_have_count(2, timeout=5_000)
            order = page.locator(rows).evaluate_all("(n) => n.map((r) => r.dataset.incident || '')")
            assert len(order) == 3, order
            at = [i for i, v in enumerate(order) if v == str(incident_id)]
            assert at[1] - at[0] == 1, order
        phone_view.locator('button[data-step="on_site"]').tap()
        expect(view.locator('[data-role="timeline"] [data-event="on_site"]')).to_be_visible(timeout=10_000)

        # 6. The operator records the hand-over to the ambulance; the patrol's phone shows it.
        view.locator('button[data-step="handed_over"]').click()
        expect(phone_view.locator('[data-role="steps"] [data-step="handed_over"]')).to_be_visible(
            timeout=10_000
        )
        screenshot(wall, f"incident-in-use-wall-{wall_lang}")

        # 7. The AED is back in its cabinet: the incident closes on both screens.
        published = time.monotonic()
        publish(mosquitto, TOPIC, BACK)
        expect(view).to_have_attribute("data-state", "closed", timeout=10_000)
        expect(phone_view).to_have_attribute("data-state", "closed", timeout=10_000)
        figures.append(f"back published -> both screens closed {time.monotonic() - published:.2f} s")
        expect(view.locator('[data-role="stages"]')).to_have_attribute("data-stage", "back")
        expect(phone_view.locator('[data-role="stages"]')).to_have_attribute("data-stage", "back")
        for name in ("time_to_ack_s", "time_to_site_s", "time_to_return_s"):
            expect(view.locator(f'[data-timing="{name}"]')).to_have_text(re.compile(r"\d"))
        # Closed: no more steps for the patrol.
        expect(phone_view.locator('button[data-step="en_route"]')).to_have_count(0)
        view.locator("#closing-note").fill("患者已送医 / patient taken to hospital")
        view.locator('button[data-step="closing_note"]').click()
        expect(phone_view.locator('[data-role="timeline"] [data-event="closing_note"]')).to_contain_text(
            "patient taken to hospital", timeout=10_000
        )
        screenshot(wall, f"incident-closed-wall-{wall_lang}")
        screenshot(phone, f"incident-closed-phone-{phone_lang}", full_page=True)
        check_accessibility(wall, f"incident closed wall {wall_lang}")
        check_accessibility(phone, f"incident closed phone {phone_lang}")

    with system.client(Role.OPERATOR) as client:
        incident = client.get(f"/api/v1/incidents/{incident_id}").json()
    assert [s["step"] for s in incident["steps"]] == ["en_route", "on_site", "handed_over", "closing_note"]
    assert [s["by"] for s in incident["steps"]][:2] == ["patrol", "patrol"]
    assert incident["acknowledged_by"] == "patrol"
    assert any(
        e["event"] == "acknowledged" and e["note"] == ACK_NOTE[phone_lang] for e in incident["timeline"]
    )
    timings = incident["timings"]
    assert 0 < timings["time_to_ack_s"] < timings["time_to_site_s"] < timings["time_to_return_s"]
    assert contract.calls("/api/v1/incidents/{incident_id}/steps", "POST") == 4
    (ARTIFACTS / f"incident-figures-{phone_lang}.txt").write_text(
        "\n".join(figures) + f"\nAPI timings: {timings}\n"
    )


def scripted(web: WebApi, t0: dt.datetime) -> int:
    """An incident with set times: opened at t0, acknowledged at +42 s, on my way at +60 s, on
    site at +155 s, the AED in use at +170 s, back at +612 s."""
    opened = web.store.raise_alert(
        NewAlert(
            "aed-cabinet-open",
            "critical",
            "darong-b",
            "aed",
            "aed-b-1f-lobby",
            "AED cabinet opened",
            True,
            {"floor": "1F"},
        ),
        t0,
    )
    assert opened is not None
    first = opened.alert.id
    at = lambda s: t0 + dt.timedelta(seconds=s)  # noqa: E731
    web.store.acknowledge(first, "patrol", "on my way", at(42))
    web.store.record(first, "en_route", "patrol", None, at(60))
    web.store.record(first, "on_site", "patrol", "patient breathing", at(155))
    in_use = web.store.raise_alert(
        NewAlert("aed-in-use", "critical", "darong-b", "aed", "aed-b-1f-lobby", "AED in use", "in_use", {}),
        at(170),
    )
    assert in_use is not None
    web.store.resolve(first, None, None, at(600))  # type: ignore[arg-type]
    web.store.resolve(in_use.alert.id, None, None, at(612))  # type: ignore[arg-type]
    return first


EXPECTED = {
    "zh": {"time_to_ack_s": "42 秒", "time_to_site_s": "2 分 35 秒", "time_to_return_s": "10 分 12 秒"},
    "en": {"time_to_ack_s": "42 s", "time_to_site_s": "2 min 35 s", "time_to_return_s": "10 min 12 s"},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_response_times_of_a_scripted_incident_as_both_screens_show_them(
    browser: Browser, system: WebApi, contract: ApiContract, engine: Engine, lang: str
) -> None:
    first = scripted(system, dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    with system.client(Role.PATROL) as client:
        timings = client.get(f"/api/v1/incidents/{first}").json()["timings"]
    assert timings == {"time_to_ack_s": 42.0, "time_to_site_s": 155.0, "time_to_return_s": 612.0}
    patrol_token = TokenStore(engine).create("patrol", Role.PATROL, dt.datetime.now(dt.UTC))[1]
    with two_screens(browser, system, contract, patrol_token, lang, lang) as (phone, wall):
        for page, size in ((phone, "phone"), (wall, "wall")):
            page.goto(
                f"{system.url}/{'patrol' if page is phone else 'dashboard'}?lang={lang}#/incident/{first}"
            )
            view = page.locator("#view-incident")
            expect(view).to_have_attribute("data-state", "closed")
            expect(view).not_to_contain_text("null")
            expect(view).not_to_contain_text("undefined")
            for name, text in EXPECTED[lang].items():
                expect(view.locator(f'[data-timing="{name}"]')).to_have_text(text)
            # The timeline tells the script in its order.
            events = view.locator('[data-role="timeline"] > li').evaluate_all(
                "(n) => n.map((e) => e.dataset.event)"
            )
            assert events == [
                "raised",
                "acknowledged",
                "en_route",
                "on_site",
                "raised",
                "resolved",
                "resolved",
            ]
            screenshot(page, f"incident-timings-{size}-{lang}", full_page=True)
            check_accessibility(page, f"incident timings {size} {lang}")
    # The third size: an operator's desktop.
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN" if lang == "zh" else "en-GB")
    contract.attach(context, system.url)
    try:
        page = context.new_page()
        sign_in(page, system, Role.OPERATOR, lang, f"#/incident/{first}")
        view = page.locator("#view-incident")
        expect(view.locator('[data-timing="time_to_site_s"]')).to_have_text(EXPECTED[lang]["time_to_site_s"])
        screenshot(page, f"incident-timings-desktop-{lang}", full_page=True)
        check_accessibility(page, f"incident timings desktop {lang}")
    finally:
        context.close()


def test_a_drill_is_marked_as_a_drill_on_both_screens(
    browser: Browser, system: WebApi, contract: ApiContract, mosquitto: Mosquitto, engine: Engine
) -> None:
    patrol_token = TokenStore(engine).create("patrol", Role.PATROL, dt.datetime.now(dt.UTC))[1]
    with two_screens(browser, system, contract, patrol_token, "zh", "en") as (phone, wall):
        publish(mosquitto, TOPIC, {**OPEN, "drill": True})
        card = phone.locator('#mine-list > li[data-severity="critical"]')
        expect(card.locator('[data-role="drill"]')).to_have_text("演练 · 非真实事件", timeout=10_000)
        row = wall.locator('#alert-list > li[data-severity="critical"]')
        expect(row.locator('[data-role="incident"]')).to_contain_text("DRILL", timeout=10_000)
        row.locator('[data-role="incident"]').click()
        expect(wall.locator('#view-incident [data-role="drill"]')).to_have_text(
            "DRILL · not a real emergency"
        )
        card.locator('[data-action="incident"]').tap()
        expect(phone.locator('#view-incident [data-role="drill"]')).to_be_visible()
        screenshot(phone, "incident-drill-phone-zh")
        screenshot(wall, "incident-drill-wall-en")
        check_accessibility(phone, "drill phone")
        check_accessibility(wall, "drill wall")
