"""Writers of the Art. 30 export: json, csv, xlsx and Markdown, each rendered to bytes.

json and csv name their columns by field (stable keys for machines); xlsx and Markdown,
read by people, use the labels that cite the letters of Art. 30. Every format says the
day the records describe (``as_of``) and when the export was made (``exported_at``).
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

from registry.errors import InvalidInput
from registry.exports.ropa import Cell, ControllerRow, ProcessorRow, RopaExport, TransferRow
from registry.record.imports.layout import COLUMNS, DEFUSING_QUOTE, FORMULA_START

Row = ControllerRow | ProcessorRow | TransferRow

MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~&])")
XLSX_WIDTH = (10, 60)


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"
    MD = "md"


class Part(StrEnum):
    """The table a csv file holds: one file, one table, as a spreadsheet expects."""

    CONTROLLERS = "controllers"
    PROCESSORS = "processors"
    TRANSFERS = "transfers"
    # One row per entity, in the layout the import reads back.
    ENTITIES = "entities"


MEDIA_TYPES = {
    Format.JSON: "application/json",
    Format.CSV: "text/csv; charset=utf-8",
    Format.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.MD: "text/markdown; charset=utf-8",
}


def render(export: RopaExport, fmt: Format, part: Part | None = None) -> bytes:
    """``part`` chooses the csv file's table (the controllers' by default); the other
    formats hold all three, so a part given with them is refused rather than ignored."""
    if fmt is Format.CSV:
        return to_csv(export, part or Part.CONTROLLERS)
    if part is not None:
        raise InvalidInput(f"a part is for csv only; {fmt.value} holds every part", field="part")
    writers: dict[Format, Callable[[RopaExport], bytes]] = {
        Format.JSON: to_json,
        Format.XLSX: to_xlsx,
        Format.MD: to_markdown,
    }
    return writers[fmt](export)


def file_name(export: RopaExport, fmt: Format, part: Part | None = None) -> str:
    suffix = f"-{(part or Part.CONTROLLERS).value}" if fmt is Format.CSV else ""
    return f"ropa-{export.as_of.isoformat()}{suffix}.{fmt.value}"


def _exported_at(export: RopaExport) -> str:
    return export.exported_at.isoformat(timespec="seconds")


def to_json(export: RopaExport) -> bytes:
    document = {
        "as_of": export.as_of.isoformat(),
        "exported_at": _exported_at(export),
        "controllers": [asdict(row) for row in export.controllers],
        "processors": [asdict(row) for row in export.processors],
        "transfers": [asdict(row) for row in export.transfers],
        "entities": [
            dict(zip((c.name for c in COLUMNS), row, strict=True)) for row in export.entities
        ],
    }
    return (json.dumps(document, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def to_csv(export: RopaExport, part: Part = Part.CONTROLLERS) -> bytes:
    """One table, with the day and the time of the export on every row: a first line of
    metadata would break every reader that takes the first line for the header.

    Plain UTF-8 without a byte-order mark: with one, readers that do not expect it (Python's
    csv, pandas, awk, most loaders) take the mark for part of the first column's name.
    Excel, the reason a mark is usually added, has the xlsx export.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    stamp = [export.as_of.isoformat(), _exported_at(export)]
    if part is Part.ENTITIES:
        writer.writerow(["as_of", "exported_at", *(column.name for column in COLUMNS)])
        writer.writerows([*stamp, *(_defused(cell) for cell in row)] for row in export.entities)
        return buffer.getvalue().encode("utf-8")
    row_type, rows = _table(export, part)
    columns = fields(row_type)
    writer.writerow(["as_of", "exported_at", *(column.name for column in columns)])
    for row in rows:
        writer.writerow([*stamp, *(_defused(_joined(getattr(row, c.name), "; ")) for c in columns)])
    return buffer.getvalue().encode("utf-8")


def _table(export: RopaExport, part: Part) -> tuple[type[Row], Sequence[Row]]:
    tables: dict[Part, tuple[type[Row], Sequence[Row]]] = {
        Part.CONTROLLERS: (ControllerRow, export.controllers),
        Part.PROCESSORS: (ProcessorRow, export.processors),
        Part.TRANSFERS: (TransferRow, export.transfers),
    }
    return tables[part]


def _defused(text: str) -> str:
    # The usual guard against formula injection: a leading quote makes Excel show text.
    return DEFUSING_QUOTE + text if text.startswith(FORMULA_START) else text


def _joined(value: Cell, separator: str) -> str:
    return value if isinstance(value, str) else separator.join(value)


def to_xlsx(export: RopaExport) -> bytes:
    # Imported here: openpyxl takes a quarter of the CLI's start-up, and only xlsx needs it.
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    cover = book.active
    cover.title = "Export"
    cover.append(["Records of processing activities (GDPR Art. 30)"])
    cover.append(["As of", export.as_of.isoformat()])
    cover.append(["Exported at", _exported_at(export)])
    cover["A1"].font = Font(bold=True)
    cover.column_dimensions["A"].width = 14
    cover.column_dimensions["B"].width = 28
    sheets: list[tuple[Any, type[Row], Sequence[Row]]] = [
        (book.create_sheet(), ControllerRow, export.controllers),
        (book.create_sheet(), ProcessorRow, export.processors),
        (book.create_sheet(), TransferRow, export.transfers),
    ]
    wrapped = Alignment(wrap_text=True, vertical="top")
    titles = ("Controllers", "Processors", "Transfers")
    for (sheet, row_type, rows), title in zip(sheets, titles, strict=True):
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
    _entities_sheet(book.create_sheet("Entities"), export.entities, wrapped)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _entities_sheet(sheet: Any, rows: Sequence[tuple[str, ...]], wrapped: Any) -> None:
    """The entity list, one row each, under the layout's labels: the sheet the import reads."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet.append([column.label for column in COLUMNS])
    for row in rows:
        sheet.append([ILLEGAL_CHARACTERS_RE.sub("", cell) for cell in row])
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = wrapped
            # Text, never a formula, whatever it starts with.
            if cell.data_type == "f":
                cell.data_type = "s"
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, column in enumerate(COLUMNS, start=1):
        texts = [column.label, *(row[index - 1] for row in rows)]
        sheet.column_dimensions[get_column_letter(index)].width = _width(texts)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions


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
        f"As of {export.as_of.isoformat()}; exported at {_exported_at(export)}.",
        "",
        "## Controllers (Art. 30(1))",
        "",
    ]
    if not export.controllers:
        lines += ["None on record.", ""]
    for slug, group in groupby(export.controllers, key=lambda row: row.activity):
        hops = [hop for hop in export.transfers if hop.activity == slug]
        lines += _activity(list(group), hops)
    lines += ["## Processors (Art. 30(2))", ""]
    if not export.processors:
        lines += ["None on record.", ""]
    for _, rows in groupby(export.processors, key=lambda row: row.processor):
        lines += _section(list(rows))
    return "\n".join(lines).encode("utf-8")


# Said elsewhere in the Markdown: the joint controllers are named once for the activity,
# and the transfers each once in the activity's table of transfers.
SAID_ELSEWHERE = frozenset(
    {"activity", "activity_name", "joint_controllers", "transfers", "transfers_in"}
)
TRANSFER_COLUMNS = (
    "exporter",
    "importer",
    "destination",
    "safeguard",
    "signed_on",
    "tia_reference",
)


def _activity(rows: Sequence[ControllerRow], hops: Sequence[TransferRow]) -> list[str]:
    """One activity's joint record: what all its controllers share, stated once; then a
    table with a row per controller of only what differs; then its transfers, once each."""
    shared: list[tuple[str, Cell]] = [
        ("(a) Joint controllers", tuple(f"{r.legal_name} ({r.country_code})" for r in rows))
    ]
    differing: list[Field[Any]] = []
    for column in fields(ControllerRow):
        if column.name in SAID_ELSEWHERE:
            continue
        values = [getattr(row, column.name) for row in rows]
        common = _common(values)
        # A field all leave empty is shown empty, once: what the record lacks stays visible.
        if common or all(value == values[0] for value in values):
            shared.append((_label(column), common))
        if any(_own(value, common, row) for value, row in zip(values, rows, strict=True)):
            differing.append(column)
    lines = [f"### {_escaped(rows[0].activity_name)}", "", "| Field | Value |", "| --- | --- |"]
    lines += [f"| {_escaped(label)} | {_cell(value)} |" for label, value in shared]
    lines.append("")
    if differing:
        lines += _differing(rows, differing)
    return lines + _hops(hops)


def _differing(rows: Sequence[ControllerRow], columns: Sequence[Field[Any]]) -> list[str]:
    lines = [
        "#### What differs per controller",
        "",
        "| " + " | ".join(_escaped(_label(c)) for c in columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    commons = [_common([getattr(r, c.name) for r in rows]) for c in columns]
    for row in rows:
        owns = [
            _own(getattr(row, c.name), common, row)
            for c, common in zip(columns, commons, strict=True)
        ]
        lines.append("| " + " | ".join(_cell(own) for own in owns) + " |")
    return [*lines, ""]


def _hops(hops: Sequence[TransferRow]) -> list[str]:
    labels = {c.name: _label(c) for c in fields(TransferRow)}
    lines = [
        "#### Transfers",
        "",
        "| " + " | ".join(_escaped(labels[name]) for name in TRANSFER_COLUMNS) + " |",
        "| " + " | ".join("---" for _ in TRANSFER_COLUMNS) + " |",
    ]
    for hop in hops:
        cells = [
            f"{hop.exporter} ({hop.exporter_country})",
            f"{hop.importer} ({hop.importer_country})",
            *(getattr(hop, name) for name in TRANSFER_COLUMNS[2:]),
        ]
        lines.append("| " + " | ".join(_escaped(cell) for cell in cells) + " |")
    if not hops:
        lines = [*lines[:2], "None on record."]
    return [*lines, ""]


def _common(values: Sequence[Cell]) -> Cell:
    """What every controller's value has: the value itself if all are equal, else the items
    of a list that all share; nothing for text that differs."""
    if all(value == values[0] for value in values):
        return values[0]
    if isinstance(values[0], str):
        return ""
    return tuple(item for item in values[0] if all(item in value for value in values))


def _own(value: Cell, common: Cell, row: ControllerRow) -> Cell:
    """What this controller's value adds to what all share; a hop that is a gap is in the
    table of transfers already."""
    if isinstance(value, str):
        return "" if value == common else value
    hops = {*row.transfers, *row.transfers_in}
    return tuple(item for item in value if item not in common and item not in hops)


def _cell(value: Cell) -> str:
    items = [value] if isinstance(value, str) else list(value)
    return "<br>".join(_escaped(item) for item in items)


def _section(rows: Sequence[ProcessorRow]) -> list[str]:
    """A heading for the processor, then a table of fields for each of its activities."""
    first = rows[0]
    lines = [f"### {_escaped(first.legal_name)} ({_escaped(first.country_code)})", ""]
    for row in rows:
        lines += [f"#### {_escaped(row.activity_name)}", "", "| Field | Value |", "| --- | --- |"]
        for column in fields(row):
            lines.append(f"| {_escaped(_label(column))} | {_cell(getattr(row, column.name))} |")
        lines.append("")
    return lines


def _escaped(text: str) -> str:
    # Pipes would split the table, and other markup would turn a name into formatting;
    # a line break would end the table row.
    return "<br>".join(MARKDOWN_SPECIAL.sub(r"\\\1", line) for line in text.splitlines())
