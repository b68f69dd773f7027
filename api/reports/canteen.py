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
from zoneinfo import ZoneInfo

from api.influx import InfluxQueryClient, Series
from api.reports import charts
from api.reports.charts import BarSeries
from api.reports.model import Column, Period, Scope, Section, Table, Text
from api.reports.queries import (
    by_device,
    local,
    ms,
    rows,
    run,
    tag_is,
    weekday_hour_means,
    where,
)
from api.web.forecast import TYPICAL_WEEKS, typical_day
from collector.registry import DeviceInfo, Registry

__all__ = ["build_canteen_sections"]

TITLE = Text("食堂负荷与排队", "Canteen load and queue")


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
    per service window as bars.
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
    sections = []
    for canteen, service_series in zip(canteens, services, strict=True):
        told = capacity_reported.get((canteen.building, canteen.device))
        capacity = int(told[1]) if told and told[1] else canteen.capacity
        sections.append(
            _section(
                canteen,
                capacity,
                period,
                tz,
                loads[canteen.building, canteen.device],
                tops[canteen.building, canteen.device],
                service_series,
            )
        )
    return sections


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

    days_table = Table(
        "canteen-days",
        Text("逐日负荷", "Day by day"),
        [
            Column("date", Text("日期", "Date")),
            Column("weekday", Text("星期", "Weekday")),
            Column("busiest_hour", Text("最忙时段", "Busiest hour")),
            Column("busiest_load", Text("该时段负荷", "Load in that hour"), "%"),
            Column("typical_load", Text("典型日同时段负荷", "Typical load in that hour"), "%"),
            Column("peak_occupancy", Text("最高人数", "Peak occupancy")),
            Column("queue_mean", Text("供餐时平均排队", "Mean queue at service"), ""),
            Column("queue_max", Text("供餐时最长排队", "Longest queue at service"), ""),
            Column("takeaway_max", Text("最多待取外卖", "Most takeaway pending"), ""),
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
