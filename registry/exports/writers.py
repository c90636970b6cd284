"""Writers of the Art. 30 export: json, csv, xlsx and Markdown, each rendered to bytes.

json and csv name their columns by field (stable keys for machines); xlsx and Markdown,
read by people, use the labels that cite the letters of Art. 30.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import Field, asdict, fields
from enum import StrEnum
from itertools import groupby
from typing import Any

from registry.exports.ropa import Cell, ControllerRow, ProcessorRow, RopaExport

Row = ControllerRow | ProcessorRow

# Excel runs a cell that starts with one of these as a formula, even from a csv file.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&])")
XLSX_WIDTH = (10, 60)


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    MD = "md"


def render(export: RopaExport, fmt: Format) -> bytes:
    writers: dict[Format, Callable[[RopaExport], bytes]] = {
        Format.JSON: to_json,
        Format.CSV: to_csv,
        Format.XLSX: to_xlsx,
        Format.MD: to_markdown,
    }
    return writers[fmt](export)


def to_json(export: RopaExport) -> bytes:
    document = {
        "as_of": export.as_of.isoformat(),
        "controllers": [asdict(row) for row in export.controllers],
        "processors": [asdict(row) for row in export.processors],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def to_csv(export: RopaExport) -> bytes:
    """The controllers' records only: one file, one table, as a spreadsheet expects."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = fields(ControllerRow)
    writer.writerow(column.name for column in columns)
    for row in export.controllers:
        writer.writerow(_defused(_joined(getattr(row, c.name), "; ")) for c in columns)
    # The byte-order mark tells Excel the file is UTF-8, so "Oberösterreich" stays whole.
    return buffer.getvalue().encode("utf-8-sig")


def _defused(text: str) -> str:
    # The usual guard against formula injection: a leading quote makes Excel show text.
    return "'" + text if text.startswith(FORMULA_START) else text


def _joined(value: Cell, separator: str) -> str:
    return value if isinstance(value, str) else separator.join(value)


def to_xlsx(export: RopaExport) -> bytes:
    # Imported here: openpyxl takes a quarter of the CLI's start-up, and only xlsx needs it.
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheets: list[tuple[Any, type[Row], Sequence[Row]]] = [
        (book.active, ControllerRow, export.controllers),
        (book.create_sheet(), ProcessorRow, export.processors),
    ]
    wrapped = Alignment(wrap_text=True, vertical="top")
    for (sheet, row_type, rows), title in zip(sheets, ("Controllers", "Processors"), strict=True):
        sheet.title = title
        columns = fields(row_type)
        sheet.append([_label(column) for column in columns])
        for row in rows:
            # openpyxl refuses control characters outright; they carry nothing a reader needs.
            sheet.append(
                [
                    ILLEGAL_CHARACTERS_RE.sub("", _joined(getattr(row, c.name), "\n"))
                    for c in columns
                ]
            )
        for line in sheet.iter_rows():
            for cell in line:
                cell.alignment = wrapped
                # A value starting with "=" would otherwise be stored as a formula.
                if cell.data_type == "f":
                    cell.data_type = "s"
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for index, column in enumerate(columns, start=1):
            cells = [_joined(getattr(row, column.name), "\n") for row in rows]
            sheet.column_dimensions[get_column_letter(index)].width = _width(
                [_label(column), *cells]
            )
        sheet.freeze_panes = "A2"
        sheet.auto_filter.ref = sheet.dimensions
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _label(column: Field[Any]) -> str:
    return str(column.metadata["label"])


def _width(texts: Sequence[str]) -> int:
    longest = max((len(line) for text in texts for line in text.splitlines()), default=0)
    low, high = XLSX_WIDTH
    return min(max(longest, low), high) + 2


def to_markdown(export: RopaExport) -> bytes:
    lines = [
        "# Records of processing activities (GDPR Art. 30)",
        "",
        f"As of {export.as_of.isoformat()}.",
        "",
        *_part("Controllers (Art. 30(1))", export.controllers),
        *_part("Processors (Art. 30(2))", export.processors),
    ]
    return "\n".join(lines).encode("utf-8")


def _part(title: str, rows: Sequence[Row]) -> list[str]:
    lines = [f"## {title}", ""]
    if not rows:
        lines += ["None on record.", ""]
    for _, group in groupby(rows, key=_party):
        lines += _section(list(group))
    return lines


def _party(row: Row) -> str:
    return row.controller if isinstance(row, ControllerRow) else row.processor


def _section(rows: Sequence[Row]) -> list[str]:
    """A heading for the party, then a table of fields for each of its activities."""
    first = rows[0]
    lines = [f"### {_escaped(first.legal_name)} ({_escaped(first.country_code)})", ""]
    for row in rows:
        lines += [f"#### {_escaped(row.activity_name)}", "", "| Field | Value |", "| --- | --- |"]
        for column in fields(row):
            value = getattr(row, column.name)
            items = [value] if isinstance(value, str) else list(value)
            cell = "<br>".join(_escaped(item) for item in items)
            lines.append(f"| {_escaped(_label(column))} | {cell} |")
        lines.append("")
    return lines


def _escaped(text: str) -> str:
    # Pipes would split the table, and other markup would turn a name into formatting;
    # a line break would end the table row.
    return "<br>".join(MARKDOWN_SPECIAL.sub(r"\\\1", line) for line in text.splitlines())
