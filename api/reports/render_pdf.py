"""PDF on A4 with reportlab: front matter, then each section's summary, charts and tables; table
headers repeat on every page they run onto, every page is numbered and names its report.

Why reportlab: a maintained, pure-Python document library (no system libraries, unlike
WeasyPrint's pango), whose built-in Adobe CID font `STSong-Light` sets Chinese without shipping
a font file (PDF readers supply the face), and whose tables break across pages by themselves.
Wide tables go on landscape pages.
"""

from __future__ import annotations

import io
from typing import Final
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    TableStyle,
)
from reportlab.platypus import Table as PdfTable

from api.reports import labels
from api.reports.model import Chart, Language, Report, Table
from api.reports.render_html import cell_text

FONT: Final = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
MARGIN: Final = 15 * mm
# A table with more columns than this is set on a landscape page.
PORTRAIT_COLUMNS: Final = 8

_TITLE = ParagraphStyle("title", fontName=FONT, fontSize=18, leading=24, spaceAfter=6)
_H2 = ParagraphStyle("h2", fontName=FONT, fontSize=13, leading=17, spaceBefore=10, spaceAfter=4)
_BODY = ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13, spaceAfter=4)
_CAPTION = ParagraphStyle(
    "caption", fontName=FONT, fontSize=8.5, leading=11, textColor=colors.HexColor("#444444")
)
_CELL = ParagraphStyle("cell", fontName=FONT, fontSize=7, leading=8.6)
_HEAD = ParagraphStyle("head", parent=_CELL, textColor=colors.black)


def _text(value: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(value), style)


def _chart(chart: Chart, width: float, lang: Language) -> list[Flowable]:
    image = Image(io.BytesIO(chart.png))
    scale = min(1.0, width / image.imageWidth, (180 * mm) / image.imageHeight)
    image.drawWidth, image.drawHeight = image.imageWidth * scale, image.imageHeight * scale
    return [KeepTogether([image, _text(chart.title(lang), _CAPTION), Spacer(1, 4 * mm)])]


def _table(table: Table, width: float, lang: Language) -> list[Flowable]:
    title = _text(table.title(lang), _BODY)
    more = [_text(table.more(lang), _CAPTION)] if table.more is not None else []
    if not table.displayed:
        return [title, _text(labels.NO_ROWS(lang), _CAPTION), *more, Spacer(1, 3 * mm)]
    data: list[list[str | Paragraph]] = [[_text(labels.heading(c, lang), _HEAD) for c in table.columns]]
    # A cell that fits its column is set as a plain string (a Paragraph per cell made a district's
    # PDF take a minute); a longer one as a Paragraph, which wraps.
    room = width / len(table.columns) - 4

    def cell(text: str) -> str | Paragraph:
        return text if pdfmetrics.stringWidth(text, FONT, _CELL.fontSize) <= room else _text(text, _CELL)

    data += [[cell(cell_text(value)) for value in row] for row in table.displayed]
    grid = PdfTable(data, colWidths=[width / len(table.columns)] * len(table.columns), repeatRows=1)
    grid.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#999999")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEF1F5")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("FONT", (0, 1), (-1, -1), FONT, _CELL.fontSize, _CELL.leading),
                ("LEFTPADDING", (0, 0), (-1, -1), 2),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return [title, grid, *more, Spacer(1, 4 * mm)]


def render(report: Report, lang: Language, *, timezone: str, building_name: str | None = None) -> bytes:
    buffer = io.BytesIO()
    title = report.title(lang)

    def footer(canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        width = doc.pagesize[0]  # the page's own size: portrait or landscape
        canvas.drawString(MARGIN, 8 * mm, f"{title} · {labels.period_text(report.period, timezone, lang)}")
        canvas.drawRightString(width - MARGIN, 8 * mm, labels.PAGE(lang).format(n=doc.page))
        canvas.restoreState()

    doc = BaseDocTemplate(
        buffer, pagesize=A4, title=title, author="louyu", leftMargin=MARGIN, rightMargin=MARGIN,
        topMargin=MARGIN, bottomMargin=MARGIN + 4 * mm,
    )  # fmt: skip
    portrait_w, portrait_h = A4
    wide_w, wide_h = landscape(A4)
    doc.addPageTemplates(
        [
            PageTemplate(
                "portrait",
                [Frame(MARGIN, MARGIN + 4 * mm, portrait_w - 2 * MARGIN, portrait_h - 2 * MARGIN - 4 * mm)],
                onPage=footer,
                pagesize=A4,
            ),
            PageTemplate(
                "landscape",
                [Frame(MARGIN, MARGIN + 4 * mm, wide_w - 2 * MARGIN, wide_h - 2 * MARGIN - 4 * mm)],
                onPage=footer,
                pagesize=landscape(A4),
            ),
        ]
    )
    narrow, wide = portrait_w - 2 * MARGIN, wide_w - 2 * MARGIN
    story: list[Flowable] = [
        _text(title, _TITLE),
        _text(f"{labels.SCOPE(lang)}: {labels.scope_text(report, lang, building_name)}", _BODY),
        _text(labels.period_text(report.period, timezone, lang), _BODY),
        _text(f"{labels.GENERATED(lang)} {labels.local(report.generated_at, timezone)}", _BODY),
    ]
    orientation = "portrait"
    for section in report.sections:
        if orientation == "landscape" and (
            section.charts or not section.tables or len(section.tables[0].columns) <= PORTRAIT_COLUMNS
        ):
            # Headings, summaries and charts are set upright.
            story += [NextPageTemplate("portrait"), PageBreak()]
            orientation = "portrait"
        story.append(_text(section.title(lang), _H2))
        if section.summary is not None:
            story.append(_text(section.summary(lang), _BODY))
        for chart in section.charts:
            story.extend(_chart(chart, narrow, lang))
        if section.charts_more is not None:
            story.append(_text(section.charts_more(lang), _BODY))
        for table in section.tables:
            wanted = "landscape" if len(table.columns) > PORTRAIT_COLUMNS else "portrait"
            if wanted != orientation:
                story += [NextPageTemplate(wanted), PageBreak()]
                orientation = wanted
            story.extend(_table(table, wide if wanted == "landscape" else narrow, lang))
    doc.build(story)
    return buffer.getvalue()
