"""CSV: one file per table, named `<report>-<section>-<table>.csv`, headed by the column keys,
UTF-8 with a byte-order mark (so that spreadsheet programs read the Chinese right); all of a
report's tables together as a zip."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator

from api.reports.model import Report, Section, Table


def file_name(report: Report, section: Section, table: Table) -> str:
    return f"{report.kind}-{section.key}-{table.key}.csv"


def tables(report: Report) -> Iterator[tuple[str, Table]]:
    for section in report.sections:
        for table in section.tables:
            yield file_name(report, section, table), table


def render_table(table: Table) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.key for c in table.columns])
    writer.writerows(["" if cell is None else cell for cell in row] for row in table.rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def find(report: Report, name: str) -> bytes | None:
    """One table's CSV by its file name; None when the report has no such table."""
    for found, table in tables(report):
        if found == name:
            return render_table(table)
    return None


def render_zip(report: Report) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, table in tables(report):
            archive.writestr(name, render_table(table))
    return buffer.getvalue()
