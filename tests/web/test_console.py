"""The operators' console in a real headless Chromium against the real API (uvicorn, the SQLite
alert store, mosquitto and the rules engine where the stream is the claim). Every request the
page sends and every answer it reads is checked against the app's OpenAPI document (`contract`).

Screenshots of each screen, at 1920x1080, 1366x768 and 390x844, in zh and en, go to
test-artifacts/web/screens/.
"""

# ruff: noqa: RUF001  (full-width brackets are correct in the Chinese texts checked here)

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from sqlalchemy import Engine

from api.roles import Role
from collector.registry import Registry
from louyu.testing.services import Mosquitto
from rules.notify.config import parse_routing
from rules.notify.service import NotifierService
from rules.store import NewAlert
from tests.notify.helpers import SECRET, HttpReceiver
from tests.web.browsing import PHONE, SIZES, WALL, check_accessibility, publish, screenshot, sign_in
from tests.web.conftest import ARTIFACTS, WebApi
from tests.web.contract import ApiContract

pytestmark = [pytest.mark.browser, pytest.mark.integration]


@contextmanager
def console(
    browser: Browser,
    web: WebApi,
    contract: ApiContract,
    role: Role,
    viewport: ViewportSize = WALL,
    lang: str = "zh",
    path: str = "",
) -> Iterator[Page]:
    """A signed-in dashboard whose API traffic is checked against the OpenAPI document."""
    context = browser.new_context(viewport=viewport, locale="zh-CN" if lang == "zh" else "en-GB")
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


def minor_flood(web: WebApi, n: int, at: dt.datetime) -> None:
    """`n` minor device-offline alerts, newer than anything else: what a flood of invented bay
    sensors going silent looks like."""
    for i in range(n):
        event = web.store.raise_alert(
            NewAlert(
                "device-offline", "minor", "darong-a", "parking_space", f"bay-{i:04d}", "silent", None, {}
            ),
            at + dt.timedelta(milliseconds=i),
        )
        assert event is not None


def test_a_critical_alert_is_the_first_row_whatever_floods_the_list(
    browser: Browser, system: WebApi, mosquitto: Mosquitto, contract: ApiContract
) -> None:
    now = dt.datetime.now(dt.UTC)
    # An older critical that escalated unacknowledged, then 500 minor ones, all newer.
    old = system.store.raise_alert(
        NewAlert(
            "aed-cabinet-open",
            "critical",
            "darong-c",
            "aed",
            "aed-c-1f-lobby",
            "AED cabinet opened",
            True,
            {},
        ),
        now - dt.timedelta(minutes=20),
    )
    assert old is not None
    assert system.store.escalate(old.alert.id, 0, now - dt.timedelta(minutes=15)) is not None
    minor_flood(system, 500, now - dt.timedelta(minutes=10))
    started = time.monotonic()
    with console(browser, system, contract, Role.OPERATOR) as page:
        first = page.locator("#alert-list > li").first
        expect(first).to_have_attribute("data-id", str(old.alert.id))
        to_first_row = time.monotonic() - started
        expect(page.locator('#severity-counts [data-severity="minor"] .count')).to_have_text("500")
        expect(page.locator('#severity-counts [data-severity="critical"] .count')).to_have_text("1")
        # A new critical alert through the real path: sensor -> broker -> engine -> store -> stream.
        published = time.monotonic()
        publish(mosquitto, "louyu/darong-b/aed/aed-b-1f-lobby", {"state": "ready", "cabinet_open": True})
        fresh = page.locator(f'#alert-list > li[data-severity="critical"]:not([data-id="{old.alert.id}"])')
        expect(fresh).to_have_count(1, timeout=10_000)
        to_screen = time.monotonic() - published
        rows = page.locator("#alert-list > li")
        # Escalated first, then the new critical, then the minor ones.
        expect(rows.nth(0)).to_have_attribute("data-id", str(old.alert.id))
        expect(rows.nth(1)).to_have_attribute("data-severity", "critical")
        expect(rows.nth(2)).to_have_attribute("data-severity", "minor")
        expect(page.locator('#severity-counts [data-severity="critical"] .count')).to_have_text(
            "2", timeout=5_000
        )
        # The banner names the most urgent (the escalated one), not the newest.
        expect(page.locator("#banner")).to_be_visible()
        expect(page.locator("#banner")).to_have_attribute("data-alert-id", str(old.alert.id))
        expect(page.locator("#banner-text")).to_contain_text("aed-c-1f-lobby")
        expect(page.locator("#banner-text")).to_contain_text("1")
        # The tab's title counts what fires, critical named first.
        expect(page).to_have_title("(502) 2 紧急 · 楼宇监控 · 大荣片区", timeout=5_000)
        expect(page.locator("#favicon")).to_have_attribute(
            "href", re.compile(r"^/static/web/v/[0-9a-f]+/favicon-critical.svg$")
        )
        # The first page held 100 rows (and the live one came on top); the next page continues
        # after the last by the same order, without repeating any.
        expect(rows).to_have_count(101)
        page.locator("#alert-more").click()
        expect(rows).to_have_count(201)
        ids = [int(i) for i in rows.evaluate_all("(rows) => rows.map((r) => r.dataset.id)")]
        assert len(set(ids)) == 201
        screenshot(page, "alerts-flood-wall-zh")
        check_accessibility(page, "alert list with a flood")
    assert contract.calls("/api/v1/alerts") >= 4
    (ARTIFACTS / "console-figures.txt").write_text(
        f"500 minor + 1 critical open: page load and sign-in -> first (critical) row: {to_first_row:.2f} s\n"
        f"mosquitto_pub -> new critical row on screen, under the flood: {to_screen:.2f} s\n"
    )


def lot_alert(web: WebApi, device: str = "garage", at: dt.datetime | None = None) -> int:
    event = web.store.raise_alert(
        NewAlert(
            "parking-lot-full", "warning", "darong-a", "parking_lot", device, f"{device} full", 0.97, {}
        ),
        at or dt.datetime.now(dt.UTC),
    )
    assert event is not None
    return event.alert.id


def test_silence_from_an_alert_list_extend_and_end(
    browser: Browser, system: WebApi, contract: ApiContract
) -> None:
    alert_id = lot_alert(system)
    with console(browser, system, contract, Role.OPERATOR) as page:
        row = page.locator(f'#alert-list > li[data-id="{alert_id}"]')
        # Straight from the alert list (the Buildings tab never opened): the building is kept.
        row.locator('[data-action="silence"]').click()
        expect(page.locator("#view-silences")).to_be_visible()
        expect(page.locator("#silence-building")).to_have_value("darong-a")
        expect(page.locator("#silence-kind")).to_have_value("parking_lot")
        expect(page.locator("#silence-device")).to_have_value("garage")
        expect(page.locator("#silence-rule")).to_have_value("parking-lot-full")
        expect(page.locator("#silence-reason")).to_be_focused()
        page.locator("#silence-reason").fill("车库活动 满位属正常")
        page.locator("#silence-duration").fill("30")
        page.locator("#silence-form button[type=submit]").click()
        item = page.locator("#silence-list > li")
        expect(item).to_have_count(1)
        expect(item).to_contain_text("大荣中心 A 座")
        expect(item).to_contain_text("车库活动 满位属正常")
        expect(page.locator("#silence-error")).to_be_empty()
        [silence] = system.store.list_silences(active_at=dt.datetime.now(dt.UTC))
        assert (silence.building, silence.kind, silence.device, silence.rule) == (
            "darong-a",
            "parking_lot",
            "garage",
            "parking-lot-full",
        )
        assert silence.created_by.startswith("operator")
        assert system.store.get(alert_id).silenced is True  # type: ignore[union-attr]
        screenshot(page, "silences-active-wall-zh")
        check_accessibility(page, "silences")

        item.locator('[data-action="extend"]').click()
        expect(page.locator("#silence-status")).to_have_text("静默已延长 1 小时。")
        extended = system.store.get_silence(silence.id)
        assert extended is not None and extended.ends_at - silence.ends_at == dt.timedelta(hours=1)

        page.locator("#silence-list > li").locator('[data-action="end"]').click()
        expect(page.locator("#silence-empty")).to_be_visible()
        expect(page.locator("#silence-list > li")).to_have_count(0)
        ended = system.store.get_silence(silence.id)
        assert ended is not None and ended.ended_by is not None
        assert system.store.get(alert_id).silenced is False  # type: ignore[union-attr]
    assert contract.calls("/api/v1/silences", "POST") == 1
    assert contract.calls("/api/v1/silences/{silence_id}", "PATCH") == 1
    assert contract.calls("/api/v1/silences/{silence_id}", "DELETE") == 1


@pytest.mark.parametrize("role", [Role.PATROL, Role.VIEWER])
def test_roles_without_silences_are_told_so(
    browser: Browser, system: WebApi, contract: ApiContract, role: Role
) -> None:
    lot_alert(system)
    with console(browser, system, contract, role, viewport=PHONE, path="#/silences") as page:
        expect(page.locator("#silence-denied")).to_be_visible()
        expect(page.locator("#silence-denied")).to_contain_text("无权查看或管理静默")
        expect(page.locator("#silence-form")).to_be_hidden()
        page.locator('nav.tabs a[data-view="alerts"]').click()
        expect(page.locator("#alert-list > li")).to_have_count(1)
        expect(page.locator('[data-action="silence"]')).to_have_count(0)
    # The page does not even ask: no 403 met, nothing to explain away.
    assert contract.calls("/api/v1/silences") == 0


@contextmanager
def notifier(engine: Engine, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpReceiver]:
    """The real notifier on the alert store, paging one webhook receiver (`ops`) that fails its
    first request, so the delivery record has a retry to show."""
    monkeypatch.setenv("LOUYU_TEST_HOOK_SECRET", SECRET)
    receiver = HttpReceiver(respond=lambda n: 503 if n == 1 else 200)
    service = NotifierService(
        parse_routing(f"""
receivers:
  - name: ops
    webhook: {{url: "{receiver.url}", secret_env: LOUYU_TEST_HOOK_SECRET}}
    retry: {{initial: 20ms, max: 100ms}}
routes: [{{receivers: [ops]}}]
"""),
        registry,
        engine,
        None,
        poll_s=0.05,
    )
    service.start()
    try:
        yield receiver
    finally:
        service.stop()
        receiver.close()


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_ack_with_note_by_keyboard_bulk_ack_and_the_alert_timeline(
    browser: Browser,
    system: WebApi,
    contract: ApiContract,
    engine: Engine,
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with notifier(engine, registry, monkeypatch) as receiver:
        first = lot_alert(system, "garage")
        wait_until(lambda: len(receiver.ok()) >= 1)
        others = [lot_alert(system, f"garage-b{n}") for n in (1, 2)]
        with console(browser, system, contract, Role.PATROL, viewport=PHONE) as patrol:
            row = patrol.locator(f'#alert-list > li[data-id="{first}"]')
            # Keyboard only: the note, Tab to "Acknowledge", Enter.
            row.locator("input.note").focus()
            patrol.keyboard.type("到达现场")
            patrol.keyboard.press("Tab")
            assert patrol.evaluate("document.activeElement.dataset.action") == "ack"
            patrol.keyboard.press("Enter")
            expect(row).to_have_attribute("data-state", "acknowledged")
            expect(row.locator('[data-role="ack-note"]')).to_contain_text("到达现场")
            # The row moved below the firing ones, and the focus went with it, not to <body>.
            # The focus is put back once the moved row is drawn, just after its state changes.
            patrol.wait_for_function(
                f"document.activeElement?.closest('li')?.dataset.id === '{first}'", timeout=5_000
            )
            # Bulk: select every firing alert, one note for all.
            patrol.locator("#bulk-all").check()
            expect(patrol.locator("#bulk-ack")).to_have_text("确认所选（2）")
            patrol.locator("#bulk-note").fill("批量处理")
            patrol.locator("#bulk-ack").click()
            for alert_id in others:
                expect(patrol.locator(f'#alert-list > li[data-id="{alert_id}"]')).to_have_attribute(
                    "data-state", "acknowledged"
                )
            expect(patrol.locator("#action-status")).to_have_text("已确认 2 条告警。")
            screenshot(patrol, "alerts-acknowledged-phone-zh")
        for alert_id in others:
            assert system.store.events(alert_id)[-1].note == "批量处理"
        wait_until(lambda: len(receiver.ok()) >= 4)  # ops told of the acknowledgements too

        with console(browser, system, contract, Role.OPERATOR, path=f"#/alert/{first}") as operator:
            timeline = operator.locator("#timeline")
            expect(timeline.locator('[data-event="raised"]')).to_have_count(1)
            acked = timeline.locator('[data-event="acknowledged"]')
            expect(acked).to_contain_text("patrol-")
            expect(acked).to_contain_text("到达现场")
            delivery = timeline.locator('[data-event="delivery"][data-status="delivered"]').first
            expect(delivery).to_contain_text("ops (webhook)")
            expect(delivery).to_contain_text("尝试 2 次")  # the 503, then the retry that worked
            expect(operator.locator("#detail-head [data-role=state]")).to_have_text("已确认")
            expect(operator.locator("#detail-head [data-role=age]")).to_have_text(
                re.compile(r"^已持续 \d+ 分钟$")
            )
            # Resolve from the detail view: a confirmation first, with the note shown.
            operator.locator("#detail-actions input.note").fill("车库已疏通")
            operator.locator('#detail-actions [data-action="resolve"]').click()
            expect(operator.locator("#confirm-dialog")).to_be_visible()
            expect(operator.locator("#confirm-note")).to_contain_text("车库已疏通")
            expect(operator.locator("#confirm-warning")).to_be_hidden()
            screenshot(operator, "alert-resolve-confirm-wall-zh")
            operator.locator("#confirm-ok").click()
            resolved = timeline.locator('[data-event="resolved"]')
            expect(resolved).to_contain_text("operator-")
            expect(resolved).to_contain_text("车库已疏通")
            expect(operator.locator("#detail-head [data-role=state]")).to_have_text("已解决")
            screenshot(operator, "alert-detail-wall-zh")
            check_accessibility(operator, "alert detail")
    record = system.store.get(first)
    assert record is not None and record.state == "resolved" and record.resolved_by is not None
    assert contract.calls("/api/v1/alerts/{alert_id}/deliveries") >= 1
    assert contract.calls("/api/v1/alerts/{alert_id}/ack", "POST") == 3


def filter_population(web: WebApi) -> dict[str, int]:
    now = dt.datetime.now(dt.UTC)
    rows = {
        "critical": ("aed-cabinet-open", "critical", "darong-b", "aed", "aed-b-1f-lobby", now),
        "major": ("aed-fault", "major", "darong-c", "aed", "aed-c-1f-lobby", now),
        "lot": ("parking-lot-full", "warning", "darong-a", "parking_lot", "garage", now),
        "lot-b1": ("parking-lot-full", "warning", "darong-a", "parking_lot", "garage-b1", now),
        "lot-old": (
            "parking-lot-full",
            "warning",
            "darong-a",
            "parking_lot",
            "garage-b2",
            now - dt.timedelta(hours=3),
        ),
        "done": (
            "canteen-crowded",
            "warning",
            "darong-b",
            "canteen",
            "main-hall",
            now - dt.timedelta(hours=1),
        ),
    }
    ids = {}
    for name, (rule, severity, building, kind, device, at) in rows.items():
        event = web.store.raise_alert(
            NewAlert(rule, severity, building, kind, device, f"{rule} {device}", 1, {}), at
        )
        assert event is not None
        ids[name] = event.alert.id
    web.store.resolve(ids["done"], "ops-li", "queue gone", now)
    return ids


def shown(page: Page) -> list[int]:
    return [
        int(i)
        for i in page.locator("#alert-list > li").evaluate_all("(rows) => rows.map((r) => r.dataset.id)")
    ]


def test_filters_live_in_the_url_and_counts_follow_them(
    browser: Browser, system: WebApi, contract: ApiContract
) -> None:
    ids = filter_population(system)
    with console(
        browser, system, contract, Role.OPERATOR, path="#/alerts?severity=warning&building=darong-a"
    ) as page:
        rows = page.locator("#alert-list > li")
        expect(rows).to_have_count(3)
        assert sorted(shown(page)) == sorted([ids["lot"], ids["lot-b1"], ids["lot-old"]])
        expect(page.locator("#f-severity")).to_have_value("warning")
        expect(page.locator("#f-building")).to_have_value("darong-a")
        expect(page.locator('#severity-counts [data-severity="warning"]')).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(page.locator('#severity-counts [data-severity="warning"] .count')).to_have_text("3")
        # Text and time range: typed, submitted, written to the URL.
        page.locator("#f-q").fill("B1")
        page.locator("#alert-filters button[type=submit]").click()
        expect(rows).to_have_count(1)
        assert shown(page) == [ids["lot-b1"]]
        assert "q=B1" in page.url
        page.locator("#f-q").fill("")
        page.locator("#f-range").select_option("1h")
        expect(rows).to_have_count(2)
        assert "range=1h" in page.url
        # A reload keeps the filter (and the sign-in: the token lives in the tab).
        page.reload()
        expect(page.locator("#f-range")).to_have_value("1h")
        expect(rows).to_have_count(2)
        page.locator("#f-clear").click()
        expect(rows).to_have_count(5)
        assert page.url.endswith("#/alerts")
        assert shown(page)[:2] == [ids["critical"], ids["major"]]
        # A severity chip filters; its count is that of the whole store, not of the page.
        page.locator('#severity-counts [data-severity="critical"]').click()
        expect(rows).to_have_count(1)
        assert "severity=critical" in page.url
        page.locator("#f-clear").click()
        page.locator("#f-state").select_option("resolved")
        expect(rows).to_have_count(1)
        expect(rows.first).to_have_attribute("data-state", "resolved")
        page.locator("#f-kind").select_option("aed")
        expect(page.locator("#alert-empty")).to_be_visible()
        screenshot(page, "alerts-filtered-empty-wall-zh")
    with console(browser, system, contract, Role.VIEWER, lang="en", path="#/alerts?kind=aed") as page:
        expect(page.locator("#alert-list > li")).to_have_count(2)
        expect(page.locator("#alert-summary")).to_have_text("Showing 2 of 2")
        expect(page.locator('#severity-counts [data-severity="critical"]')).to_contain_text("critical")
        expect(page.locator("#bulk")).to_be_hidden()  # a viewer acknowledges nothing


def test_every_screen_at_three_sizes_in_both_languages(
    browser: Browser, system: WebApi, contract: ApiContract
) -> None:
    ids = filter_population(system)
    system.store.acknowledge(ids["major"], "patrol-wang", "on my way", dt.datetime.now(dt.UTC))
    for lang in ("zh", "en"):
        for size, viewport in SIZES.items():
            with console(browser, system, contract, Role.OPERATOR, viewport=viewport, lang=lang) as page:
                expect(page.locator("#alert-list > li")).to_have_count(5)
                expect(page.locator("#alert-list > li").first).to_be_in_viewport()
                # Loaded (not live) acknowledged alerts show the acknowledger's note as well.
                note = page.locator(f'#alert-list > li[data-id="{ids["major"]}"] [data-role="ack-note"]')
                expect(note).to_contain_text("on my way")
                screenshot(page, f"alerts-{size}-{lang}")
                check_accessibility(page, f"alerts {size} {lang}")
                page.locator("#alert-list > li").first.locator('[data-role="detail"]').click()
                expect(page.locator("#timeline > li")).to_have_count(1)
                screenshot(page, f"alert-detail-{size}-{lang}")
                check_accessibility(page, f"alert detail {size} {lang}")
                page.locator('nav.tabs a[data-view="silences"]').click()
                expect(page.locator("#silence-form")).to_be_visible()
                screenshot(page, f"silences-{size}-{lang}")
                check_accessibility(page, f"silences {size} {lang}")
                page.locator('nav.tabs a[data-view="buildings"]').click()
                expect(page.locator("article.building")).to_have_count(17)
                screenshot(page, f"buildings-{size}-{lang}")
                check_accessibility(page, f"buildings {size} {lang}")
                page.goto(f"{system.url}/dashboard?lang={lang}#/device/darong-b/aed/aed-b-1f-lobby")
                expect(page.locator("#device-alerts > li")).to_have_count(1)
                expect(page.locator("#history-empty")).to_be_visible()  # no InfluxDB here: said so
                screenshot(page, f"device-{size}-{lang}")
                check_accessibility(page, f"device {size} {lang}")
                page.goto(f"{system.url}/dashboard?lang={lang}#/silences")
                expect(page.locator("#silence-form")).to_be_visible()
                if lang == "zh":
                    # No English words of the interface on a Chinese page (alert summaries are data).
                    chrome = " ".join(page.locator("header, nav.tabs, #view-silences").all_inner_texts())
                    assert not re.search(r"\b(Alerts|Silences|Sign out|firing|Failed|HTTP)\b", chrome), chrome


def test_the_page_says_when_the_api_is_gone_and_recovers_without_a_reload(
    browser: Browser, system: WebApi, contract: ApiContract, start_web: Callable[..., WebApi]
) -> None:
    with console(browser, system, contract, Role.PATROL) as page:
        expect(page.locator("#alert-empty")).to_be_visible()
        page.evaluate("window.__sameDocument = true")
        port = system.server.port
        system.server.stop()
        expect(page.locator("#outage")).to_be_visible(timeout=10_000)
        expect(page.locator("#live")).to_have_attribute("data-state", re.compile("lost|connecting"))
        # Meanwhile an alert is raised; the API comes back on the same address.
        alert_id = lot_alert(system)
        screenshot(page, "outage-wall-zh")
        check_accessibility(page, "outage")
        start_web(store=system.store, port=port)
        expect(page.locator(f'#alert-list > li[data-id="{alert_id}"]')).to_be_visible(timeout=30_000)
        expect(page.locator("#outage")).to_be_hidden()
        expect(page.locator("#live")).to_have_attribute("data-state", "connected")
        assert page.evaluate("window.__sameDocument") is True  # no reload happened


def test_the_alarm_repeats_until_acknowledged_and_can_be_muted_for_a_while(
    browser: Browser, system: WebApi, contract: ApiContract
) -> None:
    raised = system.store.raise_alert(
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
    assert raised is not None
    context = browser.new_context(viewport=WALL, locale="zh-CN")
    contract.attach(context, system.url)
    # The per-browser repeat setting, at its shortest, so the test need not wait minutes.
    context.add_init_script("try { localStorage.setItem('louyu.alarm.repeatSeconds', '5') } catch {}")
    page = context.new_page()
    try:
        sign_in(page, system, Role.OPERATOR)
        page.locator("#banner-dismiss").click()  # hiding the banner does not stop the alarm
        expect(page.locator("body")).to_have_attribute("data-beeps", "2", timeout=15_000)
        with system.client(Role.PATROL) as client:
            assert client.post(f"/api/v1/alerts/{raised.alert.id}/ack", json={}).status_code == 200
        row = page.locator(f'#alert-list > li[data-id="{raised.alert.id}"]')
        expect(row).to_have_attribute("data-state", "acknowledged", timeout=10_000)
        beeps = page.locator("body").get_attribute("data-beeps")
        page.wait_for_timeout(6_000)
        expect(page.locator("body")).to_have_attribute("data-beeps", str(beeps))  # acknowledged: quiet
        page.locator("#sound-toggle").click()
        expect(page.locator("#sound-toggle")).to_have_attribute("aria-pressed", "false")
        expect(page.locator("#sound-toggle")).to_contain_text("静音至")
        page.reload()  # per browser: still muted after a reload
        expect(page.locator("#sound-toggle")).to_contain_text("静音至")
    finally:
        context.close()
