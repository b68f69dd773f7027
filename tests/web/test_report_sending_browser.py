"""The reports page's list of kept reports shows each receiver's sending state, in Chromium, zh and
en, wall, desktop and phone: a report made by the schedule and sent to real receivers on loopback
(an SMTP server that takes it, a webhook that answers 503, one that answers 400) reads "sent",
"not sent yet ... next try 03:01" and "given up", with the errors in words. Every request the page
makes and every answer it reads is checked against the OpenAPI document; axe-core finds nothing
above minor; screenshots in test-artifacts/web/screens/."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from api.reports.schedule import ReportScheduler
from api.roles import Role
from api.web.i18n import MESSAGES
from rules.notify.config import parse_routing
from tests.api.report_receivers import Sink, SmtpSink, serving
from tests.web.browsing import SIZES, check_accessibility, screenshot
from tests.web.conftest import WebApi
from tests.web.contract import ApiContract

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123").decode()
# 03:00 on Monday 30 November in Shanghai: the first retry is due at 03:01 local time.
T0 = dt.datetime(2026, 11, 29, 19, 0, tzinfo=dt.UTC)


def texts(lang: str) -> tuple[str, str, str]:
    """What the page says of each receiver, from the page's own words (up to the error's text)."""
    words = MESSAGES[lang]
    sent = words["reports.sent_ok"].format(receiver="facility-manager")
    retrying = words["reports.sent_retry"].split("{error}")[0].format(receiver="city", n=1) + "HTTP 503"
    once = words.get("reports.attempts.one", words["reports.attempts.other"]).format(n=1)
    gave_up = words["reports.sent_gave_up"].split("{error}")[0].format(receiver="district", attempts=once)
    gave_up += "HTTP 400"
    return sent, retrying, gave_up


def test_kept_reports_show_each_receivers_sending_state(
    browser: Browser, start_web: Callable[..., WebApi], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hooks = Sink({"/city": [503], "/district": [400]})
    smtp = SmtpSink([250])
    monkeypatch.setenv(
        "REPORT_MAIL_URLS",
        f"mailto://127.0.0.1:{smtp.port}?mode=insecure&from=louyu@example.com&to=fm@example.com",
    )
    monkeypatch.setenv("CITY_SECRET", SECRET)
    web = start_web(clock=lambda: T0)
    state = web.server.app.state.louyu
    # The kept files, for the schedule to write (the page lists them; this test downloads none).
    state.archive.directory = tmp_path / "reports"
    with serving(hooks), serving(smtp):
        routing = parse_routing(
            f"""
receivers:
  - {{name: facility-manager, apprise: {{urls_env: REPORT_MAIL_URLS}}}}
  - {{name: city, webhook: {{url: "{hooks.url}/city", secret_env: CITY_SECRET}}}}
  - {{name: district, webhook: {{url: "{hooks.url}/district", secret_env: CITY_SECRET}}}}
reports:
  - {{kinds: [alert-handling], every: week, languages: [en], receivers: [facility-manager, city, district]}}
"""
        )
        scheduler = ReportScheduler(state.reports, state.archive, routing, lambda: T0)
        # On a thread of its own, as the schedule runs it (Playwright keeps an event loop on this one).
        with ThreadPoolExecutor(1) as pool:
            pool.submit(scheduler.run, 0).result()
    assert (hooks.to("/city"), hooks.to("/district"), len(smtp.accepted)) == ([503], [400], 1)

    document = web.server.app.openapi()
    for lang in ("zh", "en"):
        sent, retrying, gave_up = texts(lang)
        for size_name, size in SIZES.items():
            contract = ApiContract(document)
            context = browser.new_context(viewport=size)
            contract.attach(context, web.url)
            context.add_init_script(f"sessionStorage.setItem('louyu.token', '{web.token[Role.OPERATOR]}')")
            page = context.new_page()
            errors: list[str] = []
            page.on(
                "console", lambda msg, errors=errors: errors.append(msg.text) if msg.type == "error" else None
            )
            page.goto(f"{web.url}/reports?lang={lang}")
            lines = page.locator("#kept .kept-sending li")
            expect(lines).to_have_count(3)
            expect(page.locator("#kept li[data-receiver=facility-manager]")).to_have_text(sent)
            expect(page.locator("#kept li[data-receiver=facility-manager]")).to_have_attribute(
                "data-state", "sent"
            )
            city = page.locator("#kept li[data-receiver=city]")
            expect(city).to_contain_text(retrying)
            expect(city).to_contain_text("03:01")  # the next try, in the area's time
            expect(city).to_have_attribute("data-state", "retrying")
            district = page.locator("#kept li[data-receiver=district]")
            expect(district).to_contain_text(gave_up)
            expect(district).to_have_attribute("data-state", "gave-up")
            check_accessibility(page, f"reports sending {lang} {size_name}")
            screenshot(page, f"reports-sending-{lang}-{size_name}", full_page=True)
            assert errors == []
            assert contract.problems == [], "\n".join(contract.problems)
            context.close()
