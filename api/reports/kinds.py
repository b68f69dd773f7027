"""The report kinds: each a title and the section builders that fill it, in order.

A new kind (or a new section of one) is added here; the API, the renderers and the schedule
take the list from `KINDS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from api.reports import aed, alerts
from api.reports.context import ReportContext, SectionBuilder
from api.reports.model import Report, Text


@dataclass(frozen=True, slots=True)
class ReportKind:
    name: str
    title: Text
    builders: tuple[SectionBuilder, ...]


KINDS: Final[dict[str, ReportKind]] = {
    kind.name: kind
    for kind in (
        ReportKind(
            "aed-readiness", Text("AED 就绪与响应报告", "AED readiness and response report"), (aed.build,)
        ),
        ReportKind("alert-handling", Text("告警处理报告", "Alert handling report"), (alerts.build,)),
    )
}


async def build_report(kind: ReportKind, ctx: ReportContext) -> Report:
    report = Report(kind.name, kind.title, ctx.period, ctx.scope, ctx.now)
    for builder in kind.builders:
        report.sections.extend(await builder(ctx))
    return report
