"""What a report is, independent of how it is rendered.

A report holds sections; a section holds tables (the figures, exported one CSV per table) and
charts (real pictures, drawn from the same figures). Builders of sections produce these values and
nothing else, so the HTML page, the PDF and the CSV files cannot tell different stories.
Texts are given in both languages: the renderer picks one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, Literal

Language = Literal["zh", "en"]
PeriodKind = Literal["day", "week", "month", "custom"]


@dataclass(frozen=True, slots=True)
class Text:
    """One text in both languages."""

    zh: str
    en: str

    def __call__(self, lang: Language) -> str:
        return self.zh if lang == "zh" else self.en


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open interval [start, end) in UTC, with the kind it was chosen as."""

    start: datetime
    end: datetime
    kind: PeriodKind = "custom"

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


@dataclass(frozen=True, slots=True)
class Scope:
    """The whole area (`building is None`) or one building."""

    site: str
    building: str | None = None


Cell = str | int | float | None

# Rows of a capped table on the page and in the PDF (the CSV has them all): a few pages of A4, as
# many as a reader works through in a sitting (the devices to fix, the lots and canteens to compare).
SHOWN_ROWS: Final = 200


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # also the CSV header
    title: Text
    unit: str = ""  # "%", "s", "min", "" ...


@dataclass(slots=True)
class Table:
    key: str  # names the CSV file: <report>-<section>-<table>.csv
    title: Text
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    # The page and the PDF set the first `shown` rows only (None: all of them), then `more`, which
    # says what they leave out: a district's table of 100,000 devices is read in the CSV, which
    # always holds every row.
    shown: int | None = None
    more: Text | None = None

    @property
    def displayed(self) -> list[list[Cell]]:
        """The rows the page and the PDF set."""
        return self.rows if self.shown is None else self.rows[: self.shown]


@dataclass(slots=True)
class Chart:
    """A picture: PNG bytes for the page and the PDF, SVG optional for a sharper page."""

    key: str
    title: Text
    png: bytes
    alt: Text  # the text alternative a screen reader reads
    svg: str | None = None
    # The figures drawn, where the picture is a grid of numbers (a heat map's values[weekday][hour]):
    # kept so that what a picture shows can be checked without reading its pixels.
    values: list[list[float | None]] | None = None


@dataclass(slots=True)
class Section:
    key: str
    title: Text
    summary: Text | None = None  # one or two sentences a reader takes away
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    # What the charts leave out (a district's lots not drawn one by one), printed after them.
    charts_more: Text | None = None


@dataclass(slots=True)
class Report:
    kind: str  # "aed-readiness", "alert-handling", "parking-canteen", "data-quality"
    title: Text
    period: Period
    scope: Scope
    generated_at: datetime
    sections: list[Section] = field(default_factory=list)
