"""Importing entity lists through the service, on both backends: the plan row by row,
its errors at their cells, and an apply that writes all or nothing, as one batch."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from registry import clock
from registry.access.policy import Role
from registry.access.service import Actor
from registry.db import transaction
from registry.errors import Conflict, Forbidden
from registry.exports import ropa, writers
from registry.record import answers as record
from registry.record.answers import EntityGapReason
from registry.record.history.models import Change, ChangeEvent, ImportBatch
from registry.record.imports import service
from registry.record.imports.plan import Plan, RowAction
from registry.record.inventory import service as inventory
from registry.record.inventory.models import Engagement, Entity, EntityDraft, EntityKind
from tests.conftest import OFFICER

Sessions = async_sessionmaker[AsyncSession]
Rows = list[dict[str, str]]


async def exported(sessions: Sessions, part: str = "csv") -> bytes:
    async with sessions() as session:
        export = await ropa.build(session=session, actor=OFFICER, contact="privacy@example.com")
    if part == "xlsx":
        return writers.to_xlsx(export)
    return writers.to_csv(export, writers.Part.ENTITIES)


def rows_of(data: bytes) -> Rows:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def csv_of(rows: Rows) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def row_for(rows: Rows, slug: str) -> dict[str, str]:
    return next(row for row in rows if row["slug"] == slug)


def new_row(template: dict[str, str], **values: str) -> dict[str, str]:
    row = dict.fromkeys(template, "")
    row.update(kind="sub_processor", legal_name="Acme Hosting Ltd", country="IE", verified="false")
    row.update(dpf_certified="false", slug="acme-hosting")
    row.update(values)
    return row


async def plan_of(sessions: Sessions, data: bytes, **options: Any) -> Plan:
    async with transaction(sessions) as session:
        return await service.plan_import(
            session=session, actor=OFFICER, data=data, file_name="entities.csv", **options
        )


async def apply(sessions: Sessions, data: bytes, **options: Any) -> Plan:
    async with transaction(sessions) as session:
        return await service.apply_import(
            session=session, actor=OFFICER, data=data, file_name="entities.csv", **options
        )


async def counted(sessions: Sessions, model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_an_exported_list_imports_back_unchanged(seeded: Sessions, fmt: str) -> None:
    data = await exported(seeded, fmt)

    plan = await plan_of(seeded, data)

    assert plan.errors == []
    assert {row.action for row in plan.rows} == {RowAction.UNCHANGED}
    assert len(plan.rows) == await counted(seeded, Entity)


async def test_each_row_is_planned_create_update_retire_or_unchanged(seeded: Sessions) -> None:
    rows = rows_of(await exported(seeded))
    row_for(rows, "mood-media-austria")["contact"] = "privacy@example.at"
    belgium = row_for(rows, "mood-media-belgium")
    belgium.update(retired_on="2026-11-30", retirement_reason="sold to another group")
    rows.append(new_row(rows[0], engaged_by="talkdesk"))

    plan = await plan_of(seeded, csv_of(rows))

    assert plan.errors == []
    by_slug = {row.slug: row for row in plan.rows}
    assert by_slug["mood-media-austria"].action is RowAction.UPDATE
    assert [vars(c) for c in by_slug["mood-media-austria"].changes] == [
        {"column": "contact", "before": "", "after": "privacy@example.at"}
    ]
    assert by_slug["mood-media-belgium"].action is RowAction.RETIRE
    assert by_slug["acme-hosting"].action is RowAction.CREATE
    assert by_slug["mood-media-cz"].action is RowAction.UNCHANGED
    assert plan.counts == {"create": 1, "update": 1, "retire": 1, "unchanged": len(rows) - 3}
    # A dry run writes nothing.
    assert await counted(seeded, ImportBatch) == 0
    async with seeded() as session:
        assert (
            await session.scalar(select(Entity).where(col(Entity.slug) == "acme-hosting")) is None
        )


async def test_r_inv_4_an_applied_import_is_one_batch_named_by_each_change(
    seeded: Sessions,
) -> None:
    """R-INV-4: each change of an import is in the history, naming the batch (file, hash,
    who); a retirement keeps the entity and its history."""
    rows = rows_of(await exported(seeded))
    row_for(rows, "mood-media-austria")["contact"] = "privacy@example.at"
    row_for(rows, "mood-media-belgium").update(retired_on="2026-11-30", retirement_reason="sold")
    rows.append(new_row(rows[0], engaged_by="talkdesk"))
    changes_before = await counted(seeded, Change)

    plan = await apply(seeded, csv_of(rows))

    assert plan.applied and plan.batch_id is not None
    async with seeded() as session:
        batch = await session.get_one(ImportBatch, plan.batch_id)
        changes = (
            await session.scalars(select(Change).where(col(Change.id) > 0).order_by(Change.id))
        ).all()[changes_before:]
        belgium = await session.scalar(
            select(Entity).where(col(Entity.slug) == "mood-media-belgium")
        )
    assert (batch.file_name, batch.sha256, batch.actor) == (
        "entities.csv",
        plan.sha256,
        OFFICER.handle,
    )
    assert batch.counts["create"] == 1
    assert {change.event for change in changes} == {
        ChangeEvent.ENTITY_CREATED,
        ChangeEvent.ENTITY_UPDATED,
        ChangeEvent.ENTITY_RETIRED,
        ChangeEvent.SUB_PROCESSOR_ENGAGED,
    }
    assert {change.import_batch_id for change in changes} == {batch.id}
    assert belgium is not None and belgium.retired_on == date(2026, 11, 30)
    # Imported again, the list is what the record now says.
    again = await plan_of(seeded, csv_of(rows))
    assert {row.action for row in again.rows} == {RowAction.UNCHANGED}


async def test_errors_are_shown_at_their_row_and_column_all_at_once(seeded: Sessions) -> None:
    rows = rows_of(await exported(seeded))
    rows.append(
        new_row(
            rows[0],
            kind="robot",
            country="XX",
            verified="maybe",
            active_from="tomorrow",
            known_as="x" * 201,
        )
    )
    row_for(rows, "talkdesk")["kind"] = "group_company"
    number = len(rows) + 1

    plan = await plan_of(seeded, csv_of(rows))

    found = {(error.row, error.column, error.cell) for error in plan.errors}
    assert {
        (number, "kind", f"D{number}"),
        (number, "country", f"H{number}"),
        (number, "verified", f"L{number}"),
        (number, "active_from", f"P{number}"),
        (number, "known_as", f"E{number}"),
    } <= found
    talkdesk_row = next(row.row for row in plan.rows if row.slug == "talkdesk")
    assert (talkdesk_row, "kind", f"D{talkdesk_row}") in found
    messages = " ".join(error.message for error in plan.errors)
    assert "unknown country 'XX'" in messages and "unknown kind 'robot'" in messages


async def test_all_or_nothing_an_error_in_the_last_row_writes_nothing(seeded: Sessions) -> None:
    rows = rows_of(await exported(seeded))
    row_for(rows, "mood-media-austria")["contact"] = "privacy@example.at"
    rows.append(new_row(rows[0], country="XX"))
    changes_before = await counted(seeded, Change)

    with pytest.raises(service.ImportRefused) as refused:
        await apply(seeded, csv_of(rows))

    assert [error.column for error in refused.value.plan.errors] == ["country"]
    assert await counted(seeded, Change) == changes_before
    assert await counted(seeded, ImportBatch) == 0
    async with seeded() as session:
        austria = await session.scalar(
            select(Entity).where(col(Entity.slug) == "mood-media-austria")
        )
    assert austria is not None and austria.contact is None


async def test_an_engagement_the_services_would_refuse_is_in_the_plan(seeded: Sessions) -> None:
    # The inventory's service refuses a sub-processor engaged by no processor: so does the plan.
    async with transaction(seeded) as session:
        await inventory.create_entity(
            session=session,
            actor=OFFICER,
            draft=EntityDraft(
                slug="acme-hosting",
                kind=EntityKind.SUB_PROCESSOR,
                legal_name="Acme Hosting Ltd",
                country_code="IE",
            ),
        )
    rows = rows_of(await exported(seeded))
    row_for(rows, "acme-hosting")["engaged_by"] = "talkdesk"
    rows.append(new_row(rows[0], slug="beta-hosting", engaged_by="mood-media-austria"))

    plan = await plan_of(seeded, csv_of(rows))

    (error,) = plan.errors
    assert (error.column, error.message) == ("engaged_by", "mood-media-austria is not a processor")
    by_slug = {row.slug: row for row in plan.rows}
    assert by_slug["acme-hosting"].action is RowAction.UPDATE


async def test_r_inv_5_blank_cells_stay_gaps_and_an_unverified_name_stays_unverified(
    seeded: Sessions,
) -> None:
    """R-INV-5: an imported entity without contact details or a verified name is a gap;
    nothing is filled in (a blank cell is missing, a blank flag is false)."""
    rows = rows_of(await exported(seeded))
    rows.append(new_row(rows[0], verified="", registered_office="  ", engaged_by="talkdesk"))

    await apply(seeded, csv_of(rows))

    async with seeded() as session:
        gaps = (await record.gaps(session=session, actor=OFFICER)).entities
        acme = await session.scalar(select(Entity).where(col(Entity.slug) == "acme-hosting"))
    assert acme is not None and acme.registered_office is None and acme.verified is False
    (gap,) = [gap for gap in gaps if gap.entity.slug == "acme-hosting"]
    assert EntityGapReason.UNVERIFIED_NAME in gap.reasons


async def test_entities_absent_from_the_file_are_left_alone_unless_asked(
    seeded: Sessions,
) -> None:
    rows = rows_of(await exported(seeded))
    partial = [row_for(rows, "talkdesk")]

    left_alone = await plan_of(seeded, csv_of(partial))
    retiring = await plan_of(seeded, csv_of(partial), retire_missing=True)

    assert [row.slug for row in left_alone.rows] == ["talkdesk"]
    assert retiring.counts["retire"] == len(rows) - 1
    assert all(row.row is None for row in retiring.rows if row.action is RowAction.RETIRE)


async def test_a_released_engagement_is_planned_and_applied(seeded: Sessions) -> None:
    rows = rows_of(await exported(seeded))
    rows.append(new_row(rows[0], engaged_by="talkdesk"))
    await apply(seeded, csv_of(rows))
    row_for(rows, "acme-hosting")["engaged_by"] = ""

    plan = await apply(seeded, csv_of(rows))

    (row,) = [row for row in plan.rows if row.action is not RowAction.UNCHANGED]
    assert [vars(c) for c in row.changes] == [
        {"column": "engaged_by", "before": "talkdesk", "after": ""}
    ]
    async with seeded() as session:
        ended = await session.scalar(select(col(Engagement.ended_on)))
    assert ended is not None


async def test_a_plan_hash_refuses_a_record_that_changed_since(seeded: Sessions) -> None:
    rows = rows_of(await exported(seeded))
    row_for(rows, "mood-media-austria")["contact"] = "privacy@example.at"
    data = csv_of(rows)
    planned = await plan_of(seeded, data)
    async with transaction(seeded) as session:
        await inventory.update_entity(
            session=session, actor=OFFICER, slug="talkdesk", changes={"dpo": "dpo@talkdesk.test"}
        )

    with pytest.raises(Conflict):
        await apply(seeded, data, plan_hash=planned.hash)


async def test_only_those_who_write_entities_import(seeded: Sessions) -> None:
    data = await exported(seeded)
    supervisor = Actor(handle="sup", roles=frozenset({Role.SUPERVISOR}))

    async with transaction(seeded) as session:
        with pytest.raises(Forbidden):
            await service.plan_import(
                session=session, actor=supervisor, data=data, file_name="entities.csv"
            )


async def test_a_formula_looking_text_is_kept_as_text_both_ways(seeded: Sessions) -> None:
    rows = rows_of(await exported(seeded))
    rows.append(new_row(rows[0], verification_note='=HYPERLINK("http://evil")', engaged_by=""))
    await apply(seeded, csv_of(rows))

    again = rows_of(await exported(seeded))
    note = row_for(again, "acme-hosting")["verification_note"]

    # The export defuses it for spreadsheets; the import takes the guard off again.
    assert note == '\'=HYPERLINK("http://evil")'
    assert {row.action for row in (await plan_of(seeded, csv_of(again))).rows} == {
        RowAction.UNCHANGED
    }
    book = openpyxl.load_workbook(io.BytesIO(await exported(seeded, "xlsx")))
    sheet = book["Entities"]
    cells = [cell for row in sheet.iter_rows() for cell in row if cell.value == note[1:]]
    assert cells and all(cell.data_type == "s" for cell in cells)


async def test_r_inv_4_the_record_as_of_a_day_replays_an_import(
    seeded: Sessions, frozen_clock: clock.FrozenClock
) -> None:
    """R-INV-4: an import's changes are ordinary events, which the "as of" rebuild replays:
    the list as of the day of a first import, and as of the day of a second one. (The
    seeded entities were loaded before the frozen clock's day: only new ones take part.)"""
    rows = rows_of(await exported(seeded))
    rows.append(new_row(rows[0], slug="acme-processing", kind="processor"))
    rows.append(new_row(rows[0], engaged_by="acme-processing"))
    await apply(seeded, csv_of(rows))
    first_day = clock.today()
    frozen_clock.advance(timedelta(days=1))
    row_for(rows, "acme-hosting")["contact"] = "dpo@acme.example"
    rows.append(new_row(rows[0], slug="beta-hosting", engaged_by="acme-processing"))
    await apply(seeded, csv_of(rows))

    async with seeded() as session:
        then = await ropa.build(session=session, actor=OFFICER, contact="c", as_of=first_day)
        now = await ropa.build(session=session, actor=OFFICER, contact="c", as_of=clock.today())

    listed_then = rows_of(writers.to_csv(then, writers.Part.ENTITIES))
    listed_now = rows_of(writers.to_csv(now, writers.Part.ENTITIES))
    assert (
        row_for(listed_then, "acme-hosting")["contact"],
        row_for(listed_then, "acme-hosting")["engaged_by"],
    ) == ("", "acme-processing")
    assert "beta-hosting" not in {row["slug"] for row in listed_then}
    assert row_for(listed_now, "acme-hosting")["contact"] == "dpo@acme.example"
    assert row_for(listed_now, "beta-hosting")["engaged_by"] == "acme-processing"
