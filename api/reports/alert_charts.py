"""The alert handling report's pictures, drawn with `api/reports/charts.py`: time to acknowledge
per rule (median and p90 of the slowest building) and each receiver's deliveries by outcome."""

from __future__ import annotations

from typing import Final

from api.reports import charts
from api.reports.model import Chart, Table, Text

MAX_BARS: Final = 20


def _column(table: Table, key: str) -> int:
    return [c.key for c in table.columns].index(key)


def response_by_rule(handling: Table) -> Chart:
    rule, ack50, ack90 = (_column(handling, k) for k in ("rule", "ack_median_s", "ack_p90_s"))
    worst: dict[str, tuple[float, float]] = {}
    for row in handling.rows:
        m, p = worst.get(str(row[rule]), (0.0, 0.0))
        worst[str(row[rule])] = (max(m, float(row[ack50] or 0)), max(p, float(row[ack90] or 0)))
    names = sorted(worst, key=lambda r: -worst[r][1])[:MAX_BARS]
    return charts.bar_chart(
        "ack-by-rule",
        Text("各规则的确认用时（取最慢的楼栋）", "Time to acknowledge per rule (slowest building)"),  # noqa: RUF001
        Text("确认用时", "time to acknowledge"),
        names,
        [
            charts.BarSeries(Text("中位数", "median"), [worst[n][0] for n in names]),
            charts.BarSeries(Text("P90", "p90"), [worst[n][1] for n in names]),
        ],
        unit="s",
    )


def deliveries_by_receiver(deliveries: Table) -> Chart:
    receiver, channel = _column(deliveries, "receiver"), _column(deliveries, "channel")
    rows = deliveries.rows[:MAX_BARS]
    return charts.bar_chart(
        "deliveries-by-receiver",
        Text("各接收方的投递结果", "Deliveries per receiver by outcome"),
        Text("投递", "deliveries"),
        [f"{r[receiver]} ({r[channel]})" for r in rows],
        [
            charts.BarSeries(label, [float(r[_column(deliveries, key)] or 0) for r in rows])
            for key, label in (
                ("delivered", Text("已送达", "delivered")),
                ("retried", Text("重试过", "retried")),
                ("failed", Text("失败", "failed")),
            )
        ],
    )
