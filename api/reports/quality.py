# ruff: noqa: RUF001, S608  (Chinese texts use full-width punctuation; InfluxQL from quoted pieces, not SQL)
"""The data-quality report: per device and kind, the share of the expected readings that arrived,
the silent periods, and the messages the collector rejected, by reason.

Figures:
- expected readings: the period over the kind's heartbeat (`collector.cadence.HEARTBEAT_MS`, the
  one owner, which the simulator beats by); received: `count()` of the kind's required field
  (contract section 1) per device, in InfluxDB. A device also reports each change, so it may send
  more than expected: its share is capped at 100 %, and its gaps show as silent periods instead;
- silent periods: runs of at least `silence_factor` heartbeat windows without a reading, found
  in two passes so that a month stays cheap: InfluxDB first counts each device's readings per UTC
  day (GROUP BY time(1d) fill(0)); a day with none is silent throughout, a day with all its
  heartbeats' worth is taken as whole, and only the days in between are counted heartbeat window
  by heartbeat window (GROUP BY time(heartbeat) fill(0)). Adjacent empty windows and days are
  joined here. A device that made up for missed beats with reports of changes the same day is not
  looked into that day: the window-by-window count of every device over a whole month took
  95 s for the 600 Darong spaces in influxd 1.6, the daily count 5 s. A registered device without
  a single reading in the period is silent for all of it;
- rejected messages: the collector's dead-letter store (`collector.dead_letters`, the durable
  record; the Prometheus counters restart at zero with the process), by reason, for the topics of
  the scope. The store keeps the newest rows only: when it may have dropped some of the period,
  the section says the counts are a lower bound.
Only the devices of the registry are reported: readings of unknown devices are kept apart in the
quarantine and never reach the measurements.

What is read where: the page and the PDF give the summary by kind and by building, then the devices
with a problem (a share under 100 % or a silent period), worst first, and the silent periods, at
most `SHOWN_ROWS` of each, saying how many more there are; the CSV files hold every device and
every silent period. A district's 100,000 rows are a spreadsheet's work, not a manager's page.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from api.influx import InfluxQueryClient
from api.reports import charts
from api.reports.charts import BarSeries, Interval, TimelineRow
from api.reports.model import SHOWN_ROWS, Cell, Column, Period, Scope, Section, Table, Text
from api.reports.queries import local, ms, pct, rows, run, stamp, tag_is, where
from collector.cadence import HEARTBEAT_MS
from collector.dead_letters import DeadLetters
from collector.registry import DeviceInfo, Registry

__all__ = ["REQUIRED_FIELD", "SHOWN_ROWS", "SILENCE_FACTOR", "build_quality_sections"]

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
# The timeline draws the devices silent longest; the CSV lists them all.
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


DAY_MS: Final = 86_400_000


def _daily(kind: str, period: Period, scope: Scope) -> str:
    """Readings per device and UTC day, empty days included."""
    return (
        f'SELECT count("{REQUIRED_FIELD[kind]}") AS "v" FROM "{kind}" {where(period, scope)} '
        f'GROUP BY time(1d), "building", "device" fill(0)'
    )


def _windows(device: DeviceInfo, start_ms: int, end_ms: int) -> str:
    """Readings per heartbeat window of one device in [start_ms, end_ms), empty windows included."""
    return (
        f'SELECT count("{REQUIRED_FIELD[device.kind]}") AS "v" FROM "{device.kind}" '
        f"WHERE time >= {start_ms}ms AND time < {end_ms}ms AND {tag_is('building', device.building)} "
        f"AND {tag_is('device', device.device)} GROUP BY time({HEARTBEAT_MS[device.kind]}ms) fill(0)"
    )


def _joined(spans: list[tuple[int, int]], shortest_ms: int) -> list[tuple[int, int]]:
    """Adjacent [start, end) spans joined; those at least `shortest_ms` long."""
    out: list[list[int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(start, end) for start, end in out if end - start >= shortest_ms]


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
    start_ms, end_ms = ms(period.start), ms(period.end)
    expected_of = {k: int((end_ms - start_ms) // HEARTBEAT_MS[k]) for k in kinds}
    received: dict[tuple[str, str, str], int] = defaultdict(int)
    quiet: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    partial: list[tuple[DeviceInfo, int, int]] = []
    registered = {(d.kind, d.building, d.device): d for d in devices}
    for kind, series in zip(kinds, await run(client, [_daily(k, period, scope) for k in kinds]), strict=True):
        every = HEARTBEAT_MS[kind]
        for row in rows(series):
            key = (kind, row.building, row.device)
            device = registered.get(key)
            if device is None:
                continue
            count = int(row.values.get("v") or 0)
            received[key] += count
            # The UTC day, cut to the period (its first and last days may be partial).
            day_start, day_end = max(row.time_ms, start_ms), min(row.time_ms + DAY_MS, end_ms)
            if count == 0:
                quiet[key].append((day_start, day_end))
            elif count < (day_end - day_start) // every:
                partial.append((device, day_start, day_end))
    windows = await run(client, [_windows(d, a, b) for d, a, b in partial])
    for (device, _, _), series in zip(partial, windows, strict=True):
        every = HEARTBEAT_MS[device.kind]
        quiet[device.kind, device.building, device.device] += [
            (r.time_ms, r.time_ms + every) for r in rows(series) if not r.values.get("v")
        ]

    silences: list[_Silence] = []
    device_rows: list[list[Cell]] = []
    by_kind: dict[str, list[int]] = {k: [0, 0, 0, 0] for k in kinds}  # devices, expected, received, silent
    by_building: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for device in devices:
        key = (device.kind, device.building, device.device)
        expected, got = expected_of[device.kind], received.get(key, 0)
        spans = quiet.get(key, []) if got else [(start_ms, end_ms)]
        mine = [_Silence(device, a, b) for a, b in _joined(spans, silence_factor * HEARTBEAT_MS[device.kind])]
        silences += mine
        counted = min(got, expected)
        for tally in (by_kind[device.kind], by_building[device.building]):
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
    # Devices with a problem first (a share under 100 % or a silent period), the lowest share and
    # then the longest silence first; so the page's first rows are the worst.
    device_rows.sort(
        key=lambda r: (not _problem(r), float(r[5] or 0), -float(r[7] or 0), str(r[0]), str(r[1]), str(r[2]))
    )
    problems = sum(1 for r in device_rows if _problem(r))
    silences.sort(key=lambda s: (s.start_ms, s.device.building, s.device.device))

    readings = Section("readings", Text("读数到达情况", "Readings received"))
    readings.tables.append(
        _tally_table(
            "by-kind", Text("按设备类型", "By kind of device"), Column("kind", Text("类型", "Kind")), by_kind
        )
    )
    readings.tables.append(
        _tally_table(
            "by-building",
            Text("按楼宇", "By building"),
            Column("building", Text("楼宇", "Building")),
            by_building,
        )
    )
    listed = min(problems, SHOWN_ROWS)
    readings.tables.append(
        Table(
            "devices",
            Text("有问题的设备（最差者在前）", "Devices with problems, worst first"),
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
            shown=listed,
            more=_devices_left_out(problems - listed, len(device_rows) - problems),
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
            shown=min(len(silences), SHOWN_ROWS),
            more=_periods_left_out(len(silences) - SHOWN_ROWS),
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


def _tally_table(name: str, title: Text, first: Column, tallies: dict[str, list[int]]) -> Table:
    """Readings expected and received, summed by `first` (kind or building): each tally is
    devices, expected, received, devices with silent periods."""
    return Table(
        name,
        title,
        [
            first,
            Column("devices", Text("设备数", "Devices")),
            Column("expected", Text("应收读数", "Readings expected")),
            Column("received", Text("实收读数", "Readings received")),
            Column("share", Text("到达率", "Share received"), "%"),
            Column("devices_silent", Text("有静默期的设备", "Devices with silent periods")),
        ],
        [[key, t[0], t[1], t[2], pct(t[2], t[1]), t[3]] for key, t in tallies.items()],
    )


def _problem(row: list[Cell]) -> bool:
    """A device row (see `devices`) whose share is under 100 % or that had a silent period."""
    return float(row[5] or 0) < 100 or bool(row[6])


def _devices_left_out(problems: int, fine: int) -> Text | None:
    """What the page's devices table leaves out (None: nothing)."""
    zh, en = [], []
    if problems > 0:
        zh.append(f"另有 {problems} 台有问题的设备未列出。")
        en.append(f"{problems} more devices with problems are not listed here.")
    if fine > 0:
        zh.append(f"{fine} 台设备读数齐全、没有静默期，未列出。")
        en.append(f"{fine} devices received every expected reading and had no silent period.")
    if not zh:
        return None
    return Text("".join(zh) + "全部设备见 CSV。", " ".join(en) + " Every device is in the CSV.")


def _periods_left_out(more: int) -> Text | None:
    if more <= 0:
        return None
    return Text(f"另有 {more} 段静默期未列出，全部见 CSV。", f"{more} more silent periods are in the CSV.")


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
