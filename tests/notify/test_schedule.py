"""On-duty shifts in Asia/Shanghai, including the night shift across midnight."""

from __future__ import annotations

import datetime as dt

import pytest

from rules.notify.config import parse_routing
from rules.notify.schedule import first_level_on_duty, on_duty_names

CONFIG = parse_routing("""
timezone: Asia/Shanghai
receivers:
  - name: patrol-day
    mqtt: {}
    on_duty: [{start: "08:00", end: "20:00"}]
  - name: patrol-night
    mqtt: {}
    on_duty: [{start: "20:00", end: "08:00"}]
  - name: supervisor
    mqtt: {}
    on_duty: [{days: [mon, tue, wed, thu, fri], start: "09:00", end: "18:00"}]
  - name: weekend-night
    mqtt: {}
    on_duty: [{days: [fri], start: "22:00", end: "06:00"}]
  - {name: manager, mqtt: {}}
routes: []
""")
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def at(text: str) -> dt.datetime:
    """A local Shanghai time, handed over in UTC as the service does."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SHANGHAI).astimezone(dt.UTC)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-11-27 09:30", ["patrol-day", "supervisor", "manager"]),  # Friday morning
        ("2026-11-27 07:59", ["patrol-night", "manager"]),
        ("2026-11-27 08:00", ["patrol-day", "manager"]),
        ("2026-11-27 20:00", ["patrol-night", "manager"]),
        ("2026-11-27 23:00", ["patrol-night", "weekend-night", "manager"]),  # Friday night shift
        ("2026-11-28 03:00", ["patrol-night", "weekend-night", "manager"]),  # ...into Saturday morning
        ("2026-11-28 06:00", ["patrol-night", "manager"]),
        ("2026-11-28 10:00", ["patrol-day", "manager"]),  # Saturday: no supervisor
        ("2026-11-29 03:00", ["patrol-night", "manager"]),  # Saturday night is not Friday night
    ],
)
def test_who_is_on_duty(when: str, expected: list[str]) -> None:
    names = [r.name for r in CONFIG.receivers]
    assert on_duty_names(CONFIG, names, at(when)) == expected


def test_a_level_with_nobody_on_duty_is_passed_over() -> None:
    levels = [["supervisor"], ["manager"]]
    assert first_level_on_duty(CONFIG, levels, 0, at("2026-11-28 10:00")) == (1, ["manager"])
    assert first_level_on_duty(CONFIG, levels, 0, at("2026-11-27 10:00")) == (0, ["supervisor"])
    assert first_level_on_duty(CONFIG, [["supervisor"]], 0, at("2026-11-28 10:00")) is None
