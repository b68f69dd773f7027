# ruff: noqa: RUF001, S608  (Chinese texts use full-width punctuation; InfluxQL from quoted pieces, not SQL)
"""The parking part of the parking and canteen report: for each lot counter of each site and level
(collector/site.py), its occupancy by weekday and hour as a heat map, the fewest and the most free
spaces with when, and how long it was full.

Figures, all aggregated in InfluxDB from the `parking_lot` measurement:
- occupancy %: the hourly mean of `occupied` (GROUP BY time(1h)) over the capacity; a heat-map
  cell is the mean of the hours of that weekday and local hour in the period, each hour alike;
- fewest free spaces: capacity - max(`occupied`), at the time of that reading; most free spaces:
  capacity - min(`occupied`);
- time full: the minutes in which the lot had no free space (`occupied` >= capacity), in two
  passes: an hour whose readings (min and max per hour, with the mean) all left no free space
  counts 60 minutes, an hour that never reached the capacity none; only the hours in between
  are counted minute by minute, the counter's value carried from one reading to the next
  (a subquery, GROUP BY time(1m) fill(previous)), so a full lot that reports once every few
  minutes still counts every minute it stayed full. An hour without any reading counts none;
- capacity: the last one the counter reported in the period, else the registry's (as the
  building summary does, docs/registry.md).
Spaces' own sensors are not counted here: a level without a counter has no row.

A district (more than DISTRICT_LOTS counters) is drawn as a whole: the scope's sites pooled into
one heat map (the sum of their hourly means over the sum of their capacities), the buildings
compared, and the DRAWN_LOTS busiest counters only; the table keeps every counter, the busiest
first, capped on the page at SHOWN_ROWS (docs/report-figures.md#a-district).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from api.influx import InfluxQueryClient
from api.reports import charts
from api.reports.charts import BarSeries
from api.reports.model import SHOWN_ROWS, Chart, Column, Period, Scope, Section, Table, Text
from api.reports.queries import (
    HOUR_MS,
    by_device,
    pct,
    pooled,
    rows,
    run,
    scalar,
    stamp,
    tag_is,
    weekday_hour_means,
    where,
)
from collector.registry import DeviceInfo, Registry
from collector.site import layout

__all__ = ["BUILDING_BARS", "DISTRICT_LOTS", "DRAWN_LOTS", "build_parking_sections"]

TITLE = Text("停车场占用", "Parking occupancy")


# More lot counters than this in the scope and the section is a district's: the heat map of the whole
# scope, the buildings compared, and the heat maps of the DRAWN_LOTS busiest counters only. A
# building or Darong (a handful of counters) gets a heat map per counter; a district of 100
# buildings has 300 counters, and 300 heat maps made a 20 MB page no one reads, drawn in 7 minutes.
DISTRICT_LOTS: Final = 12
# The busiest counters (longest full, then the highest peak) drawn one by one in a district: a page
# or two of A4, the lots a facility manager acts on first.
DRAWN_LOTS: Final = 8
# The buildings compared in one bar chart (the busiest by their peak hour): more bars are unreadable
# at the chart's width; the table and the CSV have every counter.
BUILDING_BARS: Final = 20


@dataclass(frozen=True, slots=True)
class _Lot:
    info: DeviceInfo
    site: DeviceInfo  # the site itself for a site's own counter

    @property
    def key(self) -> tuple[str, str]:
        return (self.info.building, self.info.device)

    @property
    def label(self) -> str:
        if self.info is self.site:
            return f"{self.info.building}/{self.info.device}"
        return f"{self.info.building}/{self.site.device}/{self.info.device}"


def _lots(registry: Registry, scope: Scope) -> list[_Lot]:
    out: list[_Lot] = []
    for place in layout(registry):
        if scope.building is not None and place.building.id != scope.building:
            continue
        for site in place.sites:
            out.append(_Lot(site.lot, site.lot))
            out.extend(_Lot(level.lot, site.lot) for level in site.levels)
    return out


@dataclass(frozen=True, slots=True)
class _Drawn:
    """A counter with readings in the period: what its heat map and its rank are made of."""

    lot: _Lot
    capacity: int
    hours: list[tuple[int, float]]  # (UTC hour ms, mean occupied)
    minutes_full: int
    peak: float  # max(occupied) over the capacity

    @property
    def busiest(self) -> tuple[int, float]:
        """The sort key of the busiest first (negated): the longest full, then the highest peak."""
        return (-self.minutes_full, -self.peak)


def _heat_map(one: _Drawn, tz: ZoneInfo) -> Chart:
    lot = one.lot
    return charts.heat_map(
        f"parking-heat-{lot.info.building}-{lot.info.device}",
        Text(f"{lot.label} 按星期和小时的占用率", f"{lot.label}: occupancy by weekday and hour"),
        Text(f"{lot.label} 占用率", f"{lot.label} occupancy"),
        weekday_hour_means(((t, 100.0 * v / one.capacity) for t, v in one.hours), tz),
        unit="%",
        vmin=0,
        vmax=100,
    )


def _district(section: Section, table: Table, lots: list[_Lot], drawn: list[_Drawn], tz: ZoneInfo) -> None:
    """A district's charts and table order (see DISTRICT_LOTS). The scope and each building are
    pooled over the sites' own counters: a level's spaces are also its site's, counted twice
    otherwise."""
    sites = [one for one in drawn if one.lot.info is one.lot.site]
    section.charts.append(
        charts.heat_map(
            "parking-heat-scope",
            Text("全部停车场按星期和小时的占用率", "All sites: occupancy by weekday and hour"),
            Text("全部停车场占用率", "occupancy of all sites"),
            weekday_hour_means(pooled((one.capacity, one.hours) for one in sites), tz),
            unit="%",
            vmin=0,
            vmax=100,
        )
    )
    by_building: dict[str, list[_Drawn]] = defaultdict(list)
    for one in sites:
        by_building[one.lot.info.building].append(one)
    if len(by_building) > 1:
        figures = []
        for building, ones in by_building.items():
            hourly = [v for _, v in pooled((one.capacity, one.hours) for one in ones)]
            figures.append((building, sum(hourly) / len(hourly), max(hourly)))
        figures.sort(key=lambda f: (-f[2], -f[1], f[0]))
        shown = figures[:BUILDING_BARS]
        section.charts.append(
            charts.bar_chart(
                "parking-buildings",
                Text(
                    f"占用率最高的 {len(shown)} 栋楼宇（共 {len(figures)} 栋）",
                    f"The {len(shown)} busiest buildings of {len(figures)}: occupancy",
                ),
                Text("占用率", "occupancy"),
                [building for building, _, _ in shown],
                [
                    BarSeries(Text("平均", "mean"), [round(mean, 1) for _, mean, _ in shown]),
                    BarSeries(Text("最高小时", "busiest hour"), [round(peak, 1) for _, _, peak in shown]),
                ],
                unit="%",
                ymax=100,
            )
        )
    ranked = sorted(drawn, key=lambda one: one.busiest)
    section.charts += [_heat_map(one, tz) for one in ranked[:DRAWN_LOTS]]
    left = len(lots) - min(len(ranked), DRAWN_LOTS)
    section.charts_more = (
        None
        if not ranked
        else Text(
            f"只画出最忙的 {min(len(ranked), DRAWN_LOTS)} 个计数器（满位最久、峰值最高）；其余 {left} 个未单独绘图，"
            "其数字见下表与 CSV。",
            f"Only the {min(len(ranked), DRAWN_LOTS)} busiest counters (longest full, then highest peak) are "
            f"drawn one by one; {left} more are not drawn individually: their figures are in the table and the CSV.",
        )
    )
    # The busiest first, the counters without readings last, so that a capped page keeps the
    # counters that matter.
    rank = {one.lot.key: n for n, one in enumerate(ranked)}
    table.rows.sort(key=lambda row: rank.get((str(row[0]), str(row[2])), len(rank)))
    if len(table.rows) > SHOWN_ROWS:
        table.shown = SHOWN_ROWS
        table.more = Text(
            f"另有 {len(table.rows) - SHOWN_ROWS} 个计数器未列出，全部见 CSV。",
            f"{len(table.rows) - SHOWN_ROWS} more counters are in the CSV.",
        )


# How far before an hour the minute-by-minute count looks for the reading that carries into it:
# several lot-counter heartbeats (collector/cadence.py: one a minute).
CARRY_MS: Final = 15 * 60_000


def _full_minutes_in(lot: _Lot, hour_ms: int, capacity: int) -> str:
    """One statement: the minutes of one hour in which the lot had no free space, its reading
    carried minute by minute (see the module's text)."""
    device = f"{tag_is('building', lot.info.building)} AND {tag_is('device', lot.info.device)}"
    inner = (
        f'SELECT max("occupied") AS "m" FROM "parking_lot" WHERE {device} '
        f"AND time >= {hour_ms - CARRY_MS}ms AND time < {hour_ms + HOUR_MS}ms GROUP BY time(1m) fill(previous)"
    )
    # The subquery's rows carry no tags: the outer WHERE is the hour and the test alone.
    return (
        f'SELECT count("m") AS "v" FROM ({inner}) '
        f'WHERE time >= {hour_ms}ms AND time < {hour_ms + HOUR_MS}ms AND "m" >= {int(capacity)}'
    )


async def build_parking_sections(
    client: InfluxQueryClient, period: Period, scope: Scope, registry: Registry
) -> list[Section]:
    """The parking sections of a `parking-canteen` report.

    client: the API's InfluxQL client (open); period: what is reported, [start, end) UTC; scope:
    the area or one building; registry: the sites, levels, capacities and the time zone the
    weekdays and hours are read in. One section, "parking": a table `parking-lots` (one row per
    site and level counter) and one weekday-by-hour heat map per counter with readings; in a
    district (more than DISTRICT_LOTS counters) the scope's and the buildings' charts and the
    heat maps of the DRAWN_LOTS busiest counters only, with `charts_more` saying how many are not
    drawn. Both languages.
    """
    tz = ZoneInfo(registry.timezone)
    lots = _lots(registry, scope)
    section = Section("parking", TITLE)
    if not lots:
        section.summary = Text("范围内没有停车场计数器。", "No parking lot counter in this scope.")
        return [section]
    hourly, highest, lowest, reported = await run(
        client,
        [
            f'SELECT mean("occupied") AS "v", min("occupied") AS "lo", max("occupied") AS "hi" '
            f'FROM "parking_lot" {where(period, scope)} '
            'GROUP BY time(1h), "building", "device" fill(none)',
            f'SELECT max("occupied") AS "v" FROM "parking_lot" {where(period, scope)} GROUP BY "building", "device"',
            f'SELECT min("occupied") AS "v" FROM "parking_lot" {where(period, scope)} GROUP BY "building", "device"',
            f'SELECT last("capacity") AS "v" FROM "parking_lot" {where(period, scope)} GROUP BY "building", "device"',
        ],
    )
    capacity_reported = by_device(reported)
    capacities: dict[tuple[str, str], int | None] = {}
    for lot in lots:
        told = capacity_reported.get(lot.key)
        capacities[lot.key] = int(told[1]) if told and told[1] else lot.info.capacity
    # Time full, in two passes: an hour whose readings all left no free space counts 60 minutes,
    # one that never reached the capacity none, and only the hours in between are counted
    # minute by minute.
    by_key = {lot.key: lot for lot in lots}
    full_minutes: dict[tuple[str, str], int] = defaultdict(int)
    mixed: list[tuple[_Lot, int, int]] = []
    hours: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for row in rows(hourly):
        key = (row.building, row.device)
        if row.values.get("v") is None or key not in by_key:
            continue
        hours.setdefault(key, []).append((row.time_ms, float(row.values["v"])))
        capacity = capacities[key]
        if not capacity:
            continue
        if row.values["lo"] >= capacity:
            full_minutes[key] += 60
        elif row.values["hi"] >= capacity:
            mixed.append((by_key[key], row.time_ms, capacity))
    counted = await run(client, [_full_minutes_in(lot, hour, capacity) for lot, hour, capacity in mixed])
    for (lot, _, _), series in zip(mixed, counted, strict=True):
        full_minutes[lot.key] += int(scalar(series) or 0)
    most, least = by_device(highest), by_device(lowest)
    period_hours = period.seconds / 3600

    table = Table(
        "parking-lots",
        Text("各停车场与楼层", "Each site and level"),
        [
            Column("building", Text("楼宇", "Building")),
            Column("site", Text("停车场", "Site")),
            Column("lot", Text("计数器", "Counter")),
            Column("capacity", Text("车位数", "Capacity")),
            Column("mean_occupancy", Text("平均占用率", "Mean occupancy"), "%"),
            Column("fewest_free", Text("最少空位", "Fewest free spaces")),
            Column("fewest_free_at", Text("最少空位时间", "Fewest free at")),
            Column("most_free", Text("最多空位", "Most free spaces")),
            Column("most_free_at", Text("最多空位时间", "Most free at")),
            Column("hours_full", Text("满位时长", "Time full"), "h"),
            Column("share_full", Text("满位占比", "Share of the period full"), "%"),
        ],
    )
    worst: tuple[int, _Lot, int] | None = None
    drawn: list[_Drawn] = []
    for lot in lots:
        capacity = capacities[lot.key]
        points = hours.get(lot.key, [])
        top, bottom = most.get(lot.key), least.get(lot.key)
        if capacity is None or not points or top is None or bottom is None:
            table.rows.append(
                [
                    lot.info.building,
                    lot.site.device,
                    lot.info.device,
                    capacity,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                ]
            )
            continue
        fewest = max(capacity - int(top[1]), 0)
        minutes = full_minutes.get(lot.key, 0)
        table.rows.append(
            [
                lot.info.building,
                lot.site.device,
                lot.info.device,
                capacity,
                pct(sum(v for _, v in points) / len(points), capacity),
                fewest,
                stamp(top[0], tz),
                max(capacity - int(bottom[1]), 0),
                stamp(bottom[0], tz),
                round(minutes / 60, 1),
                pct(minutes / 60, period_hours),
            ]
        )
        if worst is None or fewest < worst[0]:
            worst = (fewest, lot, top[0])
        drawn.append(_Drawn(lot, capacity, points, minutes, float(top[1]) / capacity))
    if len(lots) > DISTRICT_LOTS:
        _district(section, table, lots, drawn, tz)
    else:
        section.charts += [_heat_map(one, tz) for one in drawn]
    section.tables.append(table)
    if worst is None:
        section.summary = Text("期间没有停车场读数。", "No parking lot reading in the period.")
    else:
        fewest, lot, at = worst
        section.summary = Text(
            f"空位最少的是 {lot.label}：{stamp(at, tz)} 只剩 {fewest} 个。",
            f"The fewest free spaces were at {lot.label}: {fewest} at {stamp(at, tz)}.",
        )
    return [section]
