# ruff: noqa: RUF001, S608  (Chinese texts use full-width punctuation; InfluxQL from quoted pieces, not SQL)
"""The data-quality report: per device and kind, the share of the expected readings that arrived,
the silent periods, and the messages the collector rejected, by reason.

Figures:
- expected readings: the period over the kind's heartbeat (`collector.cadence.HEARTBEAT_MS`, the
  one owner, which the simulator beats by); received: `count()` of the kind's required field
  (contract section 1) per device, in InfluxDB. A device also reports each change, so it may send
  more than expected: its share is capped at 100 %, and its gaps show as silent periods instead;
- silent periods: runs of at least `silence_factor` heartbeat windows without a reading. InfluxDB
  counts the readings per window (GROUP BY time(heartbeat) fill(0)) and returns only the empty
  windows (a subquery); consecutive ones are joined here. A registered device without a single
  reading in the period is silent for all of it;
- rejected messages: the collector's dead-letter store (`collector.dead_letters`, the durable
  record; the Prometheus counters restart at zero with the process), by reason, for the topics of
  the scope. The store keeps the newest rows only: when it may have dropped some of the period,
  the section says the counts are a lower bound.
Only the devices of the registry are reported: readings of unknown devices are kept apart in the
quarantine and never reach the measurements.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from api.influx import InfluxQueryClient
from api.reports import charts
from api.reports.charts import BarSeries, Interval, TimelineRow
from api.reports.model import Cell, Column, Period, Scope, Section, Table, Text
from api.reports.queries import by_device, local, ms, pct, rows, run, stamp, where
from collector.cadence import HEARTBEAT_MS
from collector.dead_letters import DeadLetters
from collector.registry import DeviceInfo, Registry

__all__ = ["REQUIRED_FIELD", "SILENCE_FACTOR", "build_quality_sections"]

# The field every reading of a kind carries (contract section 1): counting it counts readings.
REQUIRED_FIELD: Final = {
    "parking_space": "occupied",
    "parking_lot": "occupied",
    "aed": "state",
    "canteen": "occupancy",
}
# A gap of three heartbeats: two missed beats in a row happen on a busy radio; three is a device
# or gateway that stopped.
SILENCE_FACTOR: Final = 3
# The timeline draws the devices silent longest; the table lists them all.
TIMELINE_ROWS: Final = 20
KIND_TEXT: Final = {
    "parking_space": Text("车位传感器", "parking spaces"),
    "parking_lot": Text("停车场计数器", "lot counters"),
    "aed": Text("AED", "AEDs"),
    "canteen": Text("食堂计数器", "canteen counters"),
}
SILENT = Text("无读数", "silent")


@dataclass(frozen=True, slots=True)
class _Silence:
    device: DeviceInfo
    start_ms: int
    end_ms: int

    @property
    def minutes(self) -> float:
        return round((self.end_ms - self.start_ms) / 60_000, 1)


def _statements(kind: str, period: Period, scope: Scope) -> list[str]:
    field, every = REQUIRED_FIELD[kind], HEARTBEAT_MS[kind]
    received = (
        f'SELECT count("{field}") AS "v" FROM "{kind}" {where(period, scope)} GROUP BY "building", "device"'
    )
    windows = (
        f'SELECT count("{field}") AS "c" FROM "{kind}" {where(period, scope)} '
        f'GROUP BY time({every}ms), "building", "device" fill(0)'
    )
    # The outer WHERE keeps the period and no building: the subquery has already chosen.
    outer = where(period, Scope(scope.site), '"c" = 0')
    empty = f'SELECT "c" FROM ({windows}) {outer} GROUP BY "building", "device"'
    return [received, empty]


def _silences(
    device: DeviceInfo, empty_ms: list[int], every: int, factor: int, received: int, period: Period
) -> list[_Silence]:
    if received == 0:
        return [_Silence(device, ms(period.start), ms(period.end))]
    out: list[_Silence] = []
    run_start = previous = None
    for t in [*sorted(empty_ms), None]:
        if t is not None and previous is not None and t == previous + every:
            previous = t
            continue
        if run_start is not None and previous is not None and (previous - run_start) // every + 1 >= factor:
            out.append(_Silence(device, run_start, previous + every))
        run_start = previous = t
    return out


async def build_quality_sections(
    client: InfluxQueryClient,
    period: Period,
    scope: Scope,
    registry: Registry,
    dead_letters: DeadLetters | None,
    *,
    silence_factor: int = SILENCE_FACTOR,
) -> list[Section]:
    """The sections of a `data-quality` report.

    client: the API's InfluxQL client (open); period: [start, end) UTC; scope: the area or one
    building; registry: the devices expected to report, and the time zone of the times shown;
    dead_letters: the collector's dead-letter store (`collector.dead_letter_path`; None where this
    process cannot read it: the rejections section says so); silence_factor: how many heartbeats
    without a reading make a silent period.
    Sections: "readings" (tables `by-kind`, `devices`, `silent-periods`; a bar chart of the share
    received by kind and a timeline of the silent periods) and "rejections" (table `rejections`
    and a bar chart by reason).
    """
    tz = ZoneInfo(registry.timezone)
    devices = [d for d in registry.devices() if scope.building in (None, d.building)]
    kinds = [k for k in HEARTBEAT_MS if any(d.kind == k for d in devices)]
    answers = await run(client, [s for kind in kinds for s in _statements(kind, period, scope)])
    expected_of = {k: int(period.seconds * 1000 // HEARTBEAT_MS[k]) for k in kinds}
    received: dict[tuple[str, str, str], int] = {}
    empty: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for i, kind in enumerate(kinds):
        for (building, name), (_, count) in by_device(answers[2 * i]).items():
            received[kind, building, name] = int(count or 0)
        for row in rows(answers[2 * i + 1]):
            empty[kind, row.building, row.device].append(row.time_ms)

    silences: list[_Silence] = []
    device_rows: list[list[Cell]] = []
    by_kind: dict[str, list[int]] = {k: [0, 0, 0, 0] for k in kinds}  # devices, expected, received, silent
    for device in devices:
        key = (device.kind, device.building, device.device)
        expected, got = expected_of[device.kind], received.get(key, 0)
        mine = _silences(device, empty.get(key, []), HEARTBEAT_MS[device.kind], silence_factor, got, period)
        silences += mine
        counted = min(got, expected)
        tally = by_kind[device.kind]
        tally[0] += 1
        tally[1] += expected
        tally[2] += counted
        tally[3] += 1 if mine else 0
        device_rows.append(
            [
                device.building,
                device.kind,
                device.device,
                expected,
                got,
                pct(counted, expected),
                len(mine),
                round(sum(s.minutes for s in mine), 1),
            ]
        )
    device_rows.sort(key=lambda r: (float(r[5] or 0), str(r[0]), str(r[1]), str(r[2])))
    silences.sort(key=lambda s: (s.start_ms, s.device.building, s.device.device))

    readings = Section("readings", Text("读数到达情况", "Readings received"))
    readings.tables.append(
        Table(
            "by-kind",
            Text("按设备类型", "By kind of device"),
            [
                Column("kind", Text("类型", "Kind")),
                Column("devices", Text("设备数", "Devices")),
                Column("expected", Text("应收读数", "Readings expected")),
                Column("received", Text("实收读数", "Readings received")),
                Column("share", Text("到达率", "Share received"), "%"),
                Column("devices_silent", Text("有静默期的设备", "Devices with silent periods")),
            ],
            [[k, t[0], t[1], t[2], pct(t[2], t[1]), t[3]] for k, t in by_kind.items()],
        )
    )
    readings.tables.append(
        Table(
            "devices",
            Text("各设备（到达率低者在前）", "Each device, lowest share first"),
            [
                Column("building", Text("楼宇", "Building")),
                Column("kind", Text("类型", "Kind")),
                Column("device", Text("设备", "Device")),
                Column("expected", Text("应收读数", "Readings expected")),
                Column("received", Text("实收读数", "Readings received")),
                Column("share", Text("到达率", "Share received"), "%"),
                Column("silent_periods", Text("静默次数", "Silent periods")),
                Column("silent_minutes", Text("静默时长", "Time silent"), "min"),
            ],
            device_rows,
        )
    )
    readings.tables.append(
        Table(
            "silent-periods",
            Text(
                f"静默期（连续 {silence_factor} 个心跳周期无读数）",
                f"Silent periods ({silence_factor} heartbeats or more without a reading)",
            ),
            [
                Column("building", Text("楼宇", "Building")),
                Column("kind", Text("类型", "Kind")),
                Column("device", Text("设备", "Device")),
                Column("start", Text("开始", "From")),
                Column("end", Text("结束", "To")),
                Column("minutes", Text("时长", "Duration"), "min"),
            ],
            [
                [
                    s.device.building,
                    s.device.kind,
                    s.device.device,
                    stamp(s.start_ms, tz),
                    stamp(s.end_ms, tz),
                    s.minutes,
                ]
                for s in silences
            ],
        )
    )
    if kinds:
        readings.charts.append(
            charts.bar_chart(
                "received-by-kind",
                Text("各类设备读数到达率", "Share of readings received by kind"),
                Text("读数到达率", "share of readings received"),
                [KIND_TEXT[k] for k in kinds],
                [BarSeries(Text("到达率", "received"), [pct(t[2], t[1]) for t in by_kind.values()])],
                unit="%",
                ymax=100,
            )
        )
    longest: dict[tuple[str, str, str], float] = defaultdict(float)
    for s in silences:
        longest[s.device.building, s.device.kind, s.device.device] += s.minutes
    shown = sorted(longest, key=lambda k: (-longest[k], k))[:TIMELINE_ROWS]
    readings.charts.append(
        charts.timeline(
            "silent-periods",
            Text("静默期", "Silent periods"),
            Text("设备静默期", "device silent periods"),
            [
                TimelineRow(
                    f"{b}/{d}",
                    [
                        Interval(local(s.start_ms, tz), local(s.end_ms, tz), SILENT)
                        for s in silences
                        if (s.device.building, s.device.kind, s.device.device) == (b, k, d)
                    ],
                )
                for b, k, d in shown
            ],
            period.start,
            period.end,
            tz=tz,
        )
    )
    total_expected = sum(t[1] for t in by_kind.values())
    total_received = sum(t[2] for t in by_kind.values())
    readings.summary = Text(
        f"收到应收读数的 {pct(total_received, total_expected)}%；{len({(s.device.kind, s.device.building, s.device.device) for s in silences})} 台设备有静默期，共 {len(silences)} 段。",
        f"{pct(total_received, total_expected)}% of the expected readings arrived; "
        f"{len({(s.device.kind, s.device.building, s.device.device) for s in silences})} devices had "
        f"{len(silences)} silent periods.",
    )
    return [readings, _rejections(period, scope, dead_letters)]


def _rejections(period: Period, scope: Scope, dead_letters: DeadLetters | None) -> Section:
    section = Section("rejections", Text("被拒收的消息", "Rejected messages"))
    if dead_letters is None:
        section.summary = Text(
            "本进程读不到采集器的死信库，无法统计被拒收的消息。",
            "The collector's dead-letter store is not readable here: rejected messages are not counted.",
        )
        return section
    prefix = "" if scope.building is None else f"louyu/{scope.building}/"
    counts = dead_letters.counts_by_reason(ms(period.start), ms(period.end), prefix)
    ordered = sorted(counts.by_reason.items(), key=lambda item: (-item[1], item[0]))
    section.tables.append(
        Table(
            "rejections",
            Text("按原因", "By reason"),
            [Column("reason", Text("原因", "Reason")), Column("messages", Text("消息数", "Messages"))],
            [[reason, n] for reason, n in ordered],
        )
    )
    total = sum(counts.by_reason.values())
    if ordered:
        section.charts.append(
            charts.bar_chart(
                "rejections-by-reason",
                Text("按原因统计的拒收消息", "Rejected messages by reason"),
                Text("拒收消息", "rejected messages"),
                [reason for reason, _ in ordered],
                [BarSeries(Text("消息数", "messages"), [n for _, n in ordered])],
            )
        )
    lower_bound = Text(
        "（死信库已删除期间内较早的记录，实际数量可能更多）",
        " (the store dropped older rows of the period: there may have been more)",
    )
    section.summary = Text(
        f"期间共拒收 {total} 条消息。" + ("" if counts.complete else lower_bound.zh),
        f"{total} messages were rejected in the period." + ("" if counts.complete else lower_bound.en),
    )
    return section
