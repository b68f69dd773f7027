"""Who the routing file pages about an alert, and which receivers a token's name stands for."""

from __future__ import annotations

import datetime as dt

import pytest

from rules.notify.audience import paged_about, receivers_of
from rules.notify.config import parse_routing

CONFIG = parse_routing("""
timezone: Asia/Shanghai
receivers:
  - {name: patrol-day, mqtt: {}, people: [wang, li], on_duty: [{start: "08:00", end: "20:00"}]}
  - {name: patrol-night, mqtt: {}, people: [li], on_duty: [{start: "20:00", end: "08:00"}]}
  - {name: supervisor, mqtt: {}}
  - {name: city, webhook: {url: "https://city.example.cn/hook", secret_env: CITY_SECRET}}
routes:
  - name: city
    receivers: [city]
    events: [resolved]
    continue: true
  - name: aed
    match: {rule: ["aed-*"]}
    receivers: [patrol-day, patrol-night]
    escalate: [{after: 5m, receivers: [supervisor]}]
  - name: quiet
    match: {severity: warning}
    receivers: [patrol-day]
""")
START = dt.datetime(2026, 11, 27, 2, 0, tzinfo=dt.UTC)  # 10:00 in Qingdao: the day shift


def aed(**extra: object) -> dict[str, object]:
    return {
        "rule": "aed-cabinet-open",
        "severity": "critical",
        "kind": "aed",
        "building": "darong-b",
        **extra,
    }


@pytest.mark.parametrize(
    ("person", "names"),
    [
        ("wang", ["patrol-day"]),
        ("li", ["patrol-day", "patrol-night"]),
        ("supervisor", ["supervisor"]),
        ("chen", []),
    ],
)
def test_a_token_name_stands_for_the_receivers_naming_it(person: str, names: list[str]) -> None:
    assert [r.name for r in receivers_of(CONFIG, person)] == names


def test_every_level_with_its_time_and_who_is_on_duty() -> None:
    paged = paged_about(CONFIG, aed(), START, START + dt.timedelta(minutes=1))
    assert [(p.receiver, p.route, p.level, p.due_at - START, p.on_duty) for p in paged] == [
        ("patrol-day", "aed", 0, dt.timedelta(0), True),
        ("patrol-night", "aed", 0, dt.timedelta(0), False),
        ("supervisor", "aed", 1, dt.timedelta(minutes=5), True),
    ]
    now = START + dt.timedelta(minutes=1)
    assert [p.receiver for p in paged if p.called_by(now)] == ["patrol-day"]
    later = START + dt.timedelta(minutes=5)
    assert [p.receiver for p in paged if p.called_by(later)] == ["patrol-day", "supervisor"]


def test_limited_to_some_receivers_and_routes_that_page_nobody_on_raise() -> None:
    assert [p.receiver for p in paged_about(CONFIG, aed(), START, START, {"supervisor"})] == ["supervisor"]
    # The city route takes resolutions only: the city is never "paged" about a raised alert.
    assert all(p.receiver != "city" for p in paged_about(CONFIG, aed(), START, START))
    # A silenced alert pages nobody on a route that does not ask for silenced ones.
    assert paged_about(CONFIG, aed(silenced=True), START, START) == []
    assert paged_about(CONFIG, {"rule": "canteen-crowded", "severity": "info"}, START, START) == []
