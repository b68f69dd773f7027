"""Alert handling: how many alerts, how fast they were acknowledged and resolved, what escalated
or flapped, which silences were in force, and whether the notifications got through.

Every figure is from the alert store: alert rows (raised within the period), `escalated` events
within the period, silences overlapping it, and the notifier's deliveries created within it.
Counts are made by the database (GROUP BY); percentiles (nearest rank, `figures.percentile`) from
the durations of the matching rows, which the database hands over as two timestamps each.
"""

# ruff: noqa: RUF001  (Chinese texts use Chinese punctuation; the dash is a typographic one)

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from api.reports import alert_charts
from api.reports.alert_rows import escalations, overlapping, raised_in
from api.reports.context import ReportContext
from api.reports.figures import median, percentile, rounded, seconds
from api.reports.model import Cell, Column, Section, Table, Text
from rules.database.alerts import SilenceRow
from rules.database.notifier import DELIVERED, FAILED, PENDING, DeliveryRow
from rules.records import SEVERITIES

SEVERITY_ORDER: Final = {name: n for n, name in enumerate(SEVERITIES)}


def _stats(values: list[float]) -> list[Cell]:
    return [rounded(median(values)), rounded(percentile(values, 90)), rounded(max(values, default=None))]


def _local(moment: dt.datetime | None, zone: ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _timing_columns(prefix: str, zh: str, en: str) -> list[Column]:
    return [
        Column(f"{prefix}_median_s", Text(f"{zh}中位数", f"{en} median"), "s"),
        Column(f"{prefix}_p90_s", Text(f"{zh} P90", f"{en} p90"), "s"),
        Column(f"{prefix}_worst_s", Text(f"{zh}最长", f"{en} worst"), "s"),
    ]


def handling_table(ctx: ReportContext) -> Table:
    period = ctx.period
    spans = raised_in(overlapping(ctx.engine, period, ctx.scope.building), period)
    escalated = escalations(ctx.engine, period, ctx.scope.building)
    table = Table(
        "by-rule",
        Text("按楼栋、规则与级别", "By building, rule and severity"),
        [
            Column("building", Text("楼栋", "Building")),
            Column("rule", Text("规则", "Rule")),
            Column("severity", Text("级别", "Severity")),
            Column("raised", Text("告警数", "Raised")),
            Column("acknowledged", Text("已确认", "Acknowledged")),
            *_timing_columns("ack", "确认用时", "To acknowledge"),
            Column("resolved", Text("已解决", "Resolved")),
            *_timing_columns("resolve", "解决用时", "To resolve"),
            Column("escalations", Text("升级次数", "Escalations")),
            Column("flapping", Text("抖动", "Flapping")),
            Column("silenced", Text("静默中", "Silenced")),
        ],
    )
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for n, span in enumerate(spans):
        groups[(span.building, span.rule, span.severity)].append(n)
    for key in sorted(groups, key=lambda k: (k[0], SEVERITY_ORDER.get(k[2], 9), k[1])):
        members = [spans[n] for n in groups[key]]
        acks = [s for s in (seconds(m.started_at, m.acknowledged_at) for m in members) if s is not None]
        resolves = [s for s in (seconds(m.started_at, m.resolved_at) for m in members) if s is not None]
        table.rows.append(
            [
                *key,
                len(members),
                len(acks),
                *_stats(acks),
                len(resolves),
                *_stats(resolves),
                sum(escalated.get(m.id, 0) for m in members),
                sum(m.flapping for m in members),
                sum(m.silenced for m in members),
            ]
        )
    return table


def silences_table(ctx: ReportContext, zone: ZoneInfo) -> Table:
    period = ctx.period
    query = (
        select(SilenceRow)
        .where(SilenceRow.starts_at < period.end, SilenceRow.ends_at > period.start)
        .order_by(SilenceRow.starts_at, SilenceRow.id)
    )
    if ctx.scope.building is not None:
        # A silence without a building mutes every building, this one included.
        query = query.where((SilenceRow.building == ctx.scope.building) | SilenceRow.building.is_(None))
    table = Table(
        "silences",
        Text("期间生效的静默", "Silences in force"),
        [
            Column("id", Text("编号", "Id")),
            Column("matches", Text("范围", "Matches")),
            Column("starts_at", Text("开始", "Starts")),
            Column("ends_at", Text("结束", "Ends")),
            Column("hours_in_period", Text("期内时长", "In period"), "h"),
            Column("reason", Text("原因", "Reason")),
            Column("created_by", Text("创建人", "By")),
        ],
    )
    with Session(ctx.engine) as session:
        for row in session.scalars(query):
            matches = " ".join(
                f"{name}={value}"
                for name, value in (
                    ("building", row.building),
                    ("kind", row.kind),
                    ("device", row.device),
                    ("rule", row.rule),
                )
                if value
            )
            hours = (min(row.ends_at, period.end) - max(row.starts_at, period.start)).total_seconds() / 3600
            table.rows.append(
                [
                    row.id,
                    matches,
                    _local(row.starts_at, zone),
                    _local(row.ends_at, zone),
                    round(hours, 2),
                    row.reason,
                    row.created_by,
                ]
            )
    return table


def deliveries_table(ctx: ReportContext) -> Table:
    period = ctx.period
    scope = [DeliveryRow.created_at >= period.start, DeliveryRow.created_at < period.end]
    if ctx.scope.building is not None:
        scope.append(DeliveryRow.building == ctx.scope.building)
    counts = (
        select(
            DeliveryRow.receiver,
            DeliveryRow.channel,
            func.count(),
            func.sum(case((DeliveryRow.status == DELIVERED, 1), else_=0)),
            func.sum(case((DeliveryRow.attempts > 1, 1), else_=0)),
            func.sum(case((DeliveryRow.status == FAILED, 1), else_=0)),
            func.sum(case((DeliveryRow.status == PENDING, 1), else_=0)),
        )
        .where(*scope)
        .group_by(DeliveryRow.receiver, DeliveryRow.channel)
        .order_by(DeliveryRow.receiver, DeliveryRow.channel)
    )
    latencies = select(
        DeliveryRow.receiver, DeliveryRow.channel, DeliveryRow.created_at, DeliveryRow.delivered_at
    ).where(*scope, DeliveryRow.status == DELIVERED, DeliveryRow.delivered_at.is_not(None))
    table = Table(
        "deliveries",
        Text("各接收方的通知投递", "Notification deliveries per receiver"),
        [
            Column("receiver", Text("接收方", "Receiver")),
            Column("channel", Text("渠道", "Channel")),
            Column("deliveries", Text("投递数", "Deliveries")),
            Column("delivered", Text("已送达", "Delivered")),
            Column("retried", Text("重试过", "Retried")),
            Column("failed", Text("失败", "Failed")),
            Column("pending", Text("待发送", "Pending")),
            Column("latency_median_ms", Text("延迟中位数", "Latency median"), "ms"),
            Column("latency_p90_ms", Text("延迟 P90", "Latency p90"), "ms"),
            Column("latency_worst_ms", Text("最长延迟", "Latency worst"), "ms"),
        ],
    )
    waits: dict[tuple[str, str], list[float]] = defaultdict(list)
    with Session(ctx.engine) as session:
        for receiver, channel, created, delivered in session.execute(latencies):
            if delivered is None:
                continue
            waits[(receiver, channel)].append((delivered - created).total_seconds() * 1000)
        for receiver, channel, total, delivered, retried, failed, pending in session.execute(counts):
            lat = waits[(receiver, channel)]
            table.rows.append(
                [
                    receiver,
                    channel,
                    int(total),
                    int(delivered or 0),
                    int(retried or 0),
                    int(failed or 0),
                    int(pending or 0),
                    rounded(median(lat), 0),
                    rounded(percentile(lat, 90), 0),
                    rounded(max(lat, default=None), 0),
                ]
            )
    return table


async def build(ctx: ReportContext) -> list[Section]:
    zone = ZoneInfo(ctx.registry.timezone)
    handling = handling_table(ctx)
    silences = silences_table(ctx, zone)
    deliveries = deliveries_table(ctx)
    raised = sum(int(r[3] or 0) for r in handling.rows)
    acked = sum(int(r[4] or 0) for r in handling.rows)
    failed = sum(int(r[5] or 0) for r in deliveries.rows)
    sent = sum(int(r[2] or 0) for r in deliveries.rows)
    summary = Text(
        f"期间共 {raised} 条告警，{acked} 条已确认；{len(silences.rows)} 个静默生效；通知 {sent} 次，失败 {failed} 次。",
        f"{raised} alerts raised, {acked} acknowledged; {len(silences.rows)} silences in force; "
        f"{sent} notifications, {failed} failed.",
    )
    return [
        Section(
            "handling",
            Text("告警处理", "Alert handling"),
            summary,
            tables=[handling],
            charts=[alert_charts.response_by_rule(handling)] if handling.rows else [],
        ),
        Section("silences", Text("静默", "Silences"), tables=[silences]),
        Section(
            "deliveries",
            Text("通知投递", "Notification deliveries"),
            tables=[deliveries],
            charts=[alert_charts.deliveries_by_receiver(deliveries)] if deliveries.rows else [],
        ),
    ]
