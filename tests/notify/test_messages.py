# ruff: noqa: RUF001  (Chinese text uses full-width punctuation on purpose)
"""Message texts from the Jinja2 templates, Chinese and English."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from collector.registry import Registry
from rules.notify.messages import render

TZ = ZoneInfo("Asia/Shanghai")
RULES = [
    "aed-cabinet-open",
    "aed-in-use",
    "aed-fault",
    "aed-offline",
    "aed-battery-low",
    "aed-pads-expiring",
    "parking-lot-full",
    "canteen-crowded",
    "device-offline",
    "notify-delivery-failed",
    "some-new-rule",
]


def event(kind: str = "raised", rule: str = "aed-cabinet-open", **alert: Any) -> dict[str, Any]:
    return {
        "event_id": 5,
        "event": kind,
        "at": "2026-11-27T01:00:00.000000+00:00",
        "by": "patrol-7" if kind == "acknowledged" else None,
        "note": "on my way" if kind == "acknowledged" else None,
        "alert": {
            "id": 42,
            "rule": rule,
            "severity": "critical",
            "state": "firing",
            "building": "darong-b",
            "kind": "aed",
            "device": "aed-b-1f-lobby",
            "summary": "AED cabinet opened",
            "value": True,
            "started_at": "2026-11-27T01:00:00.123000+00:00",
            "labels": {},
            **alert,
        },
    }


def test_aed_cabinet_message_in_both_languages(registry: Registry) -> None:
    message = render(event(), registry, TZ)
    assert message.title["zh"] == "[紧急告警] 大荣中心 B 座 1F：AED cabinet opened"
    assert message.title["en"] == "[CRITICAL ALERT] Darong Centre Tower B 1F: AED cabinet opened"
    zh, en = message.body["zh"], message.body["en"]
    assert "位置：B 座一楼大堂前台旁 / Tower B lobby, beside reception" in zh
    assert "时间：2026-11-27 09:00:00 CST" in zh
    assert "1. 立即前往 AED 柜" in zh and "拨打 120" in zh
    assert "Location: B 座一楼大堂前台旁 / Tower B lobby, beside reception" in en
    assert "2. Bring the AED to the scene" in en
    title, both = message.text("zh+en")
    assert title.startswith("[紧急告警]") and "[CRITICAL ALERT]" in title and zh in both and en in both


def test_acknowledgement_names_who_and_the_note(registry: Registry) -> None:
    message = render(event("acknowledged", state="acknowledged"), registry, TZ)
    assert "确认人：patrol-7" in message.body["zh"] and "备注：on my way" in message.body["zh"]
    assert "Acknowledged by: patrol-7" in message.body["en"]


def test_reminder_and_escalation_say_so(registry: Registry) -> None:
    reminder = render(event(), registry, TZ, "reminder", reminder=2)
    assert reminder.body["zh"].startswith("提醒（第 2 次）") and reminder.title["en"].startswith(
        "[CRITICAL REMINDER]"
    )
    escalation = render(event(), registry, TZ, "escalation", level=1, minutes=5)
    assert "5 minutes" in escalation.body["en"] and escalation.title["zh"].startswith("[紧急升级]")


def test_resolved_message_has_no_instructions(registry: Registry) -> None:
    message = render(event("resolved", state="resolved"), registry, TZ)
    assert "处置" not in message.body["zh"] and "What to do" not in message.body["en"]


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_renders(rule: str, registry: Registry) -> None:
    message = render(event(rule=rule), registry, TZ)
    assert message.actions["zh"] and message.actions["en"]
    assert "{{" not in message.body["zh"] + message.body["en"]
