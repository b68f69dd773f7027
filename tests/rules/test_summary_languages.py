"""Alert summaries per language: a rule may give `summary: {zh: ..., en: ...}` (or one text, as
before); the engine renders each language with that language's half of the registry's texts."""

# Full-width colons are correct in Chinese text.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Callable

import pytest

from collector.models import Reading
from collector.registry import Registry
from rules.config import check_text, load_rules
from tests.rules.conftest import T0, Harness

MakeHarness = Callable[..., Harness]

BILINGUAL = """
version: 1
rules:
  - id: cabinet
    severity: critical
    match: {kinds: [aed]}
    when: {field: cabinet_open, op: eq, value: true}
    summary:
      zh: "{building_name} AED 箱门打开：{location}"
      en: "AED cabinet opened in {building_name}: {location}"
  - id: plain
    severity: minor
    match: {kinds: [aed]}
    when: {field: battery_pct, op: lt, value: 20}
    summary: "AED battery at {value}%: {location}"
"""


@pytest.fixture
def registry() -> Registry:
    """Texts as the shipped registry writes them: "中文 / English"."""
    return Registry.from_text(
        "area: t\ntimezone: Asia/Shanghai\nbuildings:\n"
        "  - id: darong-b\n    name: 大荣中心 B 座\n    name_en: Darong Centre Tower B\n    devices:\n"
        '      - {kind: aed, id: lobby, location: "B 座一楼大堂 / Tower B lobby"}\n'
    )


def test_each_language_gets_its_own_summary(make_harness: MakeHarness) -> None:
    h = make_harness(BILINGUAL)
    ms = int(T0.timestamp() * 1000)
    [raised] = h.engine.handle(
        Reading("darong-b", "aed", "lobby", ms, {"cabinet_open": True, "state": "ready"}), T0
    )
    alert = raised.alert
    assert alert.labels["summary_zh"] == "大荣中心 B 座 AED 箱门打开：B 座一楼大堂"
    assert alert.labels["summary_en"] == "AED cabinet opened in Darong Centre Tower B: Tower B lobby"
    # The alert's own summary is as it always was: the English text, the registry's texts whole.
    assert alert.summary == "AED cabinet opened in Darong Centre Tower B: B 座一楼大堂 / Tower B lobby"
    # One text: no per-language labels, the summary as before.
    [low] = h.engine.handle(
        Reading("darong-b", "aed", "lobby", ms, {"battery_pct": 12.0, "state": "ready"}), T0
    )
    assert low.alert.summary == "AED battery at 12.0%: B 座一楼大堂 / Tower B lobby"
    assert not any(k.startswith("summary_") for k in low.alert.labels)


@pytest.mark.parametrize(
    ("summary", "words"),
    [
        ('{zh: "{nope}", en: "fine"}', "placeholder {nope}"),
        ('{fr: "bonjour"}', "summary"),
        ("{}", "at least one language"),
    ],
)
def test_bad_summaries_are_refused(summary: str, words: str) -> None:
    text = (
        "version: 1\nrules:\n  - id: r\n    severity: info\n    match: {kinds: [aed]}\n"
        f"    when: {{field: battery_pct, op: lt, value: 20}}\n    summary: {summary}\n"
    )
    model, problems = check_text(text)
    assert model is None
    assert any(words in p for p in problems), problems


def test_the_shipped_rules_speak_both_languages() -> None:
    for rule in load_rules().rules:
        assert isinstance(rule.summary, dict) and set(rule.summary) == {"zh", "en"}, rule.id
