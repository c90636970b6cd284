"""What an authority's record template asks beyond Art. 30's letters, a table of transfers,
the processors' csv, and the day and time of the export in every format."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import fields
from datetime import timedelta
from types import SimpleNamespace
from typing import cast

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col
from typer.testing import CliRunner

from registry import clock
from registry.access.service import Actor
from registry.cli import app
from registry.db import transaction
from registry.errors import InvalidInput
from registry.exports import ropa, writers
from registry.exports.ropa import ProcessorRow, RopaExport, TransferRow
from registry.exports.writers import Format, Part
from registry.record import answers
from registry.record.history.models import Change
from registry.record.inventory import service as inventory
from registry.record.inventory.models import Activity, EntityDraft, EntityKind, PartyRole
from tests.conftest import NOW, OFFICER
from tests.documents.papers import sign_seeded_sccs
from tests.history.past import day_after_seeding

Sessions = async_sessionmaker[AsyncSession]
CONTACT = "privacy@example.test"
ACTIVITY = "call-recording-and-monitoring"
GROUP_COMPANIES = 28
# The notice (REQUIREMENTS.md section 1), as the activity states it.
SOURCE = (
    "Collected by one or more joint controllers during calls, then transferred to the other "
    "joint controllers for group reporting and analysis."
)
AUTOMATED = "None. No decision based solely on automated processing, and no profiling (Art. 22)."
# R-DSR-1: the rights the registry runs for the data subjects.
RIGHTS = [
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
    "withdrawal of consent",
    "complaint to a supervisory authority",
]
# The group companies' countries and Talkdesk's (US): where the calls are processed.
COUNTRIES = [
    "AT",
    "BE",
    "BG",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FR",
    "GB",
    "GR",
    "HU",
    "IE",
    "IT",
    "NL",
    "PL",
    "RO",
    "SE",
    "US",
]
SECURITY_MEASURE = "Training of authorised users"
TALKDESK_GAP = "Talkdesk Inc. (US): no registered office, no contact"


async def _export(sessions: Sessions, controller: str | None = None) -> RopaExport:
    async with transaction(sessions) as session:
        return await ropa.build(
            session=session, actor=Actor.system("test"), contact=CONTACT, controller=controller
        )


async def test_each_controller_row_has_the_templates_columns(seeded: Sessions) -> None:
    export = await _export(seeded)

    assert len(export.controllers) == GROUP_COMPANIES
    for row in export.controllers:
        assert row.source == SOURCE
        assert row.automated_decisions == AUTOMATED
        assert [right.split(" (")[0] for right in row.rights] == RIGHTS
        assert list(row.locations) == COUNTRIES
        assert "consent" in row.consent_records and "R-CON-1" in row.consent_records
        # The seeded activity is not assessed yet and names no DPIA or LIA document: the
        # status as the record states it, the missing references said so, never invented.
        assert (row.dpia_status, row.dpia_reference, row.lia_reference) == (
            "not_assessed",
            "not recorded",
            "not recorded",
        )
        # The notice names the SCCs each company is bound by, but no copy, place or date:
        # the reference is listed, and what it lacks is said, never invented.
        assert row.contracts.startswith("Standard contractual clauses (Decision (EU) 2021/914")
        assert row.contracts.count("(location not recorded; signing not recorded)") in (1, 2)


def test_dpia_and_lia_are_read_from_the_activity_when_it_has_them() -> None:
    stated = SimpleNamespace(dpia_status="required, done", dpia_reference="DPIA-7")

    assert ropa._assessments(cast(Activity, stated)) == {
        "dpia_status": "required, done",
        "dpia_reference": "DPIA-7",
        "lia_reference": "not recorded",
    }


async def test_activity_dates_come_from_the_change_log(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """Created: the seeds' load (a seeded activity has no change of its own); last updated:
    its last change, here a party added two days after the seeds."""
    day = await day_after_seeding(seeded, frozen_clock)
    async with transaction(seeded) as session:
        # The seeds create the activity through its service: its own first change.
        loads = (
            await session.scalars(
                select(col(Change.at)).where(
                    col(Change.subject_type) == "activity", col(Change.subject_slug) == ACTIVITY
                )
            )
        ).all()
    seeded_at = min(loads).isoformat(timespec="seconds")
    before = (await _export(seeded)).controllers[0]
    frozen_clock.advance(timedelta(days=1))
    async with transaction(seeded) as session:
        await inventory.create_entity(
            session=session,
            actor=OFFICER,
            draft=EntityDraft(
                slug="hosting-ie",
                kind=EntityKind.PROCESSOR,
                legal_name="Hosting Ltd",
                country_code="IE",
            ),
        )
        await inventory.add_party(
            session=session,
            actor=OFFICER,
            activity_slug=ACTIVITY,
            entity_slug="hosting-ie",
            role=PartyRole.PROCESSOR,
        )

    after = (await _export(seeded)).controllers[0]
    as_of_before = await _as_of(seeded, day)

    assert before.created_at == after.created_at == seeded_at
    assert after.updated_at == clock.now().isoformat(timespec="seconds")
    assert after.updated_at != before.updated_at
    # The export as of an earlier day does not know of the later change.
    assert as_of_before.controllers[0].updated_at == before.updated_at


async def _as_of(sessions: Sessions, day: object) -> RopaExport:
    async with transaction(sessions) as session:
        return await ropa.build(
            session=session,
            actor=Actor.system("test"),
            contact=CONTACT,
            as_of=day,  # type: ignore[arg-type]
        )


async def test_transfer_rows_name_each_hop_once_and_its_gaps_as_transfer_gaps_do(
    seeded: Sessions,
) -> None:
    """The gap rows are exactly the hops transferGaps reports (R-INV-2, R-INV-7)."""
    # Signed, the SCCs leave only the UK's exports as gaps.
    await sign_seeded_sccs(seeded)
    export = await _export(seeded)
    async with transaction(seeded) as session:
        found = await answers.gaps(session=session, actor=Actor.system("test"))

    hops = [
        (r.exporter, r.exporter_country, r.importer, r.importer_country) for r in export.transfers
    ]
    assert len(hops) == len(set(hops))
    gap_rows = {
        (r.exporter, r.exporter_country, r.importer, r.importer_country, r.gap_rule, r.gap_reason)
        for r in export.transfers
        if r.gap_rule
    }
    assert gap_rows == {
        (
            f.exporter.legal_name,
            f.exporter.country_code,
            f.importer.legal_name,
            f.importer.country_code,
            f.rule_id,
            f.reason,
        )
        for f in found.transfers
    }
    assert gap_rows and all(rule == "R-INV-7" for *_, rule, _ in gap_rows)
    # EEA → US hops rest on the SCCs of Decision (EU) 2021/914, as the notice says.
    to_us = [r for r in export.transfers if r.exporter_country == "AT" and r.destination == "US"]
    assert to_us and {r.mechanism for r in to_us} == {"standard contractual clauses (EU) 2021/914"}
    talkdesk = next(r for r in to_us if r.importer == "Talkdesk Inc.")
    assert talkdesk.scc_module == "2"


async def test_transfers_and_processors_have_a_csv_each(seeded: Sessions) -> None:
    export = await _export(seeded)

    for part, row_type, count in [
        (Part.TRANSFERS, TransferRow, len(export.transfers)),
        (Part.PROCESSORS, ProcessorRow, 1),
    ]:
        data = writers.render(export, Format.CSV, part)
        header, *rows = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
        assert header == ["as_of", "exported_at", *(f.name for f in fields(row_type))]
        assert len(rows) == count
    processors = writers.render(export, Format.CSV, Part.PROCESSORS).decode("utf-8")
    (talkdesk,) = list(csv.DictReader(io.StringIO(processors, newline="")))
    assert (talkdesk["processor"], talkdesk["role"]) == ("talkdesk", "processor")


@pytest.mark.parametrize("fmt", [Format.JSON, Format.XLSX, Format.MD])
def test_a_part_is_refused_with_a_format_that_holds_every_part(fmt: Format) -> None:
    with pytest.raises(InvalidInput):
        writers.render(RopaExport(NOW.date(), [], []), fmt, Part.TRANSFERS)


async def test_every_format_says_the_day_and_the_time_of_the_export(seeded: Sessions) -> None:
    export = await _export(seeded)
    day, made = NOW.date().isoformat(), NOW.isoformat(timespec="seconds")

    document = json.loads(writers.to_json(export))
    assert (document["as_of"], document["exported_at"]) == (day, made)
    for part in Part:
        rows = list(csv.DictReader(io.StringIO(writers.to_csv(export, part).decode("utf-8"))))
        assert rows and {(r["as_of"], r["exported_at"]) for r in rows} == {(day, made)}
    cover = openpyxl.load_workbook(io.BytesIO(writers.to_xlsx(export)))["Export"]
    assert [[c.value for c in line] for line in cover.iter_rows(min_row=2)] == [
        ["As of", day],
        ["Exported at", made],
    ]
    assert f"As of {day}; exported at {made}." in writers.to_markdown(export).decode("utf-8")


async def test_markdown_states_what_the_joint_controllers_share_once(seeded: Sessions) -> None:
    export = await _export(seeded)
    lines = writers.to_markdown(export).decode("utf-8").splitlines()

    def count(text: str) -> int:
        return sum(text in line for line in lines)

    # Before, each of the 28 controllers' tables repeated them: 816 lines in all.
    assert len(lines) < 400
    assert count("| (a) Joint controllers |") == 1
    assert count("| (g) Security measures |") == 1
    # A measure and a processor's gap, shared by all, are said once for the controllers, and
    # once more in the processor's own record (Art. 30(2)).
    assert count(TALKDESK_GAP) == 2
    assert count(SECURITY_MEASURE) == 2
    # Each controller has one row of its own, naming what differs: its name, its office.
    assert count("| mood-media-austria | Mood Media GmbH |") == 1
    assert count("Kristein 2, 4470 Enns") == 1


@pytest.fixture
def cli(database_url: str, seeded: Sessions, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("REGISTRY_DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_PRIVACY_CONTACT", CONTACT)
    return CliRunner()


def test_cli_writes_the_transfers_csv_and_refuses_a_part_for_other_formats(
    cli: CliRunner,
) -> None:
    result = cli.invoke(app, ["export", "ropa", "--format", "csv", "--part", "transfers"])

    assert result.exit_code == 0, result.output
    header = next(csv.reader(io.StringIO(result.stdout)))
    assert header == ["as_of", "exported_at", *(f.name for f in fields(TransferRow))]
    refused = cli.invoke(app, ["export", "ropa", "--format", "json", "--part", "transfers"])
    assert refused.exit_code == 2
    assert "--part" in refused.stderr
