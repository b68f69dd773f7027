"""AED readiness: were the defibrillators ready all period, and how fast did people respond when
a cabinet was opened?

Where each figure comes from (docs/reports.md):
- Not ready: the union of the intervals of the AED alerts that mean "this AED would not serve
  now" (fault, offline, cabinet open, in use, battery below the rule's threshold), from the alert
  store, which holds them exactly, plus the days after the pads' expiry date, from the daily last
  `pads_expiry` in InfluxDB. Ready share = 1 - not ready / period.
- Cabinet openings: the `aed-cabinet-open` alerts; the moment the cabinet opened and the moment it
  was closed again are the readings around the alert, one LIMIT 1 InfluxQL selector each.
- Expiry calendar: pads from the last `pads_expiry`; batteries from the first and last
  `battery_pct` of the period (InfluxQL selectors), projected linearly to the rule's threshold.
"""

# ruff: noqa: RUF001  (Chinese texts use Chinese punctuation; the dash is a typographic one)

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Final
from zoneinfo import ZoneInfo

from api.history import quote_ident
from api.reports import aed_charts
from api.reports.alert_rows import AlertSpan, event_notes, overlapping
from api.reports.context import ReportContext
from api.reports.figures import Interval, clip, covered_s, rounded, seconds
from api.reports.model import Column, Period, Scope, Section, Table, Text
from api.reports.queries import by_device, rows, run, tag_is, where
from rules.conditions import Compare
from rules.store import AlertStore

# The alerts during which an AED is not ready, and what each one means.
NOT_READY: Final[dict[str, Text]] = {
    "aed-fault": Text("故障", "fault"),
    "aed-offline": Text("离线", "offline"),
    "aed-cabinet-open": Text("箱门打开", "cabinet open"),
    "aed-in-use": Text("使用中", "in use"),
    "aed-battery-low": Text("电量低", "battery low"),
}
PADS_EXPIRED: Final = "pads-expired"
PADS_TEXT: Final = Text("电极片过期", "pads expired")
OUTAGE_RULES: Final = ("aed-fault", "aed-offline")
CABINET_RULE: Final = "aed-cabinet-open"
BATTERY_RULE: Final = "aed-battery-low"
DEFAULT_BATTERY_THRESHOLD: Final = 20.0
CALENDAR_DAYS: Final = 90
# The reading that opened the cabinet is looked for this long before the alert (the alert is
# raised at once, so it is normally the same moment; a broker backlog can part them).
OPENED_LOOKBACK: Final = dt.timedelta(minutes=10)
# A patrol's arrival: the incident's first `on_site` step (rules/incidents.py), or, for an opening
# handled before steps existed, a note on an alert event starting with one of these.
ON_SITE_MARKERS: Final = ("on site", "on-site", "onsite", "到场", "已到场")


def battery_threshold(ctx: ReportContext) -> float:
    """The battery level below which an AED is not ready: the `aed-battery-low` rule's own
    threshold (the rules file owns it), else the contract's 20 %."""
    rule = ctx.rules.get(BATTERY_RULE)
    if rule is not None and isinstance(rule.when, Compare) and isinstance(rule.when.value, int | float):
        return float(rule.when.value)
    return DEFAULT_BATTERY_THRESHOLD


@dataclass(slots=True)
class AedFigures:
    building: str
    device: str
    location: str
    not_ready: list[tuple[str, Interval]] = field(default_factory=list)  # (cause, interval)

    def not_ready_s(self) -> float:
        return covered_s(i for _, i in self.not_ready)


@dataclass(frozen=True, slots=True)
class Opening:
    span: AlertSpan
    opened: dt.datetime | None
    closed: dt.datetime | None
    on_site: dt.datetime | None


def _local(moment: dt.datetime | None, zone: ZoneInfo) -> str | None:
    return None if moment is None else moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 3) if whole > 0 else 100.0


def _at(time_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(time_ms / 1000, dt.UTC)


def _on_site(notes: list[tuple[str, dt.datetime, str]]) -> dt.datetime | None:
    for _event, at, note in notes:
        if note.strip().lower().startswith(ON_SITE_MARKERS):
            return at
    return None


async def _pads_expired(ctx: ReportContext, zone: ZoneInfo) -> dict[tuple[str, str], list[Interval]]:
    """The intervals of the period during which each AED's last reported pads were past their
    date: from the last `pads_expiry` of each local day (GROUP BY time(1d) in InfluxDB)."""
    if ctx.influx is None:
        return {}
    period = ctx.period
    # Windows from local midnight to local midnight: the offset InfluxDB adds to its UTC days.
    utc_offset = period.start.astimezone(zone).utcoffset() or dt.timedelta()
    offset_s = int(-utc_offset.total_seconds()) % 86400
    since = int((period.start - dt.timedelta(days=1)).timestamp() * 1000)
    statement = (
        f'SELECT last({quote_ident("pads_expiry")}) AS "v" FROM "aed" '  # noqa: S608
        f"{where(period, ctx.scope, start_ms=since)} "
        f'GROUP BY time(1d, {offset_s}s), "building", "device" fill(none)'
    )
    (series,) = await run(ctx.influx, [statement])
    days: dict[tuple[str, str], list[tuple[dt.datetime, str]]] = {}
    for row in rows(series):
        if row.values.get("v") is not None:
            days.setdefault((row.building, row.device), []).append((_at(row.time_ms), str(row.values["v"])))
    out: dict[tuple[str, str], list[Interval]] = {}
    for key, points in days.items():
        # Each point: the last pads date reported that day; it holds from the day's start until
        # the next point (a change of pads counts from the start of the day it was reported).
        for n, (at, text) in enumerate(points):
            until = points[n + 1][0] if n + 1 < len(points) else period.end
            try:
                day = dt.date.fromisoformat(text)
            except ValueError:
                continue
            # Valid through the expiry date, local time.
            expired_from = dt.datetime(day.year, day.month, day.day, tzinfo=zone) + dt.timedelta(days=1)
            piece = clip(max(at, expired_from), until, period.start, period.end)
            if piece is not None:
                out.setdefault(key, []).append(piece)
    return out


async def _openings(ctx: ReportContext, spans: list[AlertSpan]) -> list[Opening]:
    cabinet = [
        s for s in spans if s.rule == CABINET_RULE and ctx.period.start <= s.started_at < ctx.period.end
    ]
    if not cabinet:
        return []
    notes = event_notes(ctx.engine, [s.id for s in cabinet])
    # Steps are events of the incident's first alert, which for an opening is its cabinet alert.
    steps = AlertStore(ctx.engine).events_of([s.id for s in cabinet], ("on_site",))
    arrived: dict[int, dt.datetime] = {}
    for step in steps:
        arrived[step.alert_id] = min(step.at, arrived.get(step.alert_id, step.at))
    opened: list[dt.datetime | None] = [None] * len(cabinet)
    closed: list[dt.datetime | None] = [s.resolved_at if s.resolution == "cleared" else None for s in cabinet]
    if ctx.influx is not None:
        statements: list[str] = []
        for s in cabinet:
            # One selector each, LIMIT 1: the first reading that opened, the first that closed.
            scope = Scope(ctx.scope.site, s.building)
            device = tag_is("device", s.device)
            near = Period(s.started_at - OPENED_LOOKBACK, s.started_at + dt.timedelta(milliseconds=1))
            statements.append(
                f'SELECT "cabinet_open" AS "v" FROM "aed" {where(near, scope, device, "cabinet_open = true")} '  # noqa: S608
                "ORDER BY time ASC LIMIT 1"
            )
            after = Period(s.started_at, (s.resolved_at or ctx.period.end) + OPENED_LOOKBACK)
            statements.append(
                f'SELECT "cabinet_open" AS "v" FROM "aed" {where(after, scope, device, "cabinet_open = false")} '  # noqa: S608
                "ORDER BY time ASC LIMIT 1"
            )
        results = await run(ctx.influx, statements)
        for n in range(len(cabinet)):
            for found, into in ((results[2 * n], opened), (results[2 * n + 1], closed)):
                for row in rows(found):
                    into[n] = _at(row.time_ms)
    return [
        Opening(s, opened[n] or s.started_at, closed[n], arrived.get(s.id) or _on_site(notes.get(s.id, [])))
        for n, s in enumerate(cabinet)
    ]


async def _calendar(
    ctx: ReportContext, zone: ZoneInfo, threshold: float
) -> list[list[str | int | float | None]]:
    """Pads and batteries that expire within CALENDAR_DAYS of the period's end."""
    if ctx.influx is None:
        return []
    period = ctx.period
    last_day = (period.end + dt.timedelta(days=CALENDAR_DAYS)).astimezone(zone).date()
    today = period.end.astimezone(zone).date()
    since = int((period.start - dt.timedelta(days=30)).timestamp() * 1000)
    by = 'GROUP BY "building", "device"'
    statements = [
        f'SELECT last("pads_expiry") AS "v" FROM "aed" {where(period, ctx.scope, start_ms=since)} {by}',  # noqa: S608
        f'SELECT first("battery_pct") AS "v" FROM "aed" {where(period, ctx.scope)} {by}',  # noqa: S608
        f'SELECT last("battery_pct") AS "v" FROM "aed" {where(period, ctx.scope)} {by}',  # noqa: S608
    ]
    pads, first, last = (by_device(s) for s in await run(ctx.influx, statements))
    out: list[list[str | int | float | None]] = []
    for (building, device), (_, value) in pads.items():
        try:
            day = dt.date.fromisoformat(str(value))
        except ValueError:
            continue
        if day <= last_day:
            out.append([building, device, "pads", day.isoformat(), (day - today).days, None])
    for key, (t1_ms, end_value) in last.items():
        t0_ms, start_value = first.get(key, (0, None))
        if end_value is None or start_value is None:
            continue
        t0, b0 = _at(t0_ms), float(start_value)
        t1, b1 = _at(t1_ms), float(end_value)
        if b1 < threshold:
            due: dt.date | None = t1.astimezone(zone).date()
        elif b1 < b0 and t1 > t0:
            rate = (b0 - b1) / (t1 - t0).total_seconds()
            due = (t1 + dt.timedelta(seconds=(b1 - threshold) / rate)).astimezone(zone).date()
        else:
            due = None
        if due is not None and due <= last_day:
            out.append([key[0], key[1], "battery", due.isoformat(), (due - today).days, round(b1, 1)])
    out.sort(key=lambda r: (str(r[3]), str(r[0]), str(r[1])))
    return out


async def build(ctx: ReportContext) -> list[Section]:
    zone = ZoneInfo(ctx.registry.timezone)
    period = ctx.period
    threshold = battery_threshold(ctx)
    spans = overlapping(ctx.engine, period, ctx.scope.building, kinds=("aed",))
    aeds: dict[tuple[str, str], AedFigures] = {
        (d.building, d.device): AedFigures(d.building, d.device, d.location or d.name or "")
        for d in ctx.devices("aed")
    }
    for span in spans:
        key = (span.building, span.device)
        figures = aeds.setdefault(key, AedFigures(span.building, span.device, ""))
        if span.rule in NOT_READY:
            piece = clip(span.started_at, span.resolved_at, period.start, period.end)
            if piece is not None:
                figures.not_ready.append((span.rule, piece))
    for key, pieces in (await _pads_expired(ctx, zone)).items():
        if key in aeds or ctx.in_scope(key[0]):
            figures = aeds.setdefault(key, AedFigures(key[0], key[1], ""))
            figures.not_ready.extend((PADS_EXPIRED, p) for p in pieces)
    ordered = sorted(aeds.values(), key=lambda a: (a.building, a.device))

    total = period.seconds
    per_aed = Table(
        "per-aed",
        Text("每台 AED 的就绪率", "Readiness per AED"),
        [
            Column("building", Text("楼栋", "Building")),
            Column("device", Text("设备", "Device")),
            Column("location", Text("位置", "Location")),
            Column("ready_pct", Text("就绪率", "Ready"), "%"),
            Column("not_ready_min", Text("未就绪时长", "Not ready"), "min"),
            Column("faults", Text("故障次数", "Faults")),
            Column("outages", Text("离线次数", "Outages")),
            Column("openings", Text("开箱次数", "Openings")),
        ],
    )
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for span in spans:
        if period.start <= span.started_at < period.end:
            counts[(span.building, span.device)][span.rule] += 1
    for a in ordered:
        down = a.not_ready_s()
        c = counts[(a.building, a.device)]
        per_aed.rows.append(
            [
                a.building,
                a.device,
                a.location,
                _pct(total - down, total),
                round(down / 60, 1),
                c["aed-fault"],
                c["aed-offline"],
                c[CABINET_RULE],
            ]
        )

    per_building = Table(
        "per-building",
        Text("每栋楼的就绪率", "Readiness per building"),
        [
            Column("building", Text("楼栋", "Building")),
            Column("aeds", Text("AED 数", "AEDs")),
            Column("ready_pct", Text("就绪率（时间加权）", "Ready (time-weighted)"), "%"),
            Column("worst_pct", Text("最低单台就绪率", "Lowest AED"), "%"),
            Column("always_ready", Text("全程就绪台数", "AEDs ready throughout")),
        ],
    )
    groups: dict[str, list[AedFigures]] = defaultdict(list)
    for a in ordered:
        groups[a.building].append(a)
    area_rows: list[AedFigures] = []
    for building, members in groups.items():
        area_rows.extend(members)
        per_building.rows.append(_group_row(building, members, total))
    area = Table(
        "area",
        Text("全区汇总", "Area total"),
        per_building.columns[1:],
        [_group_row("", area_rows, total)[1:]] if area_rows else [],
    )

    outages = Table(
        "faults-outages",
        Text("故障与离线", "Faults and outages"),
        [
            Column("building", Text("楼栋", "Building")),
            Column("device", Text("设备", "Device")),
            Column("cause", Text("原因", "Cause")),
            Column("start", Text("开始", "Start")),
            Column("end", Text("结束", "End")),
            Column("duration_min", Text("时长", "Duration"), "min"),
        ],
    )
    for span in spans:
        if span.rule in OUTAGE_RULES:
            piece = clip(span.started_at, span.resolved_at, period.start, period.end)
            if piece is None:
                continue
            outages.rows.append(
                [
                    span.building,
                    span.device,
                    span.rule,
                    _local(span.started_at, zone),
                    _local(span.resolved_at, zone),
                    round((piece[1] - piece[0]).total_seconds() / 60, 1),
                ]
            )

    openings = await _openings(ctx, spans)
    response = Table(
        "cabinet-openings",
        Text("开箱与响应", "Cabinet openings and response"),
        [
            Column("building", Text("楼栋", "Building")),
            Column("device", Text("设备", "Device")),
            Column("opened", Text("开箱", "Opened")),
            Column("alert", Text("告警", "Alert")),
            Column("acknowledged", Text("确认", "Acknowledged")),
            Column("acknowledged_by", Text("确认人", "By")),
            Column("on_site", Text("巡逻到场", "Patrol on site")),
            Column("closed", Text("放回箱内", "Back in cabinet")),
            Column("alert_s", Text("告警用时", "To alert"), "s"),
            Column("ack_s", Text("确认用时", "To acknowledge"), "s"),
            Column("on_site_s", Text("到场用时", "To on site"), "s"),
            Column("closed_min", Text("开箱时长", "Open for"), "min"),
        ],
    )
    for o in openings:
        s = o.span
        closed = seconds(o.opened, o.closed)
        response.rows.append(
            [
                s.building,
                s.device,
                _local(o.opened, zone),
                _local(s.started_at, zone),
                _local(s.acknowledged_at, zone),
                s.acknowledged_by,
                _local(o.on_site, zone),
                _local(o.closed, zone),
                rounded(seconds(o.opened, s.started_at), 3),
                rounded(seconds(o.opened, s.acknowledged_at)),
                rounded(seconds(o.opened, o.on_site)),
                None if closed is None else round(closed / 60, 1),
            ]
        )

    calendar = Table(
        "expiry-calendar",
        Text(
            f"未来 {CALENDAR_DAYS} 天到期的电池与电极片",
            f"Batteries and pads expiring in the next {CALENDAR_DAYS} days",
        ),
        [
            Column("building", Text("楼栋", "Building")),
            Column("device", Text("设备", "Device")),
            Column("item", Text("项目", "Item")),
            Column("date", Text("到期日", "Date")),
            Column("days_left", Text("剩余天数", "Days left")),
            Column("battery_pct", Text("当前电量", "Battery now"), "%"),
        ],
        await _calendar(ctx, zone, threshold),
    )

    ready_count = sum(1 for row in per_aed.rows if row[3] == 100.0)
    area_pct = area.rows[0][1] if area.rows else 100.0
    summary = Text(
        f"{len(ordered)} 台 AED 中 {ready_count} 台全程就绪；范围内时间加权就绪率 {area_pct}%。"
        f"开箱 {len(openings)} 次；电量阈值 {threshold:g}%（来自规则 {BATTERY_RULE}）。",
        f"{ready_count} of {len(ordered)} AEDs were ready throughout; the time-weighted readiness in scope "
        f"was {area_pct}%. {len(openings)} cabinet openings; battery threshold {threshold:g}% "
        f"(from rule {BATTERY_RULE}).",
    )
    readiness = Section(
        "readiness",
        Text("AED 就绪率", "AED readiness"),
        summary,
        tables=[area, per_building, per_aed],
        charts=[
            aed_charts.readiness_bars(per_aed),
            aed_charts.not_ready_timeline(ordered, period, zone, {**NOT_READY, PADS_EXPIRED: PADS_TEXT}),
        ],
    )
    return [
        readiness,
        Section("faults", Text("故障与离线", "Faults and outages"), tables=[outages]),
        Section(
            "response",
            Text("开箱响应", "Cabinet openings"),
            tables=[response],
            charts=[aed_charts.response_times(response)] if response.rows else [],
        ),
        Section("calendar", Text("到期日历", "Expiry calendar"), tables=[calendar]),
    ]


def _group_row(building: str, members: list[AedFigures], total: float) -> list[str | int | float | None]:
    downs = [m.not_ready_s() for m in members]
    whole = total * len(members)
    worst = max(downs) if downs else 0.0
    return [
        building,
        len(members),
        _pct(whole - sum(downs), whole),
        _pct(total - worst, total),
        sum(1 for d in downs if d == 0),
    ]
