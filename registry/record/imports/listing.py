"""The entity list as it stands: every entity, retired ones too, with the processors that
engage each. The export writes it; the import compares a file with it."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.record.imports.layout import cells
from registry.record.inventory.models import Engagement, Entity


async def listed_entities(
    *, session: AsyncSession, actor: Actor, on: date | None = None
) -> list[tuple[Entity, set[str]]]:
    """Each entity in id order, with the slugs of the processors engaging it on ``on``
    (today if not given): an engagement ended that day no longer holds."""
    authorize(actor, Action.INVENTORY_READ)
    day = on or clock.today()
    entities = (await session.scalars(select(Entity).order_by(col(Entity.id)))).all()
    processor = aliased(Entity)
    engagements = await session.execute(
        select(col(Engagement.sub_processor_id), col(processor.slug))
        .join(processor, col(processor.id) == col(Engagement.processor_id))
        .where(or_(col(Engagement.ended_on).is_(None), col(Engagement.ended_on) > day))
    )
    engaged_by: dict[int, set[str]] = defaultdict(set)
    for sub_processor_id, processor_slug in engagements:
        engaged_by[sub_processor_id].add(processor_slug)
    return [(entity, engaged_by[entity.id]) for entity in entities]


async def entity_rows(
    *, session: AsyncSession, actor: Actor, on: date | None = None
) -> list[tuple[str, ...]]:
    """The list's rows as text, in the layout's columns."""
    listed = await listed_entities(session=session, actor=actor, on=on)
    return [cells(entity, slugs) for entity, slugs in listed]
