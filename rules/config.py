"""The rules file: YAML, validated with pydantic at start-up, every mistake named with its line.

    version: 1
    defaults: {escalate_after: {critical: 5m, major: 15m}, flapping: {changes: 6, window: 30m}}
    rules:
      - id: parking-lot-full
        severity: warning
        match: {kinds: [parking_lot]}
        when:  {ratio: [occupied, capacity], op: ge, value: 0.95}
        clear: {ratio: [occupied, capacity], op: lt, value: 0.90}
        for: 2m

A rule is either a condition rule (`when`, optional `clear` for hysteresis and `for` for a
duration) or a liveness rule (`silent_for` and/or `offline`). See docs/rules.md.
"""

from __future__ import annotations

import datetime as dt
import re
import string
import typing
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from collector.models import KINDS
from collector.parsing import Aed, Canteen, ParkingLot, ParkingSpace
from collector.registry import DeviceInfo
from collector.yaml_text import compose_and_load
from rules.conditions import REGISTRY_FIELDS, Condition
from rules.errors import RulesFileError
from rules.schedule import Schedule

Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
KindName = Literal["parking_space", "parking_lot", "aed", "canteen"]
Severity = Literal["critical", "major", "minor", "warning", "info"]
TagName = Literal["floor", "zone", "lot", "gateway"]
_PAYLOADS: Final = (
    ("parking_space", ParkingSpace),
    ("parking_lot", ParkingLot),
    ("aed", Aed),
    ("canteen", Canteen),
)
PAYLOAD_FIELDS: Final[dict[str, frozenset[str]]] = {
    kind: frozenset(cls.__annotations__) - {"ts"} for kind, cls in _PAYLOADS
}
# The fields every message of a kind carries (the contract's required ones); the others a device
# may never send, and a rule must not wait on them (docs/rules.md, "Fields a device has not reported").
REQUIRED_FIELDS: Final[dict[str, frozenset[str]]] = {
    kind: frozenset(
        name
        for name, hint in typing.get_type_hints(cls, include_extras=True).items()
        if typing.get_origin(hint) is typing.Required
    )
    for kind, cls in _PAYLOADS
}
PLACEHOLDERS: Final = frozenset(
    {"rule", "building", "building_name", "kind", "device", "name", "location", "floor", "zone", "value"}
)
SummaryLang = Literal["zh", "en"]
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNITS: Final = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> Any:
    """`90s`, `2m`, `1.5h`, `1d`, or a number of seconds."""
    if isinstance(value, dt.timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text like 2m, 90s, 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match[1]) * _UNITS[match[2]]
    else:
        raise ValueError(f"{value!r} is not a duration (like 2m, 90s, 1h, 1d)")
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    return dt.timedelta(seconds=seconds)


Duration = Annotated[dt.timedelta, BeforeValidator(parse_duration)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Match(_Strict):
    """Which devices a rule watches: every given list must contain the device (empty: all)."""

    kinds: list[KindName] | None = None
    buildings: list[Name] | None = None
    devices: list[Name] | None = None
    tags: dict[TagName, str | list[str]] | None = None

    def accepts(self, building: str, kind: str, device: str, info: DeviceInfo | None) -> bool:
        if self.kinds is not None and kind not in self.kinds:
            return False
        if self.buildings is not None and building not in self.buildings:
            return False
        if self.devices is not None and device not in self.devices:
            return False
        if self.tags:
            if info is None:
                return False
            for tag, wanted in self.tags.items():
                have = getattr(info, tag)
                if have is None or have not in ([wanted] if isinstance(wanted, str) else wanted):
                    return False
        return True


class Flapping(_Strict):
    """An alert whose condition changes `changes` times within `window` is flapping: it stays open,
    marked, until the condition has stayed clear for `settle`."""

    changes: int = Field(6, ge=2)
    window: Duration = dt.timedelta(minutes=30)
    settle: Duration = dt.timedelta(minutes=10)


_ESCALATE_AFTER: Final[dict[Severity, dt.timedelta]] = {
    "critical": dt.timedelta(minutes=5),
    "major": dt.timedelta(minutes=15),
}


class Defaults(_Strict):
    escalate_after: dict[Severity, Duration] = Field(default_factory=lambda: dict(_ESCALATE_AFTER))
    max_escalation: int = Field(3, ge=0, le=10)
    flapping: Flapping = Flapping()


class Rule(_Strict):
    id: Name
    severity: Severity
    enabled: bool = True
    description: str | None = None
    # One text, or one per language (`{zh: ..., en: ...}`): the alert's `summary` is the English one
    # (else the first given), and each language's text goes in its labels as `summary_<lang>`.
    summary: str | dict[SummaryLang, str] | None = None
    match: Match = Match()
    when: Condition | None = None
    clear: Condition | None = None
    for_: Duration | None = Field(None, alias="for")
    silent_for: Duration | None = None
    offline: bool = False
    schedule: Schedule | None = None
    escalate_after: Duration | None = None
    flapping: Flapping | None = None

    @model_validator(mode="after")
    def _check(self) -> Rule:
        liveness = self.silent_for is not None or self.offline
        if self.when is None and not liveness:
            raise ValueError("a rule needs `when` (a condition), or `silent_for` and/or `offline: true`")
        if self.when is not None and liveness:
            raise ValueError("@when: `when` cannot be combined with `silent_for`/`offline`: make two rules")
        if self.when is None and (self.clear is not None or self.for_ is not None):
            raise ValueError(
                f"@{'clear' if self.clear is not None else 'for'}: `clear` and `for` need a `when`"
            )
        templates = [self.summary] if isinstance(self.summary, str) else list((self.summary or {}).values())
        if isinstance(self.summary, dict) and not self.summary:
            raise ValueError("@summary: give at least one language (zh, en)")
        for template in templates:
            for _, name, spec, conv in string.Formatter().parse(template):
                if name is not None and (name not in PLACEHOLDERS or spec or conv):
                    raise ValueError(
                        f"@summary: placeholder {{{name}}} is not one of {', '.join(sorted(PLACEHOLDERS))}"
                    )
        kinds = self.match.kinds or list(KINDS)
        for where, cond in (("when", self.when), ("clear", self.clear)):
            if cond is None:
                continue
            for name in sorted(cond.fields()):
                if name in REGISTRY_FIELDS:
                    continue
                missing = [k for k in kinds if name not in PAYLOAD_FIELDS[k]]
                if self.match.kinds is None and len(missing) < len(kinds):
                    continue
                if missing:
                    raise ValueError(f"@{where}: field {name!r} is not a field of kind {', '.join(missing)}")
        return self

    @property
    def liveness(self) -> bool:
        return self.when is None

    def waits_on_optional(self) -> list[tuple[str, str, list[str]]]:
        """Where this rule, once fired, cannot be decided until a device sends an optional field:
        (`when` or `clear`, kind, the fields). Under plain three-valued logic such a rule could
        stay open for ever on a device that never sends them; the engine clears it instead
        (docs/rules.md), and `louyu rules check` says so."""
        if self.when is None:
            return []
        found: list[tuple[str, str, list[str]]] = []
        for kind in self.match.kinds or KINDS:
            always = REQUIRED_FIELDS[kind] | frozenset(REGISTRY_FIELDS)
            where, decides, want = ("clear", self.clear, True) if self.clear else ("when", self.when, False)
            assert decides is not None
            missing: set[str] = set()
            for fired_with in self.when.witnesses(True):
                known = fired_with | always
                if not decides.reachable(want, known):
                    missing |= decides.fields() - known
            if missing:
                found.append((where, kind, sorted(missing)))
        return found


class RulesFile(_Strict):
    version: Literal[1] = 1
    defaults: Defaults = Defaults()
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique(self) -> RulesFile:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return self


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A validated rules file, with the per-rule settings resolved against the defaults."""

    file: RulesFile
    source: str

    @property
    def rules(self) -> list[Rule]:
        return [r for r in self.file.rules if r.enabled]

    @property
    def urgent_kinds(self) -> frozenset[str]:
        """The kinds a critical rule watches: the engine evaluates their messages ahead of any
        backlog of the others (rules/lanes.py)."""
        return frozenset(k for r in self.rules if r.severity == "critical" for k in (r.match.kinds or KINDS))

    def escalate_after(self, rule: Rule) -> dt.timedelta | None:
        return rule.escalate_after or self.file.defaults.escalate_after.get(rule.severity)

    def flapping(self, rule: Rule) -> Flapping:
        return rule.flapping or self.file.defaults.flapping

    def get(self, rule_id: str) -> Rule | None:
        return next((r for r in self.file.rules if r.id == rule_id), None)


# ------------------------------------------------------------------ loading


def _node_at(root: yaml.Node | None, loc: tuple[int | str, ...]) -> tuple[yaml.Node | None, list[str]]:
    """Walk the YAML node tree along a pydantic error location; skip parts that are not keys
    (union tags and the like). Returns the deepest node reached and the path walked."""
    node, walked = root, []
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    node = value_node
                    walked.append(str(part))
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            walked.append(f"[{part}]")
    return node, walked


def _duplicate_keys(node: yaml.Node | None, problems: list[tuple[int, str]]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    problems.append((key_node.start_mark.line + 1, f"key {key_node.value!r} appears twice"))
                seen.add(key_node.value)
            _duplicate_keys(value_node, problems)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _duplicate_keys(item, problems)


def _duplicate_ids(root: yaml.Node | None, problems: list[tuple[int, str]]) -> None:
    rules, _ = _node_at(root, ("rules",))
    if not isinstance(rules, yaml.SequenceNode):
        return
    seen: set[str] = set()
    for index in range(len(rules.value)):
        node, walked = _node_at(rules, (index, "id"))
        if walked == [f"[{index}]", "id"] and isinstance(node, yaml.ScalarNode):
            if node.value in seen:
                problems.append((node.start_mark.line + 1, f"rule id {node.value!r} is used twice"))
            seen.add(node.value)


def _rule_label(raw: Any, walked: list[str]) -> str:
    if len(walked) >= 2 and walked[0] == "rules" and isinstance(raw, dict):
        index = int(walked[1].strip("[]"))
        rules = raw.get("rules")
        if isinstance(rules, list) and index < len(rules) and isinstance(rules[index], dict):
            rule_id = rules[index].get("id")
            rest = ".".join(walked[2:]).replace(".[", "[")
            name = f"rule {rule_id}" if isinstance(rule_id, str) else f"rules[{index}]"
            return f"{name}: {rest}: " if rest else f"{name}: "
    path = ".".join(walked).replace(".[", "[")
    return f"{path}: " if path else ""


def check_warnings(text: str, model: RulesFile) -> list[str]:
    """What a valid rules file may not mean to say, as `line N: ...`: the rules whose decision,
    once fired, waits on a field the device need not send."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    warnings: list[tuple[int, str]] = []
    for index, rule in enumerate(model.rules):
        for where, kind, fields in rule.waits_on_optional():
            node, _ = _node_at(root, ("rules", index, where))
            line_no = node.start_mark.line + 1 if node is not None else 1
            names = ", ".join(fields)
            warnings.append(
                (
                    line_no,
                    f"rule {rule.id}: {where}: undecided while a device of kind {kind} has not sent {names}"
                    " (optional); the alert then clears once `when` is not true",
                )
            )
    return [f"line {line}: {message}" for line, message in sorted(dict.fromkeys(warnings))]


def check_text(text: str) -> tuple[RulesFile | None, list[str]]:
    """Validate rules-file text: the model, or every problem as `line N: what is wrong`."""
    try:
        root, raw = compose_and_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line_no = mark.line + 1 if mark is not None else 1
        problem = getattr(error, "problem", None) or getattr(error, "reason", None) or str(error)
        return None, [f"line {line_no}: not valid YAML: {problem}"]
    found: list[tuple[int, str]] = []
    _duplicate_keys(root, found)
    if not isinstance(raw, dict):
        return None, ["line 1: a rules file is a mapping with a `rules` list"]
    _duplicate_ids(root, found)
    try:
        model = RulesFile.model_validate(raw)
    except ValidationError as error:
        for item in error.errors(include_url=False):
            message = item["msg"].removeprefix("Value error, ")
            loc = tuple(item["loc"])
            # A rule-level check names the key it is about as "@key: ...": point at that key's line.
            if message.startswith("@"):
                key, _, message = message[1:].partition(": ")
                loc = (*loc, key)
            node, walked = _node_at(root, loc)
            line_no = node.start_mark.line + 1 if node is not None else 1
            found.append((line_no, f"{_rule_label(raw, walked)}{message}"))
        model = None
    found.sort(key=lambda p: p[0])
    problems = [f"line {line}: {message}" for line, message in dict.fromkeys(found)]
    return (model if not problems else None), problems


def default_rules_text() -> str:
    return resources.files("rules.data").joinpath("default_rules.yaml").read_text("utf-8")


def load_rules(path: Path | str | None = None) -> RuleSet:
    """Load and validate a rules file (None: the shipped defaults). Raises RulesFileError."""
    if path is None:
        text, where = default_rules_text(), "default_rules.yaml (shipped)"
    else:
        where = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except OSError as error:
            raise RulesFileError(where, [f"cannot read: {error.strerror}"]) from error
    model, problems = check_text(text)
    if model is None:
        raise RulesFileError(where, problems)
    return RuleSet(model, where)
