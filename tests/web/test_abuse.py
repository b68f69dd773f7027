"""The abuse suite: one hostile gateway against a whole louyu site, checked in Chromium.

The site is real: mosquitto on the shipped configuration and ACL with the accounts of
`accounts.sh` (tests/deploy/shipped_broker.py), influxd, the collector (quarantine, the default),
the rules engine as `louyu rules` builds it, and the API with the dashboard, each service on its
own broker account. The attacker is the gateway account of one building (`sensor-darong-a` or
`sensor-darong-b`): what it may publish under the ACL is exactly what it uses here.

Every page request and answer is checked against the app's OpenAPI document (tests/web/contract.py).
Waits are conditions with deadlines, never fixed sleeps.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from api.config import ApiConfig
from api.roles import Role
from collector.broker import BrokerTarget
from collector.registry import Registry
from collector.service import Collector, CollectorConfig, InfluxTarget
from louyu.commands.rules import build as build_rules
from louyu.settings import Settings
from louyu.testing.clients import influx_count, influx_query, publish_all
from louyu.testing.services import Influxd
from rules.runner import RulesRunner, utcnow
from rules.store import AlertStore
from rules.unknown import MAX_PER_BUILDING
from tests.deploy.shipped_broker import Broker, compose_env, start_shipped_broker
from tests.web.browsing import WALL, screenshot, sign_in
from tests.web.conftest import WebApi
from tests.web.contract import ApiContract

pytestmark = [pytest.mark.browser, pytest.mark.integration]

INVENTED = 10_000
INVENTED_AED = "aed-a-made-up"
REAL_AED = "aed-a-1f-lobby"
BASELINE_SPACES = 20
CABINET_OPEN = {"state": "ready", "cabinet_open": True}
# Past every shipped `silent_for` (30 min at most): the sweep that, before quarantine, raised one
# minor alert per invented device.
LATER = dt.timedelta(minutes=31)


def wait_for(check: Callable[[], object], what: str, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@dataclass
class Site:
    broker: Broker
    influxd: Influxd
    collector: Collector
    rules: RulesRunner
    web: WebApi

    def gateway(self, building: str) -> tuple[str, str]:
        account = f"sensor-{building}"
        return account, self.broker.passwords[account]

    def publish(self, building: str, messages: list[tuple[str, bytes]]) -> None:
        """As the building's gateway account, QoS 1, every message acknowledged by the broker."""
        account, password = self.gateway(building)
        publish_all(self.broker.port, messages, username=account, password=password, client_id=account)

    def alerts(self, **query: Any) -> list[dict[str, Any]]:
        """Every alert the API lists (all states), page after page."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 1000, **query}
        with self.web.client(Role.VIEWER) as client:
            while True:
                page = client.get("/api/v1/alerts", params=params)
                assert page.status_code == 200, page.text
                body = page.json()
                found += body["items"]
                if not body["next_cursor"]:
                    return found
                params["cursor"] = body["next_cursor"]


@pytest.fixture
def site(
    tmp_path: Path, influxd: Influxd, engine: Engine, start_web: Callable[..., WebApi]
) -> Iterator[Site]:
    if shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto_passwd is not installed (Debian package mosquitto)")
    (tmp_path / "broker").mkdir()
    broker = start_shipped_broker(tmp_path / "broker")
    pw = broker.passwords
    port = broker.port
    started: list[Callable[[], None]] = [broker.server.kill, broker.close_probes]
    try:
        # The collector as the compose file deploys it: its account, client id and shared group.
        env = compose_env("collector")
        collector = Collector(
            CollectorConfig(
                broker=BrokerTarget(
                    "127.0.0.1", port, username="louyu-collector-1", password=pw["louyu-collector-1"]
                ),
                influx=InfluxTarget(influxd.url),
                spool_path=tmp_path / "spool.db",
                dead_letter_path=tmp_path / "dead.db",
                client_id=env["LOUYU_MQTT_CLIENT_ID"],
                shared_group=env["LOUYU_MQTT_SHARED_GROUP"],
                batch_interval_s=0.05,
            ),
            Registry.load(),
            CollectorRegistry(),
        )
        assert collector.start(wait_s=15), "collector did not subscribe"
        started.append(collector.stop)
        # The rules engine as `louyu rules` builds it, on the alert store the API reads.
        rules = build_rules(
            Settings(
                mqtt_url=f"mqtt://127.0.0.1:{port}",
                mqtt_username="louyu-rules",
                mqtt_password=pw["louyu-rules"],
                mqtt_rules_client_id="louyu-rules",
                database_url=f"sqlite:///{tmp_path / 'louyu.db'}",
            ),
            Registry.load(),
        )
        rules.start()
        started.append(rules.stop)
        web = start_web(
            config=ApiConfig(
                mqtt=BrokerTarget("127.0.0.1", port, username="louyu-api", password=pw["louyu-api"]),
                mqtt_client_id="louyu-api",
                rate_per_s=1000,
                rate_burst=1000,
                sse_poll_s=0.5,
                seed_from_influx=False,
            ),
            store=AlertStore(engine),
        )
        yield Site(broker, influxd, collector, rules, web)
    finally:
        for stop in reversed(started):
            stop()


@pytest.fixture
def contract(site: Site) -> Iterator[ApiContract]:
    document = httpx.get(f"{site.web.url}/openapi.json", timeout=10).json()
    checker = ApiContract(document)
    yield checker
    assert checker.problems == [], "the page and the API disagree:\n" + "\n".join(checker.problems)


def dashboard(browser: Browser, site: Site, contract: ApiContract) -> tuple[Page, list[str]]:
    context = browser.new_context(viewport=WALL, locale="zh-CN")
    contract.attach(context, site.web.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, site.web, Role.OPERATOR)
    return page, errors


def series(influxd: Influxd) -> list[str]:
    found = influx_query(influxd.url, "SHOW SERIES")
    return sorted(row[0] for row in found[0]["values"]) if found else []


def one_alert(site: Site, rule: str, building: str, device: str) -> dict[str, Any]:
    found = [a for a in site.alerts(rule=rule, building=building) if a["device"] == device]
    assert len(found) == 1, found
    return found[0]


def test_ten_thousand_invented_devices_do_not_hide_a_real_aed_alert(
    browser: Browser, site: Site, contract: ApiContract
) -> None:
    # A patrol handset's account follows the alert events, as handsets do (the ACL lets it read
    # louyu/alerts/#): what an invented AED would have paged.
    patrol = site.broker.client("patrol-li")
    assert not patrol.subscribe("louyu/alerts/#").is_failure
    now_ms = int(time.time() * 1000)
    # The site before the attack: some spaces and the real cabinet (closed) have reported.
    baseline = [
        (f"louyu/darong-a/parking_space/b1-{n:03d}", json.dumps({"ts": now_ms, "occupied": n % 2 == 0}))
        for n in range(1, BASELINE_SPACES + 1)
    ]
    baseline.append((f"louyu/darong-a/aed/{REAL_AED}", json.dumps({"ts": now_ms, "state": "ready"})))
    site.publish("darong-a", [(t, p.encode()) for t, p in baseline])
    wait_for(
        lambda: (
            influx_count(site.influxd.url, "parking_space", "occupied") == BASELINE_SPACES
            and influx_count(site.influxd.url, "aed", "state") == 1
        ),
        "the baseline readings in InfluxDB",
    )
    series_before = series(site.influxd)

    # The attack, by darong-a's own gateway account: 10,000 invented spaces and, among them, an
    # invented AED whose cabinet "opens".
    flood = [
        (f"louyu/darong-a/parking_space/fake-{n:05d}", json.dumps({"occupied": n % 2 == 0}).encode())
        for n in range(INVENTED)
    ]
    flood.insert(INVENTED // 2, (f"louyu/darong-a/aed/{INVENTED_AED}", json.dumps(CABINET_OPEN).encode()))
    started = time.monotonic()
    site.publish("darong-a", flood)
    flood_s = time.monotonic() - started
    # Then the real cabinet opens.
    site.publish("darong-a", [(f"louyu/darong-a/aed/{REAL_AED}", json.dumps(CABINET_OPEN).encode())])

    invented = {f"fake-{n:05d}" for n in range(INVENTED)} | {INVENTED_AED}
    quarantine = site.collector.quarantine
    wait_for(
        lambda: quarantine.count() + quarantine.evicted() == len(invented),
        "the collector to hold or evict every invented device",
    )
    wait_for(
        lambda: site.rules.engine.intake.outcomes["unregistered"] == len(invented),
        "the rules engine to count every invented reading as unregistered",
    )
    wait_for(lambda: influx_count(site.influxd.url, "aed", "state") == 2, "the real cabinet's reading stored")
    cabinet = one_alert(site, "aed-cabinet-open", "darong-a", REAL_AED)
    assert (cabinet["severity"], cabinet["state"]) == ("critical", "firing")
    # On the patrols' topics: the real cabinet, and the building's one alert about the invented
    # devices; nothing raised for any of them.
    heard = [patrol.expect("louyu/alerts/darong-a/critical/aed-cabinet-open", timeout=10), *patrol.drain()]
    events = [(m.topic, json.loads(m.payload)) for m in heard]
    assert sorted((topic, body["event"], body["alert"]["device"]) for topic, body in events) == [
        ("louyu/alerts/darong-a/critical/aed-cabinet-open", "raised", REAL_AED),
        ("louyu/alerts/darong-a/warning/unknown-devices", "raised", "darong-a"),
    ]
    # The building's one alert about them, with their (bounded) count, brought up to date now
    # rather than at the engine's next maintenance round.
    site.rules.engine.maintain(utcnow())
    (unknown,) = site.alerts(rule="unknown-devices")
    assert (unknown["building"], unknown["severity"], unknown["state"], unknown["value"]) == (
        "darong-a",
        "warning",
        "firing",
        min(len(invented), MAX_PER_BUILDING),
    )

    # Half an hour later, the liveness sweep: before quarantine, this raised one minor alert per
    # invented device. Now it raises liveness alerts for the registered devices only, all newer
    # than the cabinet's and many of them: the list must still put the cabinet first.
    site.rules.engine.sweep(utcnow() + LATER)

    alerts = site.alerts()
    assert len(alerts) > 10, "the sweep raised the registered devices' liveness alerts"
    # No alert for an invented device; only the building's one `unknown-devices` alert may speak
    # of them (it counts them).
    assert [a for a in alerts if a["device"] in invented] == []
    assert [a["id"] for a in alerts if a["rule"] == "unknown-devices"] == [unknown["id"]]
    mentioning = [a for a in alerts if any(d in json.dumps(a) for d in ("fake-", INVENTED_AED))]
    assert [a["rule"] for a in mentioning if a["rule"] != "unknown-devices"] == []
    assert [a["id"] for a in alerts if a["severity"] == "critical"] == [cabinet["id"]]
    # Many alerts are newer than the cabinet's: a list by time alone would not show it first.
    assert sum(a["started_at"] > cabinet["started_at"] for a in alerts) > 10

    # Not one series more in InfluxDB; no invented device in the API's device table.
    assert series(site.influxd) == series_before
    with site.web.client(Role.VIEWER) as client:
        answer = client.get("/api/v1/devices", params={"building": "darong-a"})
    assert answer.status_code == 200, answer.text
    listed = {d["device"] for d in answer.json()["items"]}
    assert REAL_AED in listed
    assert listed & invented == set()

    # In Chromium: the real cabinet's critical alert is the first row of the alert list.
    page, errors = dashboard(browser, site, contract)
    try:
        rows = page.locator("#alert-list > li")
        expect(rows.first).to_have_attribute("data-id", str(cabinet["id"]))
        expect(rows.first).to_have_attribute("data-severity", "critical")
        expect(rows.first).to_contain_text(REAL_AED)
        expect(rows.nth(1)).not_to_have_attribute("data-severity", "critical")
        expect(page.locator('#severity-counts [data-severity="critical"] .count')).to_have_text("1")
        # No row links to an invented device.
        expect(page.locator('#alert-list a[href*="/fake-"]')).to_have_count(0)
        expect(page.locator(f'#alert-list a[href$="/{INVENTED_AED}"]')).to_have_count(0)
        screenshot(page, "abuse-invented-devices-wall-zh")
        assert errors == [], errors
    finally:
        page.context.close()
    assert contract.calls("/api/v1/alerts") >= 1
    print(f"{INVENTED + 1:,} invented readings published through the shipped broker in {flood_s:.1f} s")


def test_a_building_going_offline_is_an_alert_and_its_aeds_stay_visible(
    browser: Browser, site: Site, contract: ApiContract
) -> None:
    # darong-b's gateway declares its building offline (retained or not: tests/rules/test_lane.py).
    site.publish("darong-b", [("louyu/darong-b/availability", b"offline")])
    wait_for(lambda: site.alerts(rule="building-offline"), "the building-offline alert")
    offline = one_alert(site, "building-offline", "darong-b", "darong-b")
    assert (offline["severity"], offline["state"]) == ("major", "firing")

    # While it says so, a real cabinet of the building opens: condition rules are never held back.
    site.publish("darong-b", [("louyu/darong-b/aed/aed-b-1f-lobby", json.dumps(CABINET_OPEN).encode())])
    wait_for(lambda: site.alerts(rule="aed-cabinet-open"), "the cabinet's alert")
    cabinet = one_alert(site, "aed-cabinet-open", "darong-b", "aed-b-1f-lobby")

    # Half an hour on, the building's devices are all silent: its minor liveness alerts are held
    # back, its AEDs' are raised anyway, labelled with what would have held them back.
    site.rules.engine.sweep(utcnow() + LATER)
    b = site.alerts(building="darong-b")
    aed_offline = sorted(
        (a["device"], a["labels"].get("inhibited_by")) for a in b if a["rule"] == "aed-offline"
    )
    assert aed_offline == [
        ("aed-b-12f-lift", "building-offline"),
        ("aed-b-1f-lobby", "building-offline"),
    ]
    assert [a for a in b if a["severity"] == "minor"] == []
    assert site.rules.engine.metrics.inhibited.labels("device-offline")._value.get() >= 1

    page, errors = dashboard(browser, site, contract)
    try:
        rows = page.locator("#alert-list > li")
        expect(rows.first).to_have_attribute("data-id", str(cabinet["id"]))
        offline_row = page.locator(f'#alert-list > li[data-id="{offline["id"]}"]')
        expect(offline_row).to_have_attribute("data-severity", "major")
        expect(offline_row.locator('[data-role="inhibited"]')).to_have_count(0)
        # Each AED of the building is on the list, marked as raised during the outage.
        for device in ("aed-b-12f-lift", "aed-b-1f-lobby"):
            (aed,) = [a for a in b if a["rule"] == "aed-offline" and a["device"] == device]
            flag = page.locator(f'#alert-list > li[data-id="{aed["id"]}"] [data-role="inhibited"]')
            expect(flag).to_have_text("离线期间（building-offline）")  # noqa: RUF001
        expect(page.locator('#alert-list [data-role="inhibited"]')).to_have_count(2)
        screenshot(page, "abuse-building-offline-wall-zh")
        assert errors == [], errors
    finally:
        page.context.close()
