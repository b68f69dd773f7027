# ruff: noqa: RUF001, S608  (Chinese texts use full-width punctuation; InfluxQL from quoted pieces, not SQL)
"""The canteen part of the parking and canteen report: each canteen's load by day and hour against
its typical day, its queue at service times and the takeaway orders waiting.

Figures, all aggregated in InfluxDB from the `canteen` measurement:
- load %: the hourly mean of `occupancy` (GROUP BY time(1h)) over the capacity (the last one
  reported in the period, else the registry's, as the building summary does);
- the typical day: `api.web.forecast.typical_day`, the board's own, on those hourly loads: for each
  day, the mean of the previous four weeks' days of the same type (workday or weekend) hour by
  hour, each day weighing the same. So the statements reach four weeks before the period;
- service times: the canteen's meal service from the registry (`DeviceInfo.meal_service`, its
  own `service_hours` or the default). Queue and takeaway are summed, counted and maxed per bucket
  (GROUP BY time(step), the step the greatest that divides every service boundary and the hour),
  and the buckets inside a service window are added up here: a mean over all the readings of that
  window, and its highest value.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from api.influx import InfluxQueryClient, Series
from api.reports import charts
from api.reports.charts import BarSeries
from api.reports.model import SHOWN_ROWS, Column, Period, Scope, Section, Table, Text
from api.reports.queries import (
    by_device,
    local,
    ms,
    pooled,
    rows,
    run,
    stamp,
    tag_is,
    weekday_hour_means,
    where,
)
from api.web.forecast import TYPICAL_WEEKS, typical_day
from collector.registry import DeviceInfo, Registry

__all__ = ["DISTRICT_CANTEENS", "DRAWN_CANTEENS", "build_canteen_sections"]

TITLE = Text("食堂负荷与排队", "Canteen load and queue")
# More canteens than this in the scope and the report is a district's: one overview section (every
# canteen in a table, the load of them all as one heat map), then the sections of the
# DRAWN_CANTEENS busiest only. Each section is three charts and a month of days: a building or
# Darong has one or two canteens; a district of 100 buildings has 20, 60 charts no one reads.
DISTRICT_CANTEENS: Final = 6
# The busiest canteens (highest load in an hour) given their own section in a district: fewer than
# DISTRICT_CANTEENS, so that a district's page is shorter than the largest scope drawn in full.
DRAWN_CANTEENS: Final = 4
# The service figures of a canteen, the same in the district's table and in each canteen's days.
_LOAD_COLUMNS: Final = (
    Column("peak_occupancy", Text("最高人数", "Peak occupancy")),
    Column("queue_mean", Text("供餐时平均排队", "Mean queue at service"), ""),
    Column("queue_max", Text("供餐时最长排队", "Longest queue at service"), ""),
    Column("takeaway_max", Text("最多待取外卖", "Most takeaway pending"), ""),
)


def _minute(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def bucket_minutes(service: tuple[tuple[time, time], ...], tz: ZoneInfo, when: datetime) -> int:
    """The widest bucket, in minutes, whose UTC-aligned edges fall on every service boundary and
    every local hour."""
    offset = when.astimezone(tz).utcoffset() or timedelta()
    step = 60
    for start, end in service:
        step = math.gcd(step, _minute(start), _minute(end))
    return math.gcd(step, int(offset.total_seconds() // 60) % 60 or 60)


@dataclass(slots=True)
class _Tally:
    """Sum, count and max of one field over buckets."""

    total: float = 0.0
    count: int = 0
    top: float | None = None

    def add(self, total: float | None, count: int | None, top: float | None) -> None:
        if count:
            self.total += float(total or 0)
            self.count += int(count)
        if top is not None:
            self.top = float(top) if self.top is None else max(self.top, float(top))

    @property
    def mean(self) -> float | None:
        return round(self.total / self.count, 1) if self.count else None


@dataclass(slots=True)
class _Service:
    queue: _Tally = field(default_factory=_Tally)
    takeaway: _Tally = field(default_factory=_Tally)


def _window(moment: datetime, service: tuple[tuple[time, time], ...]) -> int | None:
    clock = moment.timetz().replace(tzinfo=None)
    return next((i for i, (start, end) in enumerate(service) if start <= clock < end), None)


def _label(window: tuple[time, time]) -> str:
    return f"{window[0]:%H:%M}-{window[1]:%H:%M}"


async def build_canteen_sections(
    client: InfluxQueryClient, period: Period, scope: Scope, registry: Registry
) -> list[Section]:
    """The canteen sections of a `parking-canteen` report: one section per canteen in scope.

    client: the API's InfluxQL client (open); period: [start, end) UTC; scope: the area or one
    building; registry: the canteens, their capacities and service hours, and the time zone.
    Each section ("canteen-<building>-<device>") holds the tables `canteen-days` (one row per local
    day: busiest hour and its load against the typical day, peak occupancy, queue and takeaway at
    service times) and `canteen-service` (one row per service window over the period), a heat map
    of the load by weekday and hour, the load hour by hour against the typical day, and the queue
    per service window as bars. More than DISTRICT_CANTEENS canteens (a district): a section
    "canteens" first (table `canteens`, one row per canteen, the busiest first, and the heat map of
    them all pooled), then the sections of the DRAWN_CANTEENS busiest only.
    """
    tz = ZoneInfo(registry.timezone)
    canteens = [c for c in registry.devices(kind="canteen") if scope.building in (None, c.building)]
    if not canteens:
        return [Section("canteen", TITLE, Text("范围内没有食堂。", "No canteen in this scope."))]
    history_ms = ms(period.start - timedelta(weeks=TYPICAL_WEEKS))
    steps = {c.device: bucket_minutes(c.meal_service, tz, period.start) for c in canteens}
    statements = [
        f'SELECT mean("occupancy") AS "v", max("occupancy") AS "top" FROM "canteen" '
        f'{where(period, scope, start_ms=history_ms)} GROUP BY time(1h), "building", "device" fill(none)',
        f'SELECT last("capacity") AS "v" FROM "canteen" {where(period, scope)} GROUP BY "building", "device"',
    ]
    for canteen in canteens:
        statements.append(
            'SELECT sum("queue_length") AS "qs", count("queue_length") AS "qn", max("queue_length") AS "qm", '
            'sum("takeaway_pending") AS "ts", count("takeaway_pending") AS "tn", max("takeaway_pending") AS "tm" '
            f'FROM "canteen" {where(period, scope, tag_is("building", canteen.building), tag_is("device", canteen.device))} '
            f"GROUP BY time({steps[canteen.device]}m) fill(none)"
        )
    hourly, reported, *services = await run(client, statements)
    capacity_reported = by_device(reported)
    loads: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    tops: dict[tuple[str, str], dict[date, int]] = defaultdict(dict)
    for row in rows(hourly):
        if row.values.get("v") is not None:
            loads[row.building, row.device].append((row.time_ms, float(row.values["v"])))
        if row.values.get("top") is not None and row.time_ms >= ms(period.start):
            day = local(row.time_ms, tz).date()
            peaks = tops[row.building, row.device]
            peaks[day] = max(peaks.get(day, 0), int(row.values["top"]))
    capacities: dict[tuple[str, str], int | None] = {}
    for canteen in canteens:
        told = capacity_reported.get((canteen.building, canteen.device))
        capacities[canteen.building, canteen.device] = int(told[1]) if told and told[1] else canteen.capacity
    chosen = list(zip(canteens, services, strict=True))
    overview: list[Section] = []
    if len(canteens) > DISTRICT_CANTEENS:
        ranked = _district(period, tz, chosen, capacities, loads, tops)
        overview, chosen = [ranked[0]], ranked[1][:DRAWN_CANTEENS]
    sections = overview
    for canteen, service_series in chosen:
        sections.append(
            _section(
                canteen,
                capacities[canteen.building, canteen.device],
                period,
                tz,
                loads[canteen.building, canteen.device],
                tops[canteen.building, canteen.device],
                service_series,
            )
        )
    return sections


@dataclass(slots=True)
class _Compared:
    """One canteen's row of a district's overview."""

    canteen: DeviceInfo
    service: list[Series]
    capacity: int | None
    hours: list[tuple[int, float]]  # (UTC hour ms, mean occupancy) in the period
    queue: list[_Tally]  # per service window over the period
    takeaway: list[_Tally]
    mean: float | None = None  # load %
    peak: float | None = None  # load % of the busiest hour
    peak_ms: int | None = None


def _district(
    period: Period,
    tz: ZoneInfo,
    canteens: list[tuple[DeviceInfo, list[Series]]],
    capacities: dict[tuple[str, str], int | None],
    loads: dict[tuple[str, str], list[tuple[int, float]]],
    tops: dict[tuple[str, str], dict[date, int]],
) -> tuple[Section, list[tuple[DeviceInfo, list[Series]]]]:
    """A district's overview (see DISTRICT_CANTEENS): every canteen in one table, the busiest
    first, the load of them all together as a heat map; and the canteens, busiest first, whose
    sections follow it."""
    start_ms, end_ms = ms(period.start), ms(period.end)
    figures = []
    for canteen, service_series in canteens:
        key = (canteen.building, canteen.device)
        _, overall = _tallies(service_series, canteen.meal_service, tz)
        one = _Compared(
            canteen,
            service_series,
            capacities[key],
            [(t, v) for t, v in loads[key] if start_ms <= t < end_ms],
            [s.queue for s in overall],
            [s.takeaway for s in overall],
        )
        if one.capacity and one.hours:
            one.mean = 100.0 * sum(v for _, v in one.hours) / len(one.hours) / one.capacity
            peak_t, peak = max(one.hours, key=lambda h: (h[1], -h[0]))
            one.peak, one.peak_ms = 100.0 * peak / one.capacity, peak_t
        figures.append(one)
    # Busiest first: the highest hourly load, then the highest mean; those without a figure last.
    figures.sort(key=lambda f: (f.peak is None, -(f.peak or 0.0), -(f.mean or 0.0)))
    section = Section("canteens", Text("各食堂比较", "The canteens compared"))
    table = Table(
        "canteens",
        Text("各食堂（最忙者在前）", "Each canteen, busiest first"),
        [
            Column("building", Text("楼宇", "Building")),
            Column("canteen", Text("食堂", "Canteen")),
            Column("capacity", Text("容量", "Capacity")),
            Column("mean_load", Text("平均负荷", "Mean load"), "%"),
            Column("busiest_load", Text("最忙小时负荷", "Load in the busiest hour"), "%"),
            Column("busiest_at", Text("最忙小时", "Busiest hour")),
            *_LOAD_COLUMNS,
        ],
    )
    for f in figures:
        peaks = tops.get((f.canteen.building, f.canteen.device), {})
        table.rows.append(
            [
                f.canteen.building,
                f.canteen.device,
                f.capacity,
                None if f.mean is None else round(f.mean, 1),
                None if f.peak is None else round(f.peak, 1),
                None if f.peak_ms is None else stamp(f.peak_ms, tz),
                max(peaks.values()) if peaks else None,
                _mean(f.queue),
                _top(f.queue),
                _top(f.takeaway),
            ]
        )
    if len(table.rows) > SHOWN_ROWS:
        table.shown = SHOWN_ROWS
        table.more = Text(
            f"另有 {len(table.rows) - SHOWN_ROWS} 个食堂未列出，全部见 CSV。",
            f"{len(table.rows) - SHOWN_ROWS} more canteens are in the CSV.",
        )
    section.tables.append(table)
    section.charts.append(
        charts.heat_map(
            "canteen-heat-scope",
            Text("全部食堂按星期和小时的负荷", "All canteens: load by weekday and hour"),
            Text("全部食堂负荷", "load of all canteens"),
            weekday_hour_means(pooled((f.capacity, f.hours) for f in figures if f.capacity), tz),
            unit="%",
            vmin=0,
            vmax=100,
        )
    )
    drawn = min(len(figures), DRAWN_CANTEENS)
    section.charts_more = Text(
        f"下面只详列最忙的 {drawn} 个食堂（最忙小时负荷最高）；其余 {len(figures) - drawn} 个未单独绘图，"
        "其数字见上表与 CSV。",
        f"Only the {drawn} busiest canteens (highest load in an hour) follow one by one; {len(figures) - drawn} "
        "more are not drawn individually: their figures are in the table above and the CSV.",
    )
    busiest = figures[0]
    if busiest.peak is not None and busiest.peak_ms is not None:
        name = f"{busiest.canteen.building}/{busiest.canteen.device}"
        when = stamp(busiest.peak_ms, tz)
        section.summary = Text(
            f"最忙的食堂是 {name}：{when} 负荷 {busiest.peak:.0f}%。",
            f"The busiest canteen was {name}: {busiest.peak:.0f}% of its capacity at {when}.",
        )
    return section, [(f.canteen, f.service) for f in figures]


def _tallies(
    service_series: list[Series], service: tuple[tuple[time, time], ...], tz: ZoneInfo
) -> tuple[dict[date, list[_Service]], list[_Service]]:
    """The queue and takeaway buckets added up per local day and service window, and per window
    over the period."""
    per_day: dict[date, list[_Service]] = defaultdict(lambda: [_Service() for _ in service])
    overall = [_Service() for _ in service]
    for row in rows(service_series):
        moment = local(row.time_ms, tz)
        window = _window(moment, service)
        if window is None:
            continue
        v = row.values
        for tallies in (per_day[moment.date()][window], overall[window]):
            tallies.queue.add(v.get("qs"), v.get("qn"), v.get("qm"))
            tallies.takeaway.add(v.get("ts"), v.get("tn"), v.get("tm"))
    return per_day, overall


def _days(period: Period, tz: ZoneInfo) -> list[date]:
    first = period.start.astimezone(tz).date()
    last = (period.end - timedelta(milliseconds=1)).astimezone(tz).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _section(
    canteen: DeviceInfo,
    capacity: int | None,
    period: Period,
    tz: ZoneInfo,
    counts: list[tuple[int, float]],
    peaks: dict[date, int],
    service_series: list[Series],
) -> Section:
    name = f"{canteen.building}/{canteen.device}"
    section = Section(f"canteen-{canteen.building}-{canteen.device}", Text(f"食堂 {name}", f"Canteen {name}"))
    if not capacity:
        section.summary = Text(
            f"{name} 没有容量，无法计算负荷。", f"{name} has no capacity: no load can be computed."
        )
        return section
    start_ms, end_ms = ms(period.start), ms(period.end)
    # Load in % for each hour with readings, the four weeks before included (for the typical day).
    load_points = [(t, 100.0 * v / capacity) for t, v in counts]
    in_period = [(t, v) for t, v in load_points if start_ms <= t < end_ms]
    service = canteen.meal_service
    per_day, overall = _tallies(service_series, service, tz)

    days_table = Table(
        "canteen-days",
        Text("逐日负荷", "Day by day"),
        [
            Column("date", Text("日期", "Date")),
            Column("weekday", Text("星期", "Weekday")),
            Column("busiest_hour", Text("最忙时段", "Busiest hour")),
            Column("busiest_load", Text("该时段负荷", "Load in that hour"), "%"),
            Column("typical_load", Text("典型日同时段负荷", "Typical load in that hour"), "%"),
            *_LOAD_COLUMNS,
        ],
    )
    line_times: list[datetime] = []
    line_values: list[float | None] = []
    line_typical: list[float | None] = []
    by_hour = {t: v for t, v in in_period}
    busiest_gap: tuple[float, date, int] | None = None
    for day in _days(period, tz):
        typical = typical_day(load_points, day, tz, slot_minutes=60)
        midnight = datetime.combine(day, time(0), tz)
        hours = []
        for hour in range(24):
            moment = midnight + timedelta(hours=hour)
            t = ms(moment)
            if not start_ms <= t < end_ms:
                continue
            value = by_hour.get(t)
            line_times.append(moment)
            line_values.append(value)
            line_typical.append(typical.get(hour * 60))
            if value is not None:
                hours.append((value, hour))
        stats = per_day.get(day)
        queue = [s.queue for s in stats] if stats else None
        takeaway = [s.takeaway for s in stats] if stats else None
        if not hours:
            days_table.rows.append(
                [day.isoformat(), charts.WEEKDAYS[day.weekday()].en, None, None, None, None, None, None, None]
            )
            continue
        load, hour = max(hours, key=lambda h: (h[0], -h[1]))
        usual = typical.get(hour * 60)
        if usual is not None and (busiest_gap is None or load - usual > busiest_gap[0]):
            busiest_gap = (load - usual, day, hour)
        days_table.rows.append(
            [
                day.isoformat(),
                charts.WEEKDAYS[day.weekday()].en,
                f"{hour:02d}:00",
                round(load, 1),
                None if usual is None else round(usual, 1),
                peaks.get(day),
                _mean(queue),
                _top(queue),
                _top(takeaway),
            ]
        )
    service_table = Table(
        "canteen-service",
        Text("各供餐时段", "Each service window"),
        [
            Column("window", Text("供餐时段", "Service window")),
            Column("queue_mean", Text("平均排队", "Mean queue")),
            Column("queue_max", Text("最长排队", "Longest queue")),
            Column("takeaway_mean", Text("平均待取外卖", "Mean takeaway pending")),
            Column("takeaway_max", Text("最多待取外卖", "Most takeaway pending")),
        ],
        [
            [_label(window), s.queue.mean, s.queue.top, s.takeaway.mean, s.takeaway.top]
            for window, s in zip(service, overall, strict=True)
        ],
    )
    section.tables += [days_table, service_table]
    section.charts.append(
        charts.heat_map(
            f"canteen-heat-{canteen.building}-{canteen.device}",
            Text(f"{name} 按星期和小时的负荷", f"{name}: load by weekday and hour"),
            Text(f"{name} 负荷", f"{name} load"),
            weekday_hour_means(in_period, tz),
            unit="%",
            vmin=0,
            vmax=100,
        )
    )
    section.charts.append(
        charts.line_chart(
            f"canteen-load-{canteen.building}-{canteen.device}",
            Text(f"{name} 逐小时负荷与典型日", f"{name}: load hour by hour against the typical day"),
            Text(f"{name} 负荷", f"{name} load"),
            line_times,
            line_values,
            typical=line_typical,
            tz=tz,
            unit="%",
        )
    )
    section.charts.append(
        charts.bar_chart(
            f"canteen-queue-{canteen.building}-{canteen.device}",
            Text(f"{name} 各供餐时段排队", f"{name}: queue in each service window"),
            Text("排队人数", "queue length"),
            [_label(w) for w in service],
            [
                BarSeries(Text("平均", "mean"), [s.queue.mean for s in overall]),
                BarSeries(Text("最长", "longest"), [s.queue.top for s in overall]),
            ],
        )
    )
    if busiest_gap is None:
        section.summary = Text(
            f"{name} 期间没有可比较的读数。", f"{name}: no reading to compare in the period."
        )
    else:
        gap, day, hour = busiest_gap
        section.summary = Text(
            f"{name} 比典型日最忙的是 {day.isoformat()} {hour:02d}:00，负荷高出 {gap:.0f} 个百分点。",
            f"{name} was busiest against its typical day on {day.isoformat()} at {hour:02d}:00, "
            f"{gap:.0f} points above it.",
        )
    return section


def _mean(tallies: list[_Tally] | None) -> float | None:
    if not tallies:
        return None
    total = _Tally()
    for one in tallies:
        total.add(one.total, one.count, one.top)
    return total.mean


def _top(tallies: list[_Tally] | None) -> float | None:
    tops = [t.top for t in tallies or [] if t.top is not None]
    return max(tops) if tops else None
