"""Reading uploaded entity lists: everything in a file is data, and a file that is not an
entity list is a clear error."""

from __future__ import annotations

import io
import zipfile

import pytest
from openpyxl import Workbook

from registry.errors import InvalidInput
from registry.record.imports import parse
from registry.record.imports.parse import FileTooLarge

HEADER = "slug,kind,legal_name,country\n"


def workbook(*rows: list[object], title: str = "Entities") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def refusal(data: bytes) -> str:
    with pytest.raises(InvalidInput) as refused:
        parse.read(data)
    return refused.value.message


def test_a_formula_in_a_workbook_is_reported_at_its_cell_never_computed() -> None:
    data = workbook(["slug", "legal_name"], ["acme", '=CONCAT("Ac","me")'])

    (row,) = parse.read(data).rows

    (error,) = row.errors
    assert (error.row, error.column, error.cell) == (2, "legal_name", "B2")
    assert error.message == "a formula; give the value"
    assert row.cells["legal_name"] is None


def test_a_workbook_with_macros_is_refused() -> None:
    buffer = io.BytesIO(workbook(["slug"], ["acme"]))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("xl/vbaProject.bin", b"Attribute VB_Name")

    assert "macros" in refusal(buffer.getvalue())


def test_a_zip_bomb_is_refused_before_it_is_unpacked() -> None:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet1.xml", "w") as member,
    ):
        zeros = bytes(1024 * 1024)
        for _ in range(parse.MAX_UNPACKED_BYTES // len(zeros) + 1):
            member.write(zeros)

    assert "unpacks to more than" in refusal(buffer.getvalue())


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("slug;kind\nacme;processor\n".encode("utf-16"), "UTF-8"),
        ("slug,legal_name\nacme,Société\n".encode("latin-1"), "UTF-8"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), ".xls"),
        (b"PK\x03\x04 not really a zip", "broken zip"),
        (b"%PDF-1.7\n\x00\x01", "neither an xlsx workbook nor a csv file"),
        (b"", "empty"),
        (b'slug,"unclosed\n', "well-formed"),
    ],
)
def test_a_file_that_is_not_an_entity_list_is_a_clear_error(data: bytes, says: str) -> None:
    assert says in refusal(data)


def test_utf8_with_or_without_a_byte_order_mark_is_read() -> None:
    plain = HEADER + "acme,processor,Société Acme,FR\n"

    for data in (plain.encode("utf-8"), plain.encode("utf-8-sig")):
        (row,) = parse.read(data).rows
        assert row.cells["slug"] == "acme" and row.cells["legal_name"] == "Société Acme"


def test_unknown_columns_are_refused_with_their_names() -> None:
    message = refusal(b"slug,colour,Shoe size\nacme,red,42\n")

    assert "unknown columns: colour, Shoe size" in message


def test_a_list_without_slugs_or_with_a_column_twice_is_refused() -> None:
    assert "no slug column" in refusal(b"kind,legal_name\nprocessor,Acme\n")
    assert "twice" in refusal(b"slug,Slug\nacme,acme\n")


def test_labels_and_the_exports_stamp_columns_are_understood() -> None:
    table = parse.read(b"as_of,exported_at,Slug,Legal name\n2026-12-04,x,acme,Acme\n")

    assert table.positions == {"slug": 2, "legal_name": 3}


def test_an_oversized_cell_is_an_error_at_its_cell_and_not_kept() -> None:
    data = (HEADER + f"acme,processor,{'x' * (parse.MAX_CELL_CHARACTERS + 1)},FR\n").encode()

    (row,) = parse.read(data).rows

    (error,) = row.errors
    assert (error.cell, row.cells["legal_name"]) == ("C2", None)


def test_too_many_rows_or_bytes_are_refused() -> None:
    rows = "".join(f"e{n},processor,E,FR\n" for n in range(parse.MAX_ROWS + 1))

    assert f"more than {parse.MAX_ROWS} rows" in refusal((HEADER + rows).encode())
    with pytest.raises(FileTooLarge):
        parse.read(bytes(parse.MAX_FILE_BYTES + 1))


def test_text_that_looks_like_a_formula_is_data_and_the_exports_guard_comes_off() -> None:
    data = (HEADER + "acme,processor,'=1+1,FR\nbeta,processor,@home,FR\n").encode()

    first, second = parse.read(data).rows

    assert first.cells["legal_name"] == "=1+1"
    assert second.cells["legal_name"] == "@home"
    assert first.errors == second.errors == []


def test_a_workbook_without_an_entities_sheet_is_read_from_its_only_sheet() -> None:
    (row,) = parse.read(workbook(["Slug", "Verified"], ["acme", True], title="Sheet1")).rows

    assert row.cells == {"slug": "acme", "verified": "true"}
