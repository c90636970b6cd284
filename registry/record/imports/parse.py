"""Reading an uploaded entity list (csv or xlsx) into rows of text, never trusting it.

Everything in the file is data: a formula in a workbook is reported at its cell, never
computed; macros never run (a workbook that holds some is refused); text that looks like a
formula is kept as text. The file's size, its unpacked size, its rows and its cells are
bounded before they can cost memory, and a file that is not what it says is a clear error.
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any

from registry.errors import DomainError, InvalidInput
from registry.record.imports.layout import (
    BY_NAME,
    COLUMNS,
    DEFUSING_QUOTE,
    FORMULA_START,
    STAMP_COLUMNS,
)

MAX_FILE_BYTES = 16 * 1024 * 1024
# A workbook is a zip: what it unpacks to is bounded too (a zip bomb unpacks to gigabytes).
MAX_UNPACKED_BYTES = 128 * 1024 * 1024
MAX_ROWS = 20_000
# No column takes more; a longer cell is reported, and not kept.
MAX_CELL_CHARACTERS = 10_000
ZIP_MAGIC = b"PK\x03\x04"
# Excel 97-2003's .xls (an OLE compound file).
OLE_MAGIC = b"\xd0\xcf\x11\xe0"
BYTE_ORDER_MARK = "\ufeff"
SHEET = "Entities"
_HEADERS = {
    **{column.name: column.name for column in COLUMNS},
    **{column.label.casefold(): column.name for column in COLUMNS},
}
_STAMPS = {*STAMP_COLUMNS, *(label.casefold() for label in STAMP_COLUMNS.values())}


class FileTooLarge(DomainError):
    code = "TOO_LARGE"


def require_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise FileTooLarge(f"the file is larger than {MAX_FILE_BYTES} bytes", field="file")


@dataclass(frozen=True)
class CellError:
    """What is wrong, where: the row's number as the spreadsheet shows it (the header is
    row 1), the column by name and the cell by reference (``D7``); the rule, if one is."""

    row: int | None
    column: str | None
    message: str
    cell: str | None = None
    rule: str | None = None


@dataclass
class Row:
    number: int
    # Only the file's columns: a column the file leaves out is not compared or changed.
    cells: dict[str, str | None]
    errors: list[CellError] = field(default_factory=list)


@dataclass(frozen=True)
class Table:
    # Each of the file's columns by name, and where it stands (0 is column A).
    positions: dict[str, int]
    rows: list[Row]

    def cell(self, row: int | None, column: str | None) -> str | None:
        """A cell's reference (``D7``), when the row and the column are the file's."""
        if row is None or column not in self.positions:
            return None
        return f"{column_letter(self.positions[column])}{row}"


def read(data: bytes) -> Table:
    """The file's rows; a file that cannot be read as an entity list is refused whole."""
    require_size(len(data))
    if data.startswith(ZIP_MAGIC):
        return _table(_xlsx_rows(data))
    if data.startswith(OLE_MAGIC):
        raise InvalidInput(
            "an Excel 97-2003 workbook (.xls): save it as .xlsx or csv", field="file"
        )
    return _table(_csv_rows(data))


def _csv_rows(data: bytes) -> list[list[Any]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"neither an xlsx workbook nor a csv file in UTF-8 (byte {error.start} is not"
            " UTF-8): save the csv as UTF-8",
            field="file",
        ) from None
    text = text.removeprefix(BYTE_ORDER_MARK)
    if "\x00" in text:
        raise InvalidInput("neither an xlsx workbook nor a csv file: it holds NUL", field="file")
    try:
        rows: list[list[Any]] = []
        for line in csv.reader(io.StringIO(text, newline=""), strict=True):
            rows.append([_undefused(cell) for cell in line])
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    except csv.Error as error:
        raise InvalidInput(f"not a well-formed csv file: {error}", field="file") from None


def _undefused(text: str) -> str:
    # The export's guard against formulas, taken off: the text is what was recorded.
    if text.startswith(DEFUSING_QUOTE) and text[1:].startswith(FORMULA_START):
        return text[1:]
    return text


class Formula:
    """A cell that holds a formula: reported, never computed."""


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    # Imported here: openpyxl takes a quarter of the CLI's start-up, and only xlsx needs it.
    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile:
        raise InvalidInput("not a readable xlsx workbook (a broken zip)", field="file") from None
    if sum(member.file_size for member in members) > MAX_UNPACKED_BYTES:
        raise InvalidInput(
            f"the workbook unpacks to more than {MAX_UNPACKED_BYTES} bytes", field="file"
        )
    if any(member.filename.lower().endswith("vbaproject.bin") for member in members):
        raise InvalidInput(
            "the workbook holds macros: save it as .xlsx (without macros) and import that",
            field="file",
        )
    try:
        # Read-only streams the sheet; formulas stay formulas (never evaluated), links and
        # macros are not loaded.
        book = load_workbook(io.BytesIO(data), read_only=True, keep_vba=False, keep_links=False)
    except Exception as error:  # openpyxl raises many kinds for a file that is not a workbook
        raise InvalidInput(f"not a readable xlsx workbook: {error}", field="file") from None
    try:
        if SHEET in book.sheetnames:
            sheet = book[SHEET]
        elif len(book.sheetnames) == 1:
            sheet = book.worksheets[0]
        else:
            raise InvalidInput(
                f"the workbook has no sheet named {SHEET!r} and more than one sheet",
                field="file",
            )
        rows: list[list[Any]] = []
        for line in sheet.iter_rows():
            rows.append([_cell_value(cell) for cell in line])
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        book.close()


def _cell_value(cell: Any) -> Any:
    if getattr(cell, "data_type", None) == "f":
        return Formula()
    value = cell.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        # A day typed into a spreadsheet comes back as midnight of that day.
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return None if value is None else str(value)


def _table(lines: list[list[Any]]) -> Table:
    if not lines or not any(_filled(value) for value in lines[0]):
        raise InvalidInput("the file is empty: its first row names the columns", field="file")
    if len(lines) > MAX_ROWS + 1:
        raise InvalidInput(f"the file has more than {MAX_ROWS} rows", field="file")
    positions = _columns(lines[0])
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        if not any(_filled(value) for value in line):
            continue
        row = Row(number, {})
        for position, name in positions.items():
            value = line[position] if position < len(line) else None
            row.cells[name] = _checked(value, row, name, position)
        rows.append(row)
    return Table({name: position for position, name in positions.items()}, rows)


def _filled(value: Any) -> bool:
    return isinstance(value, Formula) or (value is not None and str(value).strip() != "")


def _columns(header: list[Any]) -> dict[int, str]:
    """Where each known column is; unknown columns are refused, by name."""
    positions: dict[int, str] = {}
    unknown = []
    for position, title in enumerate(header):
        text = "" if title is None or isinstance(title, Formula) else str(title).strip()
        key = text.casefold()
        if not text or key in _STAMPS:
            continue
        name = _HEADERS.get(key)
        if name is None:
            unknown.append(text)
        elif name in positions.values():
            raise InvalidInput(f"the column {text!r} is given twice", field="columns")
        else:
            positions[position] = name
    if unknown:
        known = ", ".join(BY_NAME)
        raise InvalidInput(
            f"unknown columns: {', '.join(unknown)} (the columns are {known})", field="columns"
        )
    if "slug" not in positions.values():
        raise InvalidInput("the file has no slug column: the slug names each row", field="columns")
    return positions


def _checked(value: Any, row: Row, name: str, position: int) -> str | None:
    reference = f"{column_letter(position)}{row.number}"
    if isinstance(value, Formula):
        row.errors.append(CellError(row.number, name, "a formula; give the value", reference))
        return None
    if value is None:
        return None
    if len(value) > MAX_CELL_CHARACTERS:
        message = f"longer than {MAX_CELL_CHARACTERS} characters"
        row.errors.append(CellError(row.number, name, message, reference))
        return None
    return str(value)


def column_letter(position: int) -> str:
    """The spreadsheet's letters of the column at ``position`` (0 is A)."""
    letters = ""
    number = position + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters
