"""Rules file: the shipped defaults, conditions, schedules, and mistakes named with their lines."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from collector.registry import DeviceInfo
from louyu.cli import app
from rules.conditions import View
from rules.config import check_text, load_rules, parse_duration
from rules.errors import RulesFileError
from rules.liveness import find_silent, gateway_down
from rules.schedule import Schedule
from tests.rules.conftest import ruleset_from

TODAY = dt.date(2026, 11, 27)
LOT = DeviceInfo("darong-a", "parking_lot", "garage", capacity=100)


def test_shipped_defaults_are_the_contract_rules() -> None:
    ruleset = load_rules()
    got = {r.id: r.severity for r in ruleset.rules}
    assert got == {
        "aed-cabinet-open": "critical",
        "aed-in-use": "critical",
        "aed-fault": "major",
        "aed-offline": "major",
        "aed-battery-low": "minor",
        "aed-pads-expiring": "minor",
        "parking-lot-full": "warning",
        "canteen-crowded": "warning",
        "device-offline": "minor",
    }
    by_id = {r.id: r for r in ruleset.rules}
    assert by_id["parking-lot-full"].for_ == dt.timedelta(minutes=2)
    assert by_id["canteen-crowded"].for_ == dt.timedelta(minutes=5)
    assert by_id["aed-offline"].silent_for == dt.timedelta(minutes=15) and by_id["aed-offline"].offline
    assert by_id["device-offline"].silent_for == dt.timedelta(minutes=30)
    assert "aed" not in (by_id["device-offline"].match.kinds or [])


def test_rules_file_env_path_and_errors(tmp_path: Path) -> None:
    good = tmp_path / "rules.yaml"
    good.write_text(
        "rules:\n  - {id: x, severity: info, match: {kinds: [aed]}, when: {field: state, op: eq, value: fault}}\n"
    )
    assert [r.id for r in load_rules(good).rules] == ["x"]
    with pytest.raises(RulesFileError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")


CASES = [
    ({"field": "battery_pct", "op": "lt", "value": 20}, {"battery_pct": 19.5}, True),
    ({"field": "battery_pct", "op": "lt", "value": 20}, {"battery_pct": 20.0}, False),
    ({"field": "battery_pct", "op": "lt", "value": 20}, {}, None),
    ({"field": "cabinet_open", "op": "eq", "value": True}, {"cabinet_open": True}, True),
    ({"field": "cabinet_open", "op": "eq", "value": True}, {"cabinet_open": False}, False),
    ({"field": "state", "op": "in", "value": ["fault", "service"]}, {"state": "service"}, True),
    ({"field": "state", "op": "not_in", "value": ["fault"]}, {"state": "ready"}, True),
    ({"field": "pads_expiry", "op": "within_days", "value": 30}, {"pads_expiry": "2026-12-27"}, True),
    ({"field": "pads_expiry", "op": "within_days", "value": 30}, {"pads_expiry": "2026-12-28"}, False),
    ({"field": "pads_expiry", "op": "within_days", "value": 30}, {"pads_expiry": "2025-01-01"}, True),
    ({"ratio": ["occupied", "capacity"], "op": "ge", "value": 0.95}, {"occupied": 95}, True),
    (
        {"ratio": ["occupied", "capacity"], "op": "ge", "value": 0.95},
        {"occupied": 95, "capacity": 200},
        False,
    ),
    ({"field": "occupied", "op": "ge", "value": {"registry": "capacity"}}, {"occupied": 100}, True),
    ({"field": "occupied", "op": "gt", "value": {"field": "capacity"}}, {"occupied": 100}, False),
    (
        {"any": [{"field": "state", "op": "eq", "value": "fault"}, {"field": "x", "op": "eq", "value": 1}]},
        {"state": "ready"},
        None,
    ),
    (
        {"any": [{"field": "state", "op": "eq", "value": "fault"}, {"field": "x", "op": "eq", "value": 1}]},
        {"state": "fault"},
        True,
    ),
    (
        {
            "all": [
                {"field": "occupied", "op": "gt", "value": 1},
                {"field": "entered", "op": "gt", "value": 1},
            ]
        },
        {"occupied": 5, "entered": 0},
        False,
    ),
]


@pytest.mark.parametrize(("condition", "fields", "expected"), CASES)
def test_conditions(condition: dict[str, object], fields: dict[str, object], expected: bool | None) -> None:
    from pydantic import TypeAdapter

    from rules.conditions import Condition

    cond = TypeAdapter(Condition).validate_python(condition)
    result, _ = cond.evaluate(View(fields, LOT, TODAY))  # type: ignore[arg-type]
    assert result is expected


BAD = """\
version: 1
rules:
  - id: a
    severity: critcal
    match: {kinds: [aed]}
    when: {field: cabinet_open, op: equals, value: true}
  - id: b
    severity: minor
    match: {kinds: [parking_lot]}
    when:
      any:
        - {field: occupied, op: gt, value: 3}
        - {nothing: 1}
    for: 2x
  - id: a
    severity: info
    silent_for: 5m
    summary: "{bogus}"
  - id: c
    severity: info
    match: {kinds: [parking_lot]}
    when: {field: ocupied, op: gt, value: 1}
  - id: d
    severity: info
    when: {field: battery_pct, op: lt, value: true}
    silent_for: 5m
"""


def test_check_names_every_mistake_with_its_line() -> None:
    model, problems = check_text(BAD)
    assert model is None
    lines = [p.split(":")[0] for p in problems]
    assert lines == ["line 4", "line 6", "line 13", "line 14", "line 15", "line 18", "line 22", "line 25"]
    text = "\n".join(problems)
    assert "severity" in text and "critcal" not in text.split("line 6")[1]
    assert "'2x' is not a duration" in text
    assert "rule id 'a' is used twice" in text
    assert "{bogus}" in text
    assert "field 'ocupied' is not a field of kind parking_lot" in text
    assert "rule c: when: field 'ocupied'" in text
    assert problems[-1] == "line 25: rule d: when: operator lt needs a number, not true/false"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("rules: [", "line 1: not valid YAML"),
        ("- 1\n- 2\n", "line 1: a rules file is a mapping"),
        (
            "rules:\n  - id: x\n    id: y\n    severity: info\n    offline: true\n",
            "line 3: key 'id' appears twice",
        ),
        (
            "rules:\n  - {id: x, severity: info, offline: true, for: 2m}\n",
            "line 2: rule x: for: `clear` and `for` need a `when`",
        ),
    ],
)
def test_check_other_mistakes(text: str, fragment: str) -> None:
    model, problems = check_text(text)
    assert model is None
    assert any(fragment in p for p in problems), problems


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_check_never_raises_on_any_text(text: str) -> None:
    model, problems = check_text(text)
    assert (model is None) == bool(problems)
    assert all(p.startswith("line ") for p in problems)


@settings(max_examples=60, deadline=None)
@given(
    threshold=st.floats(min_value=0.01, max_value=5, allow_nan=False),
    minutes=st.integers(min_value=1, max_value=600),
    severity=st.sampled_from(["critical", "major", "minor", "warning", "info"]),
)
def test_generated_valid_rules_load(threshold: float, minutes: int, severity: str) -> None:
    ruleset = ruleset_from(
        f"rules:\n  - id: r\n    severity: {severity}\n    match: {{kinds: [canteen]}}\n"
        f"    when: {{ratio: [occupancy, capacity], op: ge, value: {threshold!r}}}\n    for: {minutes}m\n"
    )
    (rule,) = ruleset.rules
    assert rule.for_ == dt.timedelta(minutes=minutes) and rule.severity == severity


def test_durations() -> None:
    assert parse_duration("90s") == dt.timedelta(seconds=90)
    assert parse_duration("1.5h") == dt.timedelta(minutes=90)
    assert parse_duration(30) == dt.timedelta(seconds=30)
    for bad in ("0s", "soon", True, -1):
        with pytest.raises(ValueError):
            parse_duration(bad)


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2026-11-27T10:59:00", False),  # Friday before service
        ("2026-11-27T11:00:00", True),
        ("2026-11-27T13:29:00", True),
        ("2026-11-27T13:30:00", False),
        ("2026-11-28T12:00:00", False),  # Saturday
        ("2026-11-27T23:00:00", True),  # Friday night shift 22:00-06:00
        ("2026-11-28T05:59:00", True),  # ... running into Saturday morning
        ("2026-11-29T05:00:00", False),  # Sunday morning: Saturday night is not scheduled
    ],
)
def test_schedule_in_registry_timezone(local: str, expected: bool) -> None:
    schedule = Schedule(days=["mon", "tue", "wed", "thu", "fri"], hours=["11:00-13:30", "22:00-06:00"])
    from zoneinfo import ZoneInfo

    now = dt.datetime.fromisoformat(local).replace(tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(dt.UTC)
    assert schedule.active(now, "Asia/Shanghai") is expected


def test_find_silent_and_gateway_down() -> None:
    last_seen = {"a": 100.0, "b": 950.0, "c": 899.0}
    assert sorted(find_silent(last_seen, now=1000.0, max_age=100.0)) == ["a", "c"]
    assert find_silent({}, 1000.0, 1.0) == []
    assert gateway_down("x", None, {"x": False}, set())
    assert not gateway_down("x", None, {"x": True}, set())
    assert gateway_down("x", "gw", {}, {("x", "gw")})
    assert not gateway_down("x", "gw", {}, {("y", "gw")})


def test_cli_check(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    result = runner.invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:4: rule a: severity" in result.output.replace("\n", "")
    assert "8 problem(s)" in result.output
    good = tmp_path / "good.yaml"
    good.write_text(Path("rules/data/default_rules.yaml").read_text())
    result = runner.invoke(app, ["rules", "check", str(good)])
    assert result.exit_code == 0 and "OK, 9 rules (9 enabled), 1 warning(s)" in result.output
    assert f"{good}:34: warning: rule aed-fault: when: undecided" in result.output.replace("\n", "")
    assert runner.invoke(app, ["rules", "check", str(tmp_path / "nope.yaml")]).exit_code == 2
