"""Structured conditions of the rules file: (field, operator, value), ratios, any/all/not. No eval.

Each condition answers True, False or None (unknown), by three-valued (Kleene) logic: a comparison
on a field the device has not reported is unknown whatever the operator (`ne` and `not_in`
too); `any` is true when one branch is true, false when all are false; `all` is false when one
is false, true when all are true; `not` swaps true and false and keeps unknown. What the engine
does with an unknown answer (it never raises, and cannot hold an alert open) is decided in
`rules/engine.py` and documented in docs/rules.md ("Fields a device has not reported").

Evaluation is pure: the device's latest fields, its registry entry and today's date in the
registry's timezone are passed in. `reachable` answers, without any reading, whether a condition
can be decided one way when only some fields are known: `louyu rules check` uses it to name the
rules whose decision can wait on an optional field.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from collector.models import FieldValue
from collector.registry import DeviceInfo

Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "within_days"]
Literal_ = bool | int | float | str
# Registry attributes a rule may read. `capacity` is also the fallback of a payload field of that name.
REGISTRY_FIELDS: Final = ("capacity",)
_ORDER_OPS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
Outcome = tuple[bool | None, FieldValue | None]
# More ways to fire than this and `witnesses` stops enumerating (a rules file is small; this
# only bounds a pathological nesting of `all` over `any`).
_MAX_WITNESSES: Final = 64


def _product(choices: list[list[frozenset[str]]]) -> list[frozenset[str]]:
    """Every union that takes one set from each list (the fields of one way through an `all`)."""
    out = [frozenset[str]()]
    for options in choices:
        out = [a | b for a in out for b in options][:_MAX_WITNESSES]
    return out


def _union(choices: list[list[frozenset[str]]]) -> list[frozenset[str]]:
    """Any one set of any list (the fields of one way through an `any`)."""
    return list(dict.fromkeys(w for options in choices for w in options))[:_MAX_WITNESSES]


@dataclass(frozen=True, slots=True)
class View:
    """What a condition may look at: the device's latest fields, its registry entry, today."""

    fields: Mapping[str, FieldValue]
    info: DeviceInfo | None
    today: dt.date

    def lookup(self, name: str) -> FieldValue | None:
        """A payload field, else the registry attribute of the same name (capacity)."""
        value = self.fields.get(name)
        if value is None and name in REGISTRY_FIELDS:
            return self.registry(name)
        return value

    def registry(self, name: str) -> FieldValue | None:
        if self.info is None:
            return None
        value: FieldValue | None = getattr(self.info, name, None)
        return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistryRef(_Strict):
    """`{registry: capacity}`: a value from the device's registry entry."""

    registry: Literal["capacity"]


class FieldRef(_Strict):
    """`{field: capacity}`: another field of the same device (with the registry fallback)."""

    field: str


Operand = Literal_ | list[Literal_] | RegistryRef | FieldRef


def _resolve(operand: Operand, view: View) -> Any:
    if isinstance(operand, RegistryRef):
        return view.registry(operand.registry)
    if isinstance(operand, FieldRef):
        return view.lookup(operand.field)
    return operand


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(op: Op, left: Any, right: Any, view: View) -> bool | None:
    if left is None or right is None:
        return None
    if op == "eq":
        return bool(left == right and isinstance(left, bool) == isinstance(right, bool))
    if op == "ne":
        return not (left == right and isinstance(left, bool) == isinstance(right, bool))
    if op in ("in", "not_in"):
        found = isinstance(right, list) and left in right
        return found if op == "in" else not found
    if op == "within_days":
        try:
            when = dt.date.fromisoformat(str(left))
        except ValueError:
            return None
        return (when - view.today).days <= int(right)
    if _is_number(left) and _is_number(right):
        return _ORDER_OPS[op](left, right)
    if isinstance(left, str) and isinstance(right, str):
        return _ORDER_OPS[op](left, right)
    return None


def _check_value(op: Op, value: Operand) -> None:
    if op in ("in", "not_in") and not isinstance(value, list):
        raise ValueError(f"operator {op} needs a list value")
    if op not in ("in", "not_in") and isinstance(value, list):
        raise ValueError(f"operator {op} needs a single value, not a list")
    if op == "within_days" and not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        raise ValueError("operator within_days needs a whole number of days >= 0")
    if op in _ORDER_OPS and isinstance(value, bool):
        raise ValueError(f"operator {op} needs a number, not true/false")


class Compare(_Strict):
    """`{field: battery_pct, op: lt, value: 20}`"""

    field: str
    op: Op
    value: Operand

    @model_validator(mode="after")
    def _check(self) -> Compare:
        _check_value(self.op, self.value)
        return self

    def evaluate(self, view: View) -> Outcome:
        left = view.lookup(self.field)
        return _compare(self.op, left, _resolve(self.value, view), view), left

    def fields(self) -> set[str]:
        return {self.field} | ({self.value.field} if isinstance(self.value, FieldRef) else set())

    def reachable(self, want: bool, known: frozenset[str]) -> bool:
        return self.fields() <= known

    def witnesses(self, want: bool) -> list[frozenset[str]]:
        return [frozenset(self.fields())]


class RatioCompare(_Strict):
    """`{ratio: [occupied, capacity], op: ge, value: 0.95}`: numerator/denominator against a number."""

    ratio: tuple[str, str]
    op: Literal["lt", "le", "gt", "ge", "eq", "ne"]
    value: float

    def evaluate(self, view: View) -> Outcome:
        top, bottom = view.lookup(self.ratio[0]), view.lookup(self.ratio[1])
        if not (_is_number(top) and _is_number(bottom)) or not bottom:
            return None, None
        assert isinstance(top, int | float) and isinstance(bottom, int | float)
        ratio = round(top / bottom, 4)
        return _compare(self.op, ratio, self.value, view), ratio

    def fields(self) -> set[str]:
        return set(self.ratio)

    def reachable(self, want: bool, known: frozenset[str]) -> bool:
        return self.fields() <= known

    def witnesses(self, want: bool) -> list[frozenset[str]]:
        return [frozenset(self.fields())]


class AnyOf(_Strict):
    """`{any: [...]}`: true when one is true, false when all are false, else unknown (Kleene)."""

    any: list[Condition] = Field(min_length=1)

    def evaluate(self, view: View) -> Outcome:
        unknown = False
        for cond in self.any:
            result, value = cond.evaluate(view)
            if result:
                return True, value
            unknown = unknown or result is None
        return (None if unknown else False), None

    def fields(self) -> set[str]:
        return set().union(*(c.fields() for c in self.any))

    def reachable(self, want: bool, known: frozenset[str]) -> bool:
        found = (c.reachable(want, known) for c in self.any)
        return any(found) if want else all(found)

    def witnesses(self, want: bool) -> list[frozenset[str]]:
        choices = [c.witnesses(want) for c in self.any]
        return _union(choices) if want else _product(choices)


class AllOf(_Strict):
    """`{all: [...]}`: true when all are true, false when one is false, else unknown (Kleene)."""

    all: list[Condition] = Field(min_length=1)

    def evaluate(self, view: View) -> Outcome:
        unknown = False
        first: FieldValue | None = None
        for index, cond in enumerate(self.all):
            result, value = cond.evaluate(view)
            if result is False:
                return False, None
            unknown = unknown or result is None
            if index == 0:
                first = value
        return (None if unknown else True), first

    def fields(self) -> set[str]:
        return set().union(*(c.fields() for c in self.all))

    def reachable(self, want: bool, known: frozenset[str]) -> bool:
        found = (c.reachable(want, known) for c in self.all)
        return all(found) if want else any(found)

    def witnesses(self, want: bool) -> list[frozenset[str]]:
        choices = [c.witnesses(want) for c in self.all]
        return _product(choices) if want else _union(choices)


class NotOf(_Strict):
    """`{not: {...}}`: true when the inner condition is false, false when it is true, else unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    not_: Condition = Field(alias="not")

    def evaluate(self, view: View) -> Outcome:
        result, value = self.not_.evaluate(view)
        return (None if result is None else not result), value

    def fields(self) -> set[str]:
        return self.not_.fields()

    def reachable(self, want: bool, known: frozenset[str]) -> bool:
        return self.not_.reachable(not want, known)

    def witnesses(self, want: bool) -> list[frozenset[str]]:
        return self.not_.witnesses(not want)


def _shape(data: Any) -> str | None:
    """Which kind of condition a mapping is, by its keys (clearer errors than trying each)."""
    if isinstance(data, dict):
        for key, tag in (
            ("any", "any-of"),
            ("all", "all-of"),
            ("not", "not"),
            ("ratio", "ratio-compare"),
            ("field", "compare"),
        ):
            if key in data:
                return tag
        return None
    for cls, tag in (
        (AnyOf, "any-of"),
        (AllOf, "all-of"),
        (NotOf, "not"),
        (RatioCompare, "ratio-compare"),
        (Compare, "compare"),
    ):
        if isinstance(data, cls):
            return tag
    return None


Condition = Annotated[
    Annotated[Compare, Tag("compare")]
    | Annotated[RatioCompare, Tag("ratio-compare")]
    | Annotated[AnyOf, Tag("any-of")]
    | Annotated[AllOf, Tag("all-of")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(
        _shape,
        custom_error_type="condition",
        custom_error_message="a condition needs one of: field (with op and value), ratio, any, all, not",
    ),
]

AnyOf.model_rebuild()
AllOf.model_rebuild()
NotOf.model_rebuild()
