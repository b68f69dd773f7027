"""The words of the site plan, the building's floor list and wall mode, in both languages
(merged into `api.web.i18n.MESSAGES`)."""

# ruff: noqa: RUF001  (full-width punctuation is correct in Chinese text)

from __future__ import annotations

from typing import Final

SITE_MESSAGES: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "plan.title": "园区平面图",
        "plan.desc": "{n} 栋楼宇，北在上；每栋楼的颜色表示其最严重的未解决告警，闪烁表示有未确认的紧急告警。选择楼宇查看各楼层设备。",
        "plan.worst": "最严重告警：",
        "plan.no_alert": "无告警",
        "plan.alarm": "紧急告警未确认",
        "plan.aeds": "AED {ready}/{total} 台正常",
        "plan.aed_ready": "AED 正常",
        "plan.aed_not_ready": "AED 异常",
        "plan.aed_unknown": "AED 无最新数据",
        "plan.free": "空位 {n}/{capacity}",
        "plan.no_figure": "暂无数据",
        "plan.canteen_short": "餐",
        "plan.legend": "图例",
        "plan.unplaced": "未在平面图上标出",
        "plan.marked": "红圈标出本事件的 AED：{where}。",
        "building.alerts": "本楼告警",
        "building.floors": "楼层与设备",
        "building.floor": "楼层",
        "building.no_floor": "未注明",
        "building.kind": "类型",
        "building.device": "设备",
        "building.location": "位置",
        "building.state": "状态",
        "building.spaces": "{n} 个车位",
        "building.none": "该楼宇没有登记设备。",
        "wall.enter": "大屏模式",
        "wall.leave": "退出大屏",
        "wall.stale": "数据已过期：",
        "wall.since": "（自 {time} 起无实时数据）",
    },
    "en": {
        "plan.title": "Site plan",
        "plan.desc": "{n} buildings, north up; each is coloured by its most severe open alert, and flashes while "
        "a critical alert waits for acknowledgement. Choose a building for its floors and devices.",
        "plan.worst": "worst alert:",
        "plan.no_alert": "no open alert",
        "plan.alarm": "critical alert not acknowledged",
        "plan.aeds": "AED {ready} of {total} ready",
        "plan.aed_ready": "AED ready",
        "plan.aed_not_ready": "AED not ready",
        "plan.aed_unknown": "AED without a recent reading",
        "plan.free": "{n} of {capacity} free",
        "plan.no_figure": "no data",
        "plan.canteen_short": "Canteen",
        "plan.legend": "Legend",
        "plan.unplaced": "Not on the plan",
        "plan.marked": "The red ring marks this incident's AED: {where}.",
        "building.alerts": "Alerts of this building",
        "building.floors": "Floors and devices",
        "building.floor": "Floor",
        "building.no_floor": "not given",
        "building.kind": "Kind",
        "building.device": "Device",
        "building.location": "Location",
        "building.state": "State",
        "building.spaces": "{n} parking spaces",
        "building.none": "No device is registered in this building.",
        "wall.enter": "Wall mode",
        "wall.leave": "Leave wall mode",
        "wall.stale": "DATA STALE:",
        "wall.since": "(no live data since {time})",
    },
}
