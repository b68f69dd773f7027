"""Fields a device has not reported: what each operator, `any`, `all` and `not` answer, what the
engine then does with an alert, and which rules `louyu rules check` warns about."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import TypeAdapter

from collector.models import FieldValue, Reading
from rules.conditions import Condition, View
from rules.config import check_text, check_warnings
from tests.rules.conftest import T0, Harness

CONDITION: TypeAdapter[Any] = TypeAdapter(Condition)
TODAY = dt.date(2026, 11, 27)
MakeHarness = Callable[..., Harness]
T, F, U = True, False, None


def answer(condition: dict[str, object], fields: dict[str, FieldValue]) -> bool | None:
    result, _ = CONDITION.validate_python(condition).evaluate(View(fields, None, TODAY))
    assert result is None or isinstance(result, bool)
    return result


def leaf(value: bool | None) -> dict[str, object]:
    """A comparison that answers `value`: on field `f` when reported, unknown when not."""
    return {"field": f"f{value}", "op": "eq", "value": True}


LEAF_FIELDS: dict[str, FieldValue] = {"fTrue": True, "fFalse": False}


# Every operator on a field the device has not reported is unknown, `ne` and `not_in` included:
# an absence is never read as "different from".
@pytest.mark.parametrize(
    "condition",
    [
        {"field": "self_test", "op": "eq", "value": "fail"},
        {"field": "self_test", "op": "ne", "value": "fail"},
        {"field": "battery_pct", "op": "lt", "value": 20},
        {"field": "battery_pct", "op": "le", "value": 20},
        {"field": "battery_pct", "op": "gt", "value": 20},
        {"field": "battery_pct", "op": "ge", "value": 20},
        {"field": "state", "op": "in", "value": ["fault"]},
        {"field": "state", "op": "not_in", "value": ["fault"]},
        {"field": "pads_expiry", "op": "within_days", "value": 30},
        {"field": "occupied", "op": "ge", "value": {"field": "capacity"}},
        {"ratio": ["occupied", "capacity"], "op": "ge", "value": 0.9},
        {"not": {"field": "self_test", "op": "eq", "value": "fail"}},
    ],
)
def test_every_operator_on_an_unreported_field_is_unknown(condition: dict[str, object]) -> None:
    assert answer(condition, {}) is None


# Kleene's tables, branch by branch (T true, F false, U a branch on an unreported field).
@pytest.mark.parametrize(
    ("shape", "branches", "expected"),
    [
        ("any", [T, U], T),
        ("any", [U, T], T),
        ("any", [F, F], F),
        ("any", [F, U], U),
        ("any", [U, U], U),
        ("all", [T, T], T),
        ("all", [T, U], U),
        ("all", [F, U], F),
        ("all", [U, F], F),
        ("all", [U, U], U),
        ("not", [T], F),
        ("not", [F], T),
        ("not", [U], U),
    ],
)
def test_three_valued_logic(shape: str, branches: list[bool | None], expected: bool | None) -> None:
    parts = [leaf(b) for b in branches]
    condition: dict[str, object] = {shape: parts[0]} if shape == "not" else {shape: parts}
    assert answer(condition, LEAF_FIELDS) is expected


AED_FAULT_ALERT = [("aed-fault", "darong-a", "aed", "aed-a-1f-lobby")]


def aed(**fields: FieldValue) -> Reading:
    return Reading("darong-a", "aed", "aed-a-1f-lobby", int(T0.timestamp() * 1000), dict(fields))


def open_rules(h: Harness) -> list[str]:
    return sorted(a.rule for a in h.store.open_alerts())


# What the engine does, reading after reading, for the shipped rules: raised on true only,
# cleared on false, and an unknown answer holds an alert open only while the device has reported
# none of the rule's fields (just after a restart).
@pytest.mark.parametrize(
    ("readings", "expected_open"),
    [
        # The live bug: an AED that never sends self_test reports ready again.
        ([{"state": "fault"}, {"state": "ready"}], []),
        # A self-test failure stays: fields merge, so self_test is still "fail".
        ([{"state": "ready", "self_test": "fail"}, {"state": "ready"}], ["aed-fault"]),
        ([{"state": "ready", "self_test": "fail"}, {"state": "ready", "self_test": "pass"}], []),
        # Unknown never raises: a ready AED without self_test has no fault.
        ([{"state": "ready"}], []),
        # A heartbeat without cabinet_open neither raises nor clears the cabinet's alert.
        ([{"state": "ready", "cabinet_open": True}, {"state": "ready"}], ["aed-cabinet-open"]),
        ([{"state": "ready", "cabinet_open": True}, {"state": "ready", "cabinet_open": False}], []),
    ],
)
def test_engine_decisions_on_unreported_fields(
    make_harness: MakeHarness, readings: list[dict[str, FieldValue]], expected_open: list[str]
) -> None:
    h = make_harness()
    for fields in readings:
        h.engine.handle(aed(**fields), T0)
    assert open_rules(h) == expected_open


def test_after_a_restart_an_open_alert_waits_for_a_reading_about_it(make_harness: MakeHarness) -> None:
    h = make_harness()
    h.engine.handle(aed(state="ready", cabinet_open=True, battery_pct=10), T0)
    assert open_rules(h) == ["aed-battery-low", "aed-cabinet-open"]
    fresh = h.restart()
    fresh.engine.load(T0)
    # The restarted engine has seen nothing of this AED: a message with only `state` says nothing
    # about the cabinet or the battery, so neither alert is closed on it.
    fresh.engine.handle(aed(state="ready"), T0)
    assert open_rules(fresh) == ["aed-battery-low", "aed-cabinet-open"]
    fresh.engine.handle(aed(state="ready", cabinet_open=False), T0)
    assert open_rules(fresh) == ["aed-battery-low"]


def test_a_clear_condition_on_an_unreported_field_cannot_hold_an_alert(make_harness: MakeHarness) -> None:
    h = make_harness(
        """
rules:
  - id: aed-unhealthy
    severity: major
    match: {kinds: [aed]}
    when: {field: state, op: eq, value: fault}
    clear: {all: [{field: state, op: eq, value: ready}, {field: self_test, op: eq, value: pass}]}
  - id: aed-not-ready
    severity: major
    match: {kinds: [aed]}
    when: {not: {all: [{field: state, op: eq, value: ready}, {field: self_test, op: eq, value: pass}]}}
"""
    )
    h.engine.handle(aed(state="fault"), T0)
    assert open_rules(h) == ["aed-not-ready", "aed-unhealthy"]
    # Under plain three-valued logic both would stay open for ever on an AED without self_test.
    h.engine.handle(aed(state="ready"), T0)
    assert open_rules(h) == []
    # A clear condition that is decided false still holds (hysteresis): self_test "fail".
    h.engine.handle(aed(state="fault", self_test="fail"), T0)
    h.engine.handle(aed(state="ready"), T0)
    assert open_rules(h) == ["aed-not-ready", "aed-unhealthy"]


CHECKED = """\
version: 1
rules:
  - id: aed-fault
    severity: major
    match: {kinds: [aed]}
    when:
      any:
        - {field: state, op: eq, value: fault}
        - {field: self_test, op: eq, value: fail}
  - id: cabinet
    severity: critical
    match: {kinds: [aed]}
    when: {field: cabinet_open, op: eq, value: true}
  - id: both
    severity: minor
    match: {kinds: [aed]}
    when: {all: [{field: battery_pct, op: lt, value: 20}, {field: temp_c, op: lt, value: 0}]}
  - id: unhealthy
    severity: major
    match: {kinds: [aed]}
    when: {field: state, op: eq, value: fault}
    clear: {all: [{field: state, op: eq, value: ready}, {field: self_test, op: eq, value: pass}]}
  - id: lot
    severity: warning
    match: {kinds: [parking_lot]}
    when: {ratio: [occupied, capacity], op: ge, value: 0.95}
    clear: {ratio: [occupied, capacity], op: lt, value: 0.90}
"""


def test_check_warns_about_rules_that_wait_on_optional_fields() -> None:
    model, problems = check_text(CHECKED)
    assert model is not None, problems
    assert check_warnings(CHECKED, model) == [
        "line 7: rule aed-fault: when: undecided while a device of kind aed has not sent self_test (optional);"
        " the alert then clears once `when` is not true",
        "line 22: rule unhealthy: clear: undecided while a device of kind aed has not sent self_test (optional);"
        " the alert then clears once `when` is not true",
    ]
