"""Importing an entity list: plan it (a dry run that writes nothing), then apply it whole.

The plan checks each cell with the inventory's own cleaners, limits and rules, and works
out each change from what the record holds, so the services' refusals (an unknown country,
a kind that cannot engage, a retired entity edited, ...) are in it, every one at its cell.
Applying runs the plan through the inventory's own services (create, update, retire,
engage, release), so every rule and every change-log event is the ordinary one; each
change names the import batch (file, hash, who). Anything they still refuse is put at its
row, and nothing is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry._text import stated
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.countries import Country
from registry.errors import Conflict, DomainError, InvalidInput
from registry.record.history import service as history
from registry.record.history.requests import in_batch
from registry.record.imports import parse
from registry.record.imports.listing import listed_entities
from registry.record.imports.plan import (
    Known,
    Plan,
    RowAction,
    RowPlan,
    cell_error,
    column_of,
    plan_rows,
)
from registry.record.inventory import service as inventory
from registry.record.inventory.models import EntityDraft

FILE_NAME_LIMIT = 255


class ImportRefused(InvalidInput):
    """The file's plan has errors: nothing was written. The plan says where they are."""

    def __init__(self, plan: Plan) -> None:
        count = len(plan.errors)
        super().__init__(
            f"{count} error{'s' if count != 1 else ''} in {plan.file_name}; nothing was written",
            field="file",
        )
        self.plan = plan


async def plan_import(
    *,
    session: AsyncSession,
    actor: Actor,
    data: bytes,
    file_name: str,
    retire_missing: bool = False,
) -> Plan:
    """What applying the file would do, row by row, with every error; writes nothing."""
    authorize(actor, Action.INVENTORY_WRITE)
    plan, _ = await _planned(session, actor, data, file_name, retire_missing)
    return plan


async def apply_import(
    *,
    session: AsyncSession,
    actor: Actor,
    data: bytes,
    file_name: str,
    retire_missing: bool = False,
    plan_hash: str | None = None,
) -> Plan:
    """Applies the file all or nothing, as one import batch. With ``plan_hash`` (from a dry
    run), refuses when the file, the option or the record is no longer what was planned."""
    authorize(actor, Action.INVENTORY_WRITE)
    plan, table = await _planned(session, actor, data, file_name, retire_missing)
    if plan_hash is not None and plan_hash != plan.hash:
        raise Conflict(
            "the record or the file changed since the plan: plan again", field="planHash"
        )
    if plan.errors:
        raise ImportRefused(plan)
    async with session.begin_nested():
        batch = await history.open_batch(
            session=session, actor=actor, file_name=plan.file_name, sha256=plan.sha256
        )
        with in_batch(batch.id):
            await _carry_out(session, actor, plan, table)
        if plan.errors:
            # Raised inside the savepoint: leaving it rolls back every write made so far.
            raise ImportRefused(plan)
        batch.counts = plan.counts
        await session.flush()
    plan.applied, plan.batch_id = True, batch.id
    return plan


async def _planned(
    session: AsyncSession, actor: Actor, data: bytes, file_name: str, retire_missing: bool
) -> tuple[Plan, parse.Table]:
    name = stated(file_name, "fileName", limit=FILE_NAME_LIMIT, one_line=True)
    table = parse.read(data)
    listed = await listed_entities(session=session, actor=actor)
    countries = frozenset((await session.scalars(select(col(Country.code)))).all())
    known = Known({entity.slug: (entity, slugs) for entity, slugs in listed}, countries)
    rows = plan_rows(table, known)
    if retire_missing:
        in_file = {row.slug for row in rows}
        reason = f"not in the imported list {name}"
        rows += [
            RowPlan(None, entity.slug, RowAction.RETIRE, retirement=(clock.today(), reason))
            for entity, _ in listed
            if entity.retired_on is None and entity.slug not in in_file
        ]
    sha256 = hashlib.sha256(data).hexdigest()
    version = await history.record_version(session)
    return Plan(name, sha256, retire_missing, version, rows), table


Step = Callable[[RowPlan], Awaitable[object]]


async def _carry_out(session: AsyncSession, actor: Actor, plan: Plan, table: parse.Table) -> None:
    """The plan's writes through the inventory's services, in an order that lets each find
    what it needs: new entities first, engagements once both ends exist, retirements last.
    A row the services refuse gets the error at its column and is not carried further."""

    async def create(row: RowPlan) -> None:
        if row.create is not None:
            draft = EntityDraft.model_validate(row.create)
            await inventory.create_entity(session=session, actor=actor, draft=draft)

    async def update(row: RowPlan) -> None:
        if row.updates:
            await inventory.update_entity(
                session=session, actor=actor, slug=row.slug, changes=row.updates
            )

    async def release(row: RowPlan) -> None:
        for processor in sorted(row.release):
            await inventory.unlink_sub_processor(
                session=session, actor=actor, processor_slug=processor, sub_processor_slug=row.slug
            )

    async def engage(row: RowPlan) -> None:
        for processor in sorted(row.engage):
            await inventory.link_sub_processor(
                session=session, actor=actor, processor_slug=processor, sub_processor_slug=row.slug
            )

    async def retire(row: RowPlan) -> None:
        if row.retirement is not None:
            day, reason = row.retirement
            await inventory.retire_entity(
                session=session, actor=actor, slug=row.slug, reason=reason, retired_on=day
            )

    steps: list[Step] = [create, update, release, engage, retire]
    for step in steps:
        for row in plan.rows:
            if row.errors:
                continue
            try:
                await step(row)
            except DomainError as error:
                row.errors.append(cell_error(table, row.row, column_of(error), error))
