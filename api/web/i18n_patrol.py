"""The words of the patrol's phone (`/patrol`) and the incident view, in Chinese and English.

Kept apart from `api/web/i18n.py` so that the screens of one issue add their words in one place;
`i18n.py` merges them into its table, so every page gets one table per language.
"""

# Full-width commas, colons and brackets are correct in Chinese text, not look-alikes of ASCII.
# ruff: noqa: RUF001

from __future__ import annotations

from typing import Final

PATROL_MESSAGES: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "patrol.title": "巡查",
        "patrol.lang_short": "EN",
        "patrol.mine": "派给我的",
        "patrol.mine_none": "目前没有派给你的告警。",
        "patrol.others": "其他未处理告警",
        "patrol.no_receivers": "你的登录名（{name}）不在通知路由的接收人中，无法区分派给你的告警；请联系值班员。",
        "patrol.paged": "已呼叫 {receiver}",
        "patrol.paged_later": "{time} 起升级呼叫 {receiver}",
        "patrol.full_console": "完整控制台",
        "patrol.ack_title": "确认告警",
        "patrol.presets": "常用备注",
        "patrol.own_note": "或写下备注",
        "patrol.note.on_my_way": "收到，正在前往",
        "patrol.note.on_site": "已到现场",
        "patrol.note.checking": "正在核实",
        "patrol.note.false_alarm": "误报，已核实",
        "patrol.acked": "#{id} 已确认：{note}",
        "patrol.resumed": "已恢复连接，补收 {n} 条事件。",
    },
    "en": {
        "patrol.title": "Patrol",
        "patrol.lang_short": "中文",
        "patrol.mine": "Paged to me",
        "patrol.mine_none": "Nothing is paged to you right now.",
        "patrol.others": "Other open alerts",
        "patrol.no_receivers": "Your sign-in name ({name}) is not a receiver of the notification routes, so nothing can be set apart for you; ask the control room.",
        "patrol.paged": "paged {receiver}",
        "patrol.paged_later": "escalates to {receiver} at {time}",
        "patrol.full_console": "Full console",
        "patrol.ack_title": "Acknowledge",
        "patrol.presets": "Quick notes",
        "patrol.own_note": "Or write a note",
        "patrol.note.on_my_way": "Got it, on my way",
        "patrol.note.on_site": "On site",
        "patrol.note.checking": "Checking",
        "patrol.note.false_alarm": "False alarm, checked",
        "patrol.acked": "#{id} acknowledged: {note}",
        "patrol.resumed": "Reconnected; {n} missed events received.",
    },
}
