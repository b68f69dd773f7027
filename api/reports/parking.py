# ruff: noqa: RUF001, S608  (Chinese texts use full-width punctuation; InfluxQL from quoted pieces, not SQL)
"""The parking part of the parking and canteen report: for each lot counter of each site and level
(collector/site.py), its occupancy by weekday and hour as a heat map, the fewest and the most free
spaces with when, and how long it was full.

Figures, all aggregated in InfluxDB from the `parking_lot` measurement:
- occupancy %: the hourly mean of `occupied` (GROUP BY time(1h)) over the capacity; a heat-map
  cell is the mean of the hours of that weekday and local hour in the period, each hour alike;
- fewest free spaces: capacity - max(`occupied`), at the time of that reading; most free spaces:
  capacity - min(`occupied`);
- time full: the minutes in which the lot had no free space (`occupied` >= capacity): the
  counter's value is carried from one reading to the next minute by minute (a subquery,
  GROUP BY time(1m) fill(previous)), so a full lot that reports once every few minutes still
  counts every minute it stayed full;
- capacity: the last one the counter reported in the period, else the registry's (as the
  building summary does, docs/registry.md).
Spaces' own sensors are not counted here: a level without a counter has no row.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from api.influx import InfluxQueryClient
from api.reports import charts
from api.reports.model import Column, Period, Scope, Section, Table, Text
from api.reports.queries import by_device, pct, rows, run, scalar, stamp, tag_is, weekday_hour_means, where
from collector.registry import DeviceInfo, Registry
from collector.site import layout

__all__ = ["build_parking_sections"]

TITLE = Text("停车场占用", "Parking occupancy")


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


def _full_minutes(period: Period, scope: Scope, lot: _Lot, capacity: int) -> str:
    """One statement: the minutes in which the lot had no free space (see the module's text)."""
    device = (tag_is("building", lot.info.building), tag_is("device", lot.info.device))
    inner = (
        f'SELECT max("occupied") AS "m" FROM "parking_lot" {where(period, scope, *device)} '
        "GROUP BY time(1m) fill(previous)"
    )
    no_free = f'"m" >= {int(capacity)}'
    # The outer WHERE keeps the period (InfluxDB bounds the subquery's buckets by it) and no
    # building: the subquery's rows carry no tags.
    return f'SELECT count("m") AS "v" FROM ({inner}) {where(period, Scope(scope.site), no_free)}'


async def build_parking_sections(
    client: InfluxQueryClient, period: Period, scope: Scope, registry: Registry
) -> list[Section]:
    """The parking sections of a `parking-canteen` report.

    client: the API's InfluxQL client (open); period: what is reported, [start, end) UTC; scope:
    the area or one building; registry: the sites, levels, capacities and the time zone the
    weekdays and hours are read in. One section, "parking": a table `parking-lots` (one row per
    site and level counter) and one weekday-by-hour heat map per counter. Both languages.
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
            f'SELECT mean("occupied") AS "v" FROM "parking_lot" {where(period, scope)} '
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
    measured = [lot for lot in lots if capacities[lot.key]]
    full = await run(
        client, [_full_minutes(period, scope, lot, capacities[lot.key] or 0) for lot in measured]
    )
    full_minutes = {lot.key: int(scalar(series) or 0) for lot, series in zip(measured, full, strict=True)}
    hours: dict[tuple[str, str], list[tuple[int, float]]] = {}
    for row in rows(hourly):
        if row.values.get("v") is not None:
            hours.setdefault((row.building, row.device), []).append((row.time_ms, float(row.values["v"])))
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
        grid = weekday_hour_means(((t, 100.0 * v / capacity) for t, v in points), tz)
        section.charts.append(
            charts.heat_map(
                f"parking-heat-{lot.info.building}-{lot.info.device}",
                Text(f"{lot.label} 按星期和小时的占用率", f"{lot.label}: occupancy by weekday and hour"),
                Text(f"{lot.label} 占用率", f"{lot.label} occupancy"),
                grid,
                unit="%",
                vmin=0,
                vmax=100,
            )
        )
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
