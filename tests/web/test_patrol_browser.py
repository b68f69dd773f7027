"""The patrol's phone (`/patrol`) in a real headless Chromium, as a 390x844 touch screen, against
the real API (uvicorn, the SQLite alert store, the routing file's receivers). Every request the
page sends and every answer it reads is checked against the app's OpenAPI document.

What it promises: the alerts paged to this patrol first, every target at least 44 px, the banner on
one line, acknowledge with a note in two taps with the sheet under the thumb, and a phone that
locks and wakes gets every event it missed by the stream's replay (Last-Event-ID), not a reload.
Screenshots in zh and en go to test-artifacts/web/screens/.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect
from sqlalchemy import Engine

from api.roles import Role
from api.tokens import TokenStore
from rules.notify.config import RoutingConfig, parse_routing
from rules.store import NewAlert
from tests.web.browsing import PHONE, check_accessibility, screenshot
from tests.web.conftest import WebApi
from tests.web.contract import ApiContract

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Tower B's handset is carried by wang; every other tower's by li; the supervisor (zhao) is
# called on Tower B's alerts after five minutes.
ROUTES = """
receivers:
  - {name: patrol-b, mqtt: {}, people: [wang]}
  - {name: patrol-c, mqtt: {}, people: [li]}
  - {name: supervisor, mqtt: {}, people: [zhao]}
routes:
  - name: tower-b
    match: {building: darong-b, severity: [critical, major]}
    receivers: [patrol-b]
    escalate: [{after: 5m, receivers: [supervisor]}]
  - name: the-rest
    match: {severity: [critical, major]}
    receivers: [patrol-c]
"""
MIN_TARGET_PX = 44

# Every visible thing a finger may tap, with its size.
_TARGETS_JS = """
() => [...document.querySelectorAll('button, a[href], input:not([type=hidden]), select, summary')]
  .filter((n) => { const r = n.getBoundingClientRect(); const s = getComputedStyle(n);
                   return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && !n.closest('.visually-hidden'); })
  .map((n) => { const r = n.getBoundingClientRect();
                return {what: n.id || n.dataset.action || n.dataset.note || n.textContent.trim().slice(0, 30),
                        w: Math.round(r.width * 10) / 10, h: Math.round(r.height * 10) / 10}; })
"""


# A phone's screen going off and on, as the page sees it.
HIDE_JS = """() => {
  Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => window.__screen || 'visible'});
  window.__screen = 'hidden';
  document.dispatchEvent(new Event('visibilitychange'));
}"""
SHOW_JS = """() => {
  window.__screen = 'visible';
  document.dispatchEvent(new Event('visibilitychange'));
}"""


def routing() -> RoutingConfig:
    return parse_routing(ROUTES)


def token_for(engine: Engine, name: str, role: Role = Role.PATROL) -> str:
    return TokenStore(engine).create(name, role, dt.datetime.now(dt.UTC))[1]


def population(web: WebApi) -> dict[str, int]:
    """A critical alert at Tower C (li's), a major one at Tower B (wang's), a minor and a warning
    nobody is paged about."""
    now = dt.datetime.now(dt.UTC)
    rows: dict[str, tuple[Any, ...]] = {
        "c-critical": (
            "aed-cabinet-open",
            "critical",
            "darong-c",
            "aed",
            "aed-c-1f-lobby",
            now,
            "C 座一楼大堂前台旁 / Tower C lobby, beside reception",
        ),
        "b-major": (
            "aed-fault",
            "major",
            "darong-b",
            "aed",
            "aed-b-12f-lift",
            now - dt.timedelta(minutes=3),
            "B 座12楼电梯厅 / Tower B 12F lift lobby",
        ),
        "b-minor": ("aed-battery-low", "minor", "darong-b", "aed", "aed-b-1f-lobby", now, None),
        "a-lot": ("parking-lot-full", "warning", "darong-a", "parking_lot", "garage", now, None),
    }
    ids = {}
    for name, (rule, severity, building, kind, device, at, location) in rows.items():
        labels = {"floor": "12F" if "12f" in device else "1F"}
        if location:
            labels["location"] = location
        event = web.store.raise_alert(
            NewAlert(rule, severity, building, kind, device, f"{rule} {device}", True, labels), at
        )
        assert event is not None
        ids[name] = event.alert.id
    return ids


@contextmanager
def phone(browser: Browser, web: WebApi, token: str, lang: str = "zh") -> Iterator[tuple[Page, ApiContract]]:
    """A signed-in /patrol page on a touch phone, its API traffic checked against OpenAPI."""
    document = httpx.get(f"{web.url}/openapi.json", timeout=10).json()
    contract = ApiContract(document)
    context = browser.new_context(
        viewport=PHONE, has_touch=True, is_mobile=True, locale="zh-CN" if lang == "zh" else "en-GB"
    )
    contract.attach(context, web.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{web.url}/patrol?lang={lang}")
        page.locator("#token").fill(token)
        page.locator("#signin-form button[type=submit]").tap()
        expect(page.locator("#live")).to_have_attribute("data-state", "connected", timeout=10_000)
        yield page, contract
        assert errors == [], errors
        assert contract.problems == [], "the page and the API disagree:\n" + "\n".join(contract.problems)
    finally:
        context.close()


def card_ids(page: Page, list_id: str) -> list[int]:
    return [
        int(i) for i in page.locator(f"#{list_id} > li").evaluate_all("(r) => r.map((n) => n.dataset.id)")
    ]


def small_targets(page: Page) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = page.evaluate(_TARGETS_JS)
    assert targets, "nothing to tap found"
    return [t for t in targets if t["w"] < MIN_TARGET_PX or t["h"] < MIN_TARGET_PX]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_phone_puts_what_is_paged_to_this_patrol_first_and_acks_in_two_taps(
    browser: Browser, start_web: Callable[..., WebApi], engine: Engine, lang: str
) -> None:
    web = start_web(routing=routing())
    ids = population(web)
    wang = token_for(engine, "wang")
    with phone(browser, web, wang, lang) as (page, contract):
        # Wang carries Tower B's handset: its major alert comes first, above Tower C's critical one.
        expect(page.locator("#mine-list > li")).to_have_count(1)
        assert card_ids(page, "mine-list") == [ids["b-major"]]
        assert card_ids(page, "others-list") == [ids["c-critical"], ids["b-minor"], ids["a-lot"]]
        first = page.locator("main li.card").first
        expect(first).to_have_attribute("data-id", str(ids["b-major"]))
        expect(first).to_have_attribute("data-mine", "called")
        expect(first).to_be_in_viewport()
        expect(first.locator('[data-role="where"]')).to_have_text(
            "大荣中心 B 座 · 12F · B 座12楼电梯厅"
            if lang == "zh"
            else "Darong Centre Tower B · 12F · Tower B 12F lift lobby"
        )
        expect(first.locator('[data-role="paged"]')).to_contain_text("patrol-b")
        # The critical banner: one line, whatever the length of its text.
        banner = page.locator("#banner")
        expect(banner).to_be_visible()
        expect(page.locator("#banner-text")).to_contain_text("aed-c-1f-lobby")
        box = banner.bounding_box()
        assert box is not None and box["height"] <= 52, box
        assert page.locator("#banner-text").evaluate("(n) => n.getClientRects().length") == 1
        header = page.locator("header.pbar").bounding_box()
        assert header is not None and header["height"] <= 56, header
        assert small_targets(page) == []
        screenshot(page, f"patrol-phone-{lang}")
        check_accessibility(page, f"patrol phone {lang}")

        # Two taps: "acknowledge", then a quick note. The sheet's notes are under the thumb.
        first.locator('[data-action="ack"]').tap()
        sheet = page.locator("#ack-sheet")
        expect(sheet).to_be_visible()
        assert small_targets(page) == []
        for preset in sheet.locator(".preset").all():
            where = preset.bounding_box()
            assert where is not None and where["y"] >= PHONE["height"] / 2, where
        screenshot(page, f"patrol-ack-sheet-{lang}")
        check_accessibility(page, f"patrol ack sheet {lang}")
        note = "收到，正在前往" if lang == "zh" else "Got it, on my way"  # noqa: RUF001
        sheet.locator(".preset").first.tap()
        expect(sheet).to_be_hidden()
        mine = page.locator(f'#mine-list > li[data-id="{ids["b-major"]}"]')
        expect(mine).to_have_attribute("data-state", "acknowledged")
        expect(mine.locator('[data-role="ack-note"]')).to_contain_text(note)
        expect(mine.locator('[data-role="ack-note"]')).to_contain_text("wang")
        screenshot(page, f"patrol-acknowledged-{lang}")
    [*_, acked] = web.store.events(ids["b-major"])
    assert (acked.event, acked.by, acked.note) == ("acknowledged", "wang", note)
    assert contract.calls("/api/v1/alerts/{alert_id}/ack", "POST") == 1
    assert contract.calls("/api/v1/me/alerts") >= 1


def test_another_patrol_sees_its_own_first_and_a_stranger_is_told(
    browser: Browser, start_web: Callable[..., WebApi], engine: Engine
) -> None:
    web = start_web(routing=routing())
    ids = population(web)
    with phone(browser, web, token_for(engine, "li"), "en") as (page, _):
        expect(page.locator("#mine-list > li")).to_have_count(1)
        assert card_ids(page, "mine-list") == [ids["c-critical"]]
        # A new alert at Tower D, raised while the page is open, is li's too: it joins "mine".
        raised = web.store.raise_alert(
            NewAlert("aed-fault", "major", "darong-d", "aed", "aed-d-1f-lobby", "fault", True, {}),
            dt.datetime.now(dt.UTC),
        )
        assert raised is not None
        expect(page.locator(f'#mine-list > li[data-id="{raised.alert.id}"]')).to_be_visible(timeout=10_000)
    with phone(browser, web, token_for(engine, "chen"), "zh") as (page, _):
        expect(page.locator("#no-receivers")).to_contain_text("chen")
        expect(page.locator("#others-list > li")).to_have_count(5)
        expect(page.locator("#mine-list > li")).to_have_count(0)


def test_a_phone_that_locks_and_wakes_gets_the_missed_events_replayed(
    browser: Browser, start_web: Callable[..., WebApi], engine: Engine
) -> None:
    web = start_web(routing=routing())
    ids = population(web)
    with phone(browser, web, token_for(engine, "wang")) as (page, _):
        expect(page.locator("#mine-list > li")).to_have_count(1)
        streams: list[Request] = []
        page.on("request", lambda r: streams.append(r) if r.url.endswith("/api/v1/events") else None)
        # Something happens while the page is open, so that the page has an event id to resume from.
        web.store.acknowledge(ids["a-lot"], "operator-li", "garage checked", dt.datetime.now(dt.UTC))
        expect(page.locator(f'li[data-id="{ids["a-lot"]}"]')).to_have_attribute("data-state", "acknowledged")
        before = page.locator("body").get_attribute("data-last-event-id")
        assert before is not None
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url))

        # The phone locks: the page is hidden, and the system kills its connection meanwhile.
        # (Chromium's CDP Page.setWebLifecycleState does not freeze a visible headless page, so the
        # screen going off is told to the page the way a phone tells it: visibilitychange.)
        page.evaluate(HIDE_JS)
        port = web.server.port
        web.server.stop()
        now = dt.datetime.now(dt.UTC)
        web.store.acknowledge(ids["b-major"], "zhao", "supervisor on the way", now)
        web.store.resolve(ids["b-minor"], "operator-li", "battery changed", now)
        missed = web.store.raise_alert(
            NewAlert("device-offline", "minor", "darong-e", "parking_space", "bay-0001", "silent", None, {}),
            now,
        )
        assert missed is not None
        # The page keeps trying while it may (the API asks for 2 s, then 4 s, 8 s, 15 s): after four
        # failures its next try is 15 s away, as it would be after a phone's long sleep.
        deadline = time.monotonic() + 25
        while len(streams) < 4:
            assert time.monotonic() < deadline, len(streams)
            page.wait_for_timeout(100)
        start_web(store=web.store, port=port, routing=routing())

        # It wakes: the stream is reopened at once (not at the next try) with Last-Event-ID, and
        # the missed events are replayed.
        woke = time.monotonic()
        page.evaluate(SHOW_JS)
        expect(page.locator("body")).to_have_attribute("data-wakes", "1")
        expect(page.locator("#live")).to_have_attribute("data-state", "connected", timeout=10_000)
        to_connected = time.monotonic() - woke
        assert to_connected < 3, f"reconnected {to_connected:.1f} s after waking: the back-off, not the wake"
        mine = page.locator(f'#mine-list > li[data-id="{ids["b-major"]}"]')
        expect(mine).to_have_attribute("data-state", "acknowledged", timeout=10_000)
        expect(mine.locator('[data-role="ack-note"]')).to_contain_text("supervisor on the way")
        expect(page.locator(f'li[data-id="{ids["b-minor"]}"]')).to_have_count(0)
        expect(page.locator(f'#others-list > li[data-id="{missed.alert.id}"]')).to_be_visible()
        expect(page.locator("#action-status")).to_contain_text("补收 3 条事件")
        screenshot(page, "patrol-after-wake-zh")
        resumed = [r.headers.get("last-event-id") for r in streams]
        assert resumed and set(resumed) == {before}, resumed  # every try resumed after the last event seen
        # The replay brought it all: the alert list was not loaded again (the banner's critical
        # alerts and the routing of the new ones were asked for, nothing else).
        reloads = [u for u in asked if "/api/v1/alerts?" in u and "severity=critical" not in u]
        assert reloads == [], reloads
