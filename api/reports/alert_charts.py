"""The alert handling report's pictures: time to acknowledge per rule (median and p90 bars), and
each receiver's deliveries by outcome (stacked bars)."""

# ruff: noqa: RUF001  (Chinese texts use Chinese punctuation; the dash is a typographic one)

from __future__ import annotations

from collections import defaultdict
from typing import Final

from matplotlib.figure import Figure

from api.reports.aed_charts import WIDTH_IN, png
from api.reports.model import Chart, Table, Text

MAX_BARS: Final = 30


def _column(table: Table, key: str) -> int:
    return [c.key for c in table.columns].index(key)


def response_by_rule(handling: Table) -> Chart:
    rule, ack50, ack90, raised = (
        _column(handling, k) for k in ("rule", "ack_median_s", "ack_p90_s", "raised")
    )
    # Per rule over buildings: the worst building's figures (what a manager asks about).
    worst: dict[str, tuple[float, float, int]] = defaultdict(lambda: (0.0, 0.0, 0))
    for row in handling.rows:
        m, p, n = worst[str(row[rule])]
        worst[str(row[rule])] = (
            max(m, float(row[ack50] or 0)),
            max(p, float(row[ack90] or 0)),
            n + int(row[raised] or 0),
        )
    names = sorted(worst, key=lambda r: -worst[r][1])[:MAX_BARS]
    figure = Figure(figsize=(WIDTH_IN, min(9.0, 1.2 + 0.3 * len(names))))
    ax = figure.subplots()
    positions = list(range(len(names)))
    ax.barh([p - 0.2 for p in positions], [worst[n][0] for n in names], 0.4, color="#0072B2", label="median")
    ax.barh([p + 0.2 for p in positions], [worst[n][1] for n in names], 0.4, color="#D55E00", label="p90")
    ax.set_yticks(positions, [f"{n} ({worst[n][2]})" for n in names])
    ax.invert_yaxis()
    ax.set_xlabel("s")
    ax.legend(fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    lines_en = "; ".join(f"{n}: median {worst[n][0]:.0f} s, p90 {worst[n][1]:.0f} s" for n in names[:5])
    lines_zh = "；".join(f"{n}：中位数 {worst[n][0]:.0f} 秒，P90 {worst[n][1]:.0f} 秒" for n in names[:5])
    return Chart(
        "ack-by-rule",
        Text(
            "各规则的确认用时（中位数与 P90，取最慢的楼栋）",
            "Time to acknowledge per rule (median and p90, slowest building)",
        ),
        png(figure),
        Text(f"条形图。{lines_zh}", f"Bar chart. {lines_en}"),
    )


def deliveries_by_receiver(deliveries: Table) -> Chart:
    receiver, channel, delivered, failed, pending, total = (
        _column(deliveries, k)
        for k in ("receiver", "channel", "delivered", "failed", "pending", "deliveries")
    )
    rows = deliveries.rows[:MAX_BARS]
    names = [f"{r[receiver]} ({r[channel]})" for r in rows]
    ok = [int(r[delivered] or 0) for r in rows]
    bad = [int(r[failed] or 0) for r in rows]
    waiting = [int(r[pending] or 0) for r in rows]
    other = [int(r[total] or 0) - a - b - c for r, a, b, c in zip(rows, ok, bad, waiting, strict=True)]
    figure = Figure(figsize=(WIDTH_IN, min(9.0, 1.2 + 0.3 * len(rows))))
    ax = figure.subplots()
    left = [0] * len(rows)
    for values, colour, label in (
        (ok, "#009E73", "delivered"),
        (bad, "#D55E00", "failed"),
        (waiting, "#E69F00", "pending"),
        (other, "#999999", "cancelled"),
    ):
        ax.barh(names, values, left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.invert_yaxis()
    ax.legend(fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    text_en = "; ".join(f"{n}: {a} delivered, {b} failed" for n, a, b in zip(names, ok, bad, strict=True))
    text_zh = "；".join(f"{n}：送达 {a}，失败 {b}" for n, a, b in zip(names, ok, bad, strict=True))
    return Chart(
        "deliveries-by-receiver",
        Text("各接收方的投递结果", "Deliveries per receiver by outcome"),
        png(figure),
        Text(f"堆叠条形图。{text_zh}", f"Stacked bar chart. {text_en}"),
    )
