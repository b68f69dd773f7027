"""The report kinds: each a title and the section builders that fill it, in order.

A new kind (or a new section of one) is added here; the API, the renderers and the schedule
take the list from `KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from api.reports import aed, alerts
from api.reports.canteen import build_canteen_sections
from api.reports.context import ReportContext, SectionBuilder
from api.reports.model import Report, Section, Text
from api.reports.parking import build_parking_sections
from api.reports.quality import build_quality_sections


@dataclass(frozen=True, slots=True)
class ReportKind:
    name: str
    title: Text
    builders: tuple[SectionBuilder, ...]


def _needs_influx(title: Text) -> Section:
    return Section(
        "influxdb",
        title,
        Text("未配置 InfluxDB：本节无数据。", "No InfluxDB configured: nothing to show here."),  # noqa: RUF001
    )


async def _parking_canteen(ctx: ReportContext) -> list[Section]:
    if ctx.influx is None:
        return [_needs_influx(Text("停车与餐厅", "Parking and canteen"))]
    parking = await build_parking_sections(ctx.influx, ctx.period, ctx.scope, ctx.registry)
    return parking + await build_canteen_sections(ctx.influx, ctx.period, ctx.scope, ctx.registry)


async def _quality(ctx: ReportContext) -> list[Section]:
    if ctx.influx is None:
        return [_needs_influx(Text("数据质量", "Data quality"))]
    return await build_quality_sections(ctx.influx, ctx.period, ctx.scope, ctx.registry, ctx.dead_letters)


KINDS: Final[dict[str, ReportKind]] = {
    kind.name: kind
    for kind in (
        ReportKind(
            "aed-readiness", Text("AED 就绪与响应报告", "AED readiness and response report"), (aed.build,)
        ),
        ReportKind("alert-handling", Text("告警处理报告", "Alert handling report"), (alerts.build,)),
        ReportKind(
            "parking-canteen",
            Text("停车与餐厅使用报告", "Parking and canteen use report"),
            (_parking_canteen,),
        ),
        ReportKind("data-quality", Text("数据质量报告", "Data quality report"), (_quality,)),
    )
}


async def build_report(kind: ReportKind, ctx: ReportContext) -> Report:
    report = Report(kind.name, kind.title, ctx.period, ctx.scope, ctx.now)
    for builder in kind.builders:
        report.sections.extend(await builder(ctx))
    return report
