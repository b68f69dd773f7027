"""Words every renderer prints around the figures: the period, the scope, the headings of the
front matter, in both languages."""

# ruff: noqa: RUF001  (Chinese texts use Chinese punctuation; the dash is a typographic one)

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from api.reports.model import Column, Language, Period, Report, Text

PERIOD_KIND = {
    "day": Text("日报", "Daily"),
    "week": Text("周报", "Weekly"),
    "month": Text("月报", "Monthly"),
    "custom": Text("自定义时段", "Custom period"),
}
PERIOD = Text("时段", "Period")
SCOPE = Text("范围", "Scope")
AREA = Text("全区", "whole area")
GENERATED = Text("生成于", "Generated")
NO_ROWS = Text("本时段无记录。", "Nothing recorded in this period.")
DOWNLOAD_CSV = Text("下载 CSV", "Download CSV")
PAGE = Text("第 {n} 页", "Page {n}")


def local(moment: dt.datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def period_text(period: Period, timezone: str, lang: Language) -> str:
    return f"{PERIOD_KIND[period.kind](lang)}: {local(period.start, timezone)} – {local(period.end, timezone)} ({timezone})"


def scope_text(report: Report, lang: Language, building_name: str | None) -> str:
    area = report.scope.site
    if report.scope.building is None:
        return f"{area} ({AREA(lang)})"
    return f"{area} / {building_name or report.scope.building}"


def heading(column: Column, lang: Language) -> str:
    return f"{column.title(lang)} ({column.unit})" if column.unit else column.title(lang)
