"""The Art. 30 export: its rows come from the services, then four formats and the CLI."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import fields
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from registry.access.service import Actor
from registry.cli import app
from registry.db import transaction
from registry.errors import InvalidInput, NotFound
from registry.exports import ropa, writers
from registry.exports.ropa import ControllerRow, RopaExport
from tests.conftest import NOW
from tests.documents.papers import sign_seeded_sccs

ACTIVITY = "call-recording-and-monitoring"
CONTACT = "privacy@example.test"
GROUP_COMPANIES = 28
EEA_GROUP_COMPANIES = 19
US_CONTROLLERS = {
    "convergence-us",
    "dmx-us",
    "mood-media-north-america-holdings",
    "muzak-us",
    "servicenet-exp-us",
    "technical-media-solutions-us",
    "playnetwork-us",
}
SCC_MODULE_1 = "standard contractual clauses (EU) 2021/914, module 1"
SCC_MODULE_2 = "standard contractual clauses (EU) 2021/914, module 2"
HEADER = [column.name for column in fields(ControllerRow)]
# Every csv row carries the day the records describe and when the export was made.
CSV_HEADER = ["as_of", "exported_at", *HEADER]

Sessions = async_sessionmaker[AsyncSession]


async def _export(sessions: Sessions, controller: str | None = None) -> RopaExport:
    async with transaction(sessions) as session:
        return await ropa.build(
            session=session, actor=Actor.system("test"), contact=CONTACT, controller=controller
        )


def _by_controller(export: RopaExport) -> dict[str, ControllerRow]:
    return {row.controller: row for row in export.controllers}


def _row(**values: Any) -> ControllerRow:
    """A controller row with every field empty but those given."""
    blank: dict[str, Any] = {f.name: "" if f.type == "str" else () for f in fields(ControllerRow)}
    return ControllerRow(**{**blank, **values})


async def test_json_has_one_row_per_joint_controller_of_the_activity(seeded: Sessions) -> None:
    document = json.loads(writers.to_json(await _export(seeded)))

    controllers = document["controllers"]
    assert document["as_of"] == NOW.date().isoformat()
    assert len(controllers) == GROUP_COMPANIES
    assert len({row["controller"] for row in controllers}) == GROUP_COMPANIES
    assert {row["activity"] for row in controllers} == {ACTIVITY}
    assert list(controllers[0]) == HEADER
    austria = next(row for row in controllers if row["controller"] == "mood-media-austria")
    assert austria["legal_name"] == "Mood Media GmbH"
    assert austria["contact"] == CONTACT
    assert len(austria["joint_controllers"]) == GROUP_COMPANIES - 1
    assert "Mood Media GmbH (DE)" in austria["joint_controllers"]
    assert austria["recipients"] == ["Talkdesk Inc. (US), processor"]
    assert any(p.startswith("Quality control") and "Art. 6(1)(a)" in p for p in austria["purposes"])
    assert [p["processor"] for p in document["processors"]] == ["talkdesk"]


@pytest.mark.parametrize(
    ("slug", "legal_name"),
    [("mood-media-europe", "Mood Media Europe BV (NL)"), ("dmx-us", "DMX, LLC (US)")],
)
async def test_r_inv_5_missing_registered_office_is_a_gap_never_invented_text(
    seeded: Sessions, slug: str, legal_name: str
) -> None:
    row = _by_controller(await _export(seeded))[slug]

    assert row.registered_office == ""
    assert row.gaps[0].startswith(f"{legal_name}: no registered office")
    assert "[R-INV-5]" in row.gaps[0]


async def test_r_inv_5_a_controller_with_an_office_shows_it_and_no_gap_of_its_own(
    seeded: Sessions,
) -> None:
    """R-INV-5: a controller with an office shows it and no gap of its own but the lead
    supervisory authority, which the notice does not name."""
    await sign_seeded_sccs(seeded)
    row = _by_controller(await _export(seeded))["mood-media-france"]

    assert row.registered_office == "22 Quai Gallieni, 92150 Suresnes"
    own = [gap for gap in row.gaps if gap.startswith("Mood Media SAS (FR)")]
    assert own == ["Mood Media SAS (FR): no lead supervisory authority [R-INV-5]"]
    assert any(
        gap.startswith("Talkdesk Inc. (US): no registered office, no contact") for gap in row.gaps
    )


async def test_r_inv_6_a_retention_the_notice_does_not_state_is_exported_as_a_gap(
    seeded: Sessions,
) -> None:
    """R-INV-6: the notice states 30 days for the recordings only; the rest is a gap."""
    row = _by_controller(await _export(seeded))["mood-media-france"]

    (voice,) = [line for line in row.retention if line.startswith("Voice")]
    assert "30 days" in voice
    name = next(line for line in row.retention if line.startswith("Surname and first name"))
    assert "not stated [R-INV-6]" in name and "30 days" not in name
    assert "Surname and first name: retention not stated [R-INV-6]" in row.gaps
    assert not any(gap.startswith("Voice") for gap in row.gaps)


async def test_the_notices_facts_and_talkdesks_contract_are_exported(seeded: Sessions) -> None:
    row = _by_controller(await _export(seeded))["mood-media-france"]

    assert (row.notice_last_updated, row.notice_authoritative_language) == ("2022-08", "English")
    assert "Talkdesk Live" in row.platform
    talkdesk = [m for m in row.security_measures if m.startswith("Talkdesk")]
    assert talkdesk and all(m.endswith(" — contract: SCCs (Decision 2021/914)") for m in talkdesk)


async def test_r_inv_5_an_unconfigured_privacy_contact_is_exported_as_a_gap(
    seeded: Sessions,
) -> None:
    """R-INV-5: without the group's contact, the cell stays empty and the gap is named."""
    async with transaction(seeded) as session:
        export = await ropa.build(session=session, actor=Actor.system("test"), contact=None)
    row = _by_controller(export)["mood-media-france"]
    assert row.contact == ""
    assert any("REGISTRY_PRIVACY_CONTACT" in gap for gap in row.gaps)
    assert export.processors[0].controllers_contact == ()


async def test_us_controllers_receive_the_activity_under_scc_module_1(seeded: Sessions) -> None:
    await sign_seeded_sccs(seeded)
    rows = _by_controller(await _export(seeded))

    for slug in US_CONTROLLERS:
        received = rows[slug].transfers_in
        from_eea = [t for t in received if t.endswith(SCC_MODULE_1)]
        assert len(from_eea) == EEA_GROUP_COMPANIES, slug
        # The UK companies' exports: the notice names no UK mechanism for them (R-INV-7).
        from_uk = [t for t in received if t not in from_eea]
        assert len(from_uk) == 2 and all(t.endswith("[R-INV-7]") for t in from_uk), slug
    austria = rows["mood-media-austria"].transfers
    assert sum(transfer.endswith(SCC_MODULE_1) for transfer in austria) == len(US_CONTROLLERS)
    assert any("Talkdesk Inc. (US)" in t and t.endswith(SCC_MODULE_2) for t in austria)


async def test_controller_option_limits_the_export_to_that_controller(seeded: Sessions) -> None:
    export = await _export(seeded, controller="dmx-us")

    assert [row.controller for row in export.controllers] == ["dmx-us"]
    assert [row.processor for row in export.processors] == ["talkdesk"]


async def test_an_unknown_or_non_controller_slug_is_refused(seeded: Sessions) -> None:
    with pytest.raises(NotFound):
        await _export(seeded, controller="nobody")
    with pytest.raises(InvalidInput):
        await _export(seeded, controller="talkdesk")


async def test_csv_parses_back_with_its_header_and_a_row_per_controller(seeded: Sessions) -> None:
    data = writers.to_csv(await _export(seeded))

    # Plain UTF-8: no byte-order mark for a reader to take as part of the first name.
    assert data.startswith(b"as_of,exported_at,")
    header, *rows = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    assert header == CSV_HEADER
    assert len(rows) == GROUP_COMPANIES
    europe = next(
        dict(zip(header, row, strict=True)) for row in rows if row[4] == "mood-media-europe"
    )
    assert europe["registered_office"] == ""
    assert len(europe["joint_controllers"].split("; ")) == GROUP_COMPANIES - 1


async def test_xlsx_has_a_sheet_of_controllers_and_one_of_processors(seeded: Sessions) -> None:
    book = openpyxl.load_workbook(io.BytesIO(writers.to_xlsx(await _export(seeded))))

    assert book.sheetnames == ["Export", "Controllers", "Processors", "Transfers", "Entities"]
    controllers, processors = book["Controllers"], book["Processors"]
    assert [cell.value for cell in controllers[1]] == [
        f.metadata["label"] for f in fields(ControllerRow)
    ]
    assert controllers[1][0].font.b
    assert controllers.freeze_panes == "A2"
    assert controllers.max_row == 1 + GROUP_COMPANIES
    assert processors.max_row == 2
    assert processors.cell(row=2, column=3).value == "talkdesk"


async def test_markdown_has_a_heading_per_activity_and_per_processor(seeded: Sessions) -> None:
    export = await _export(seeded)
    text = writers.to_markdown(export).decode("utf-8")

    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert headings == [
        "### Call recording and live monitoring in customer-support call centres",
        "### Talkdesk Inc. (US)",
    ]
    for row in export.controllers:
        assert f"{row.legal_name} ({row.country_code})" in text


def test_markdown_escapes_pipes_so_a_value_stays_in_its_cell() -> None:
    export = RopaExport(NOW.date(), [_row(controller="x", known_as="A | B")], [])

    text = writers.to_markdown(export).decode("utf-8")

    assert "| (a) Known as | A \\| B |" in text.splitlines()


def test_spreadsheets_show_a_leading_equals_sign_as_text_never_run_it() -> None:
    export = RopaExport(NOW.date(), [_row(controller="x", legal_name="=HYPERLINK(1)")], [])

    _, row = csv.reader(io.StringIO(writers.to_csv(export).decode("utf-8"), newline=""))
    book = openpyxl.load_workbook(io.BytesIO(writers.to_xlsx(export)))

    assert row[CSV_HEADER.index("legal_name")] == "'=HYPERLINK(1)"
    cell = book["Controllers"].cell(row=2, column=HEADER.index("legal_name") + 1)
    assert (cell.value, cell.data_type) == ("=HYPERLINK(1)", "s")


@pytest.fixture
def cli(database_url: str, seeded: Sessions, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The `registry` command, pointed at the test database.

    ``seeded`` is asked for so that ``database_url`` is a copy of the seeded template.
    """
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_PRIVACY_CONTACT", CONTACT)
    return CliRunner()


def test_cli_writes_the_json_export_to_standard_output(cli: CliRunner) -> None:
    result = cli.invoke(app, ["export", "ropa", "--format", "json"])

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document["controllers"]) == GROUP_COMPANIES
    assert {row["contact"] for row in document["controllers"]} == {CONTACT}


def test_cli_writes_xlsx_for_one_controller_to_a_file(cli: CliRunner, tmp_path: Path) -> None:
    output = tmp_path / "ropa.xlsx"

    result = cli.invoke(
        app,
        ["export", "ropa", "--format", "xlsx", "--controller", "dmx-us", "--output", str(output)],
    )

    assert result.exit_code == 0, result.output
    controllers = openpyxl.load_workbook(output)["Controllers"]
    assert controllers.max_row == 2
    assert controllers.cell(row=2, column=3).value == "dmx-us"


def test_cli_refuses_xlsx_without_a_file() -> None:
    result = CliRunner().invoke(app, ["export", "ropa", "--format", "xlsx"])

    assert result.exit_code == 2
    assert "--output" in result.stderr


def test_cli_unknown_controller_exits_1_with_a_message(cli: CliRunner) -> None:
    result = cli.invoke(app, ["export", "ropa", "--controller", "nobody"])

    assert result.exit_code == 1
    assert "no entity 'nobody'" in result.stderr
    assert isinstance(result.exception, SystemExit)
