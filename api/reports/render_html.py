"""HTML: one page per report, in the dashboard's style, charts as PNG images (data: URLs, which
the pages' Content-Security-Policy allows) with their text alternatives, each table with a link
to its CSV."""

# ruff: noqa: RUF001  (Chinese texts use Chinese punctuation; the dash is a typographic one)

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Final

from jinja2 import Environment, FileSystemLoader, select_autoescape

from api.reports import labels
from api.reports.model import Cell, Language, Report
from api.reports.render_csv import file_name

TEMPLATES: Final = Path(__file__).parent / "templates"
_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def cell_text(cell: Cell) -> str:
    if cell is None:
        return "–"
    if isinstance(cell, float):
        return f"{cell:g}" if abs(cell) < 1e6 else f"{cell:.0f}"
    return str(cell)


def render(
    report: Report,
    lang: Language,
    *,
    timezone: str,
    static: str,
    csv_url: Callable[[str], str],
    other_formats: dict[str, str],
    building_name: str | None = None,
) -> str:
    """`csv_url(file_name)` links a table's CSV; `other_formats` maps a label (PDF, ZIP, the
    other language) to its URL."""
    template = _env.get_template("report.html")
    return template.render(
        report=report,
        lang=lang,
        title=report.title(lang),
        period=labels.period_text(report.period, timezone, lang),
        scope=labels.scope_text(report, lang, building_name),
        generated=f"{labels.GENERATED(lang)} {labels.local(report.generated_at, timezone)}",
        labels=labels,
        static=static,
        csv_url=lambda section, table: csv_url(file_name(report, section, table)),
        other_formats=other_formats,
        heading=lambda column: labels.heading(column, lang),
        cell=cell_text,
        data_url=lambda png: "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
        numeric=lambda column: column.unit != "" or column.key.endswith(("_s", "_ms", "_min", "_pct")),
    )
