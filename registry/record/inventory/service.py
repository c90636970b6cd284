"""Rules of the inventory: entities, their links, and what the activity processes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry._columns import text_lengths
from registry._edits import edited, refuse_unknown_fields
from registry._text import optional_text, stated
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.countries import Country
from registry.errors import Conflict, InvalidInput, NotFound, RuleBroken
from registry.record import graph
from registry.record.history import service as history
from registry.record.history.events import link_slug
from registry.record.history.models import ChangeEvent
from registry.record.inventory.models import (
    Activity,
    ActivityDataCategory,
    ActivityParty,
    DataCategory,
    Engagement,
    Entity,
    EntityDraft,
    EntityKind,
    PartyRole,
    Purpose,
)

Ts = TypeVarTuple("Ts")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TEXT_LIMITS = text_lengths(Entity)
ONE_LINE_FIELDS = frozenset({"slug", "legal_name", "known_as"})
# Fixed once recorded: the slug names the entity in history and integrations, the kind
# decides the rules it falls under, the notice number is the notice's own.
FIXED_FIELDS = frozenset({"slug", "kind", "notice_number"})
EDITABLE_FIELDS = frozenset(EntityDraft.model_fields) - FIXED_FIELDS
PROCESSOR_KINDS = frozenset({EntityKind.PROCESSOR, EntityKind.SUB_PROCESSOR})


@dataclass(frozen=True)
class EntityFilter:
    kinds: frozenset[EntityKind] = frozenset()
    country_codes: frozenset[str] = frozenset()
    eea: bool | None = None
    data_category: str | None = None
    purpose: str | None = None
    include_retired: bool = False
    slugs: frozenset[str] = field(default_factory=frozenset)
    # The day on which entities are judged retired or taking part; None: today.
    on: date | None = None
    # Only entities with a change at or after this time (``updatedSince``).
    updated_since: datetime | None = None


def clean_text(name: str, value: str | None, *, required: bool = False) -> str | None:
    # Names are one line; addresses, contacts and notes may run over several.
    limit = TEXT_LIMITS.get(name, 2000)
    one_line = name in ONE_LINE_FIELDS
    if required:
        return stated(value, name, limit=limit, one_line=one_line)
    return optional_text(value, name, limit=limit, one_line=one_line)


async def _check_country(session: AsyncSession, code: str) -> str:
    code = code.strip().upper()
    if await session.get(Country, code) is None:
        raise InvalidInput(f"unknown country {code!r}", field="country_code")
    return code


async def entity_by_slug(session: AsyncSession, slug: str) -> Entity:
    entity = await session.scalar(select(Entity).where(col(Entity.slug) == slug))
    if entity is None:
        raise NotFound(f"no entity {slug!r}")
    return entity


async def activity_by_slug(session: AsyncSession, slug: str) -> Activity:
    activity = await session.scalar(select(Activity).where(col(Activity.slug) == slug))
    if activity is None:
        raise NotFound(f"no activity {slug!r}")
    return activity


def _require_active(entity: Entity, field_name: str) -> None:
    if entity.retired_on is not None:
        raise InvalidInput(f"{entity.slug} was retired on {entity.retired_on}", field=field_name)


async def create_entity(*, session: AsyncSession, actor: Actor, draft: EntityDraft) -> Entity:
    authorize(actor, Action.INVENTORY_WRITE)
    values = draft.model_dump()
    slug = clean_text("slug", draft.slug, required=True) or ""
    if not SLUG.match(slug):
        raise InvalidInput("slug must be lower-case words joined by hyphens", field="slug")
    if await session.scalar(select(col(Entity.id)).where(col(Entity.slug) == slug)) is not None:
        raise Conflict(f"an entity {slug!r} exists already", field="slug")
    for name in ("known_as", "registered_office", "contact", "dpo", "representative"):
        values[name] = clean_text(name, values[name])
    values["verification_note"] = clean_text("verification_note", draft.verification_note)
    values["legal_name"] = clean_text("legal_name", draft.legal_name, required=True)
    values["country_code"] = await _check_country(session, draft.country_code)
    values["slug"] = slug
    entity = Entity(**values)
    session.add(entity)
    await history.record_row(
        session=session,
        actor=actor,
        event=ChangeEvent.ENTITY_CREATED,
        row=entity,
        subject_slug=entity.slug,
    )
    return entity


async def update_entity(
    *,
    session: AsyncSession,
    actor: Actor,
    slug: str,
    changes: Mapping[str, Any],
    reason: str | None = None,
) -> Entity:
    """Applies the given field changes; a change that alters nothing is not recorded."""
    authorize(actor, Action.INVENTORY_WRITE)
    refuse_unknown_fields(changes, EDITABLE_FIELDS)
    why = history.stated_reason(reason)
    entity = await entity_by_slug(session, slug)
    _require_active(entity, "slug")
    # Each change of its type first, as a draft of the whole entity would have it.
    draft = edited(EntityDraft, entity, changes)
    cleaned: dict[str, Any] = {}
    for name in changes:
        value = getattr(draft, name)
        if name == "country_code":
            cleaned[name] = await _check_country(session, value)
        elif name == "legal_name":
            cleaned[name] = clean_text(name, value, required=True)
        elif isinstance(value, str) or value is None:
            cleaned[name] = clean_text(name, value) if name != "active_from" else value
        else:
            cleaned[name] = value
    await history.apply_edit(
        session=session,
        actor=actor,
        event=ChangeEvent.ENTITY_UPDATED,
        row=entity,
        subject_slug=entity.slug,
        values=cleaned,
        reason=why,
    )
    return entity


async def retire_entity(
    *, session: AsyncSession, actor: Actor, slug: str, reason: str, retired_on: date | None = None
) -> Entity:
    """Marks an entity as no longer taking part; its row and history are kept (R-INV-4)."""
    authorize(actor, Action.INVENTORY_WRITE)
    entity = await entity_by_slug(session, slug)
    if entity.retired_on is not None:
        raise Conflict(f"{slug} was already retired on {entity.retired_on}")
    before = history.snapshot(entity)
    entity.retired_on = retired_on or clock.today()
    entity.retirement_reason = clean_text("reason", reason, required=True)
    await history.record_row(
        session=session,
        actor=actor,
        event=ChangeEvent.ENTITY_RETIRED,
        row=entity,
        subject_slug=entity.slug,
        before=before,
        reason=entity.retirement_reason,
    )
    return entity


async def link_sub_processor(
    *,
    session: AsyncSession,
    actor: Actor,
    processor_slug: str,
    sub_processor_slug: str,
    since: date | None = None,
    reason: str | None = None,
) -> Engagement:
    authorize(actor, Action.INVENTORY_WRITE)
    why = history.stated_reason(reason)
    processor = await entity_by_slug(session, processor_slug)
    sub_processor = await entity_by_slug(session, sub_processor_slug)
    _require_active(processor, "processor")
    _require_active(sub_processor, "sub_processor")
    if processor.kind not in PROCESSOR_KINDS:
        raise InvalidInput(f"{processor_slug} is not a processor", field="processor")
    if sub_processor.kind is not EntityKind.SUB_PROCESSOR:
        raise InvalidInput(f"{sub_processor_slug} is not a sub-processor", field="sub_processor")
    if processor.id == sub_processor.id:
        raise InvalidInput("an entity cannot engage itself", field="sub_processor")
    existing = await session.scalar(
        select(Engagement).where(
            col(Engagement.processor_id) == processor.id,
            col(Engagement.sub_processor_id) == sub_processor.id,
        )
    )
    if existing is not None and existing.ended_on is None:
        raise Conflict(f"{processor_slug} already engages {sub_processor_slug}")
    # Engaged again after an end: the event's ``before`` is the engagement that had ended.
    before = _engagement_state(existing, processor, sub_processor) if existing else None
    engagement = existing or Engagement(
        processor_id=processor.id, sub_processor_id=sub_processor.id
    )
    engagement.since = since or clock.today()
    engagement.ended_on = None
    session.add(engagement)
    await session.flush()
    await _record_engagement(
        session, actor, engagement, processor, sub_processor, before=before, reason=why
    )
    return engagement


async def unlink_sub_processor(
    *,
    session: AsyncSession,
    actor: Actor,
    processor_slug: str,
    sub_processor_slug: str,
    reason: str | None = None,
) -> Engagement:
    authorize(actor, Action.INVENTORY_WRITE)
    why = history.stated_reason(reason)
    processor = await entity_by_slug(session, processor_slug)
    sub_processor = await entity_by_slug(session, sub_processor_slug)
    engagement = await session.scalar(
        select(Engagement).where(
            col(Engagement.processor_id) == processor.id,
            col(Engagement.sub_processor_id) == sub_processor.id,
            col(Engagement.ended_on).is_(None),
        )
    )
    if engagement is None:
        raise NotFound(f"{processor_slug} does not engage {sub_processor_slug}")
    before = _engagement_state(engagement, processor, sub_processor)
    engagement.ended_on = clock.today()
    await session.flush()
    await _record_engagement(
        session, actor, engagement, processor, sub_processor, before=before, reason=why
    )
    return engagement


async def _record_engagement(
    session: AsyncSession,
    actor: Actor,
    engagement: Engagement,
    processor: Entity,
    sub_processor: Entity,
    *,
    before: dict[str, Any] | None,
    reason: str | None,
) -> None:
    ended = engagement.ended_on is not None
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.SUB_PROCESSOR_RELEASED if ended else ChangeEvent.SUB_PROCESSOR_ENGAGED,
        subject_slug=link_slug(processor.slug, sub_processor.slug),
        before=before,
        after=_engagement_state(engagement, processor, sub_processor),
        reason=reason,
    )


def _engagement_state(
    engagement: Engagement, processor: Entity, sub_processor: Entity
) -> dict[str, Any]:
    """An engagement as its events show it: its two ends by slug, and its dates."""
    return {
        "processor": processor.slug,
        "sub_processor": sub_processor.slug,
        "since": engagement.since.isoformat() if engagement.since else None,
        "ended_on": engagement.ended_on.isoformat() if engagement.ended_on else None,
    }


async def add_party(
    *, session: AsyncSession, actor: Actor, activity_slug: str, entity_slug: str, role: PartyRole
) -> ActivityParty:
    """Makes an entity a joint controller or processor of the activity."""
    authorize(actor, Action.INVENTORY_WRITE)
    activity = await activity_by_slug(session, activity_slug)
    entity = await entity_by_slug(session, entity_slug)
    _require_active(entity, "entity")
    fits = (
        entity.kind is EntityKind.GROUP_COMPANY
        if role is PartyRole.JOINT_CONTROLLER
        else entity.kind in PROCESSOR_KINDS
    )
    if not fits:
        raise InvalidInput(f"a {entity.kind.value} cannot be the activity's {role.value}")
    existing = await session.scalar(
        select(col(ActivityParty.id)).where(
            col(ActivityParty.activity_id) == activity.id, col(ActivityParty.entity_id) == entity.id
        )
    )
    if existing is not None:
        raise Conflict(f"{entity_slug} is already a party to {activity_slug}")
    party = ActivityParty(activity_id=activity.id, entity_id=entity.id, role=role)
    session.add(party)
    await session.flush()
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.ACTIVITY_PARTY_ADDED,
        subject_slug=link_slug(activity.slug, entity.slug),
        before=None,
        after={"activity": activity.slug, "entity": entity.slug, "role": role.value},
    )
    return party


async def attach_data_category(
    *,
    session: AsyncSession,
    actor: Actor,
    activity_slug: str,
    category_key: str,
    retention_criterion: str,
    retention_days: int | None = None,
    retention_stated: bool = True,
) -> ActivityDataCategory:
    """Adds a data category to the activity, with how long it is kept. ``retention_stated``
    false records that the source states no retention for it: the criterion says so, no days
    are given, and the category is a gap (R-INV-6) until its retention is recorded."""
    authorize(actor, Action.INVENTORY_WRITE)
    activity = await activity_by_slug(session, activity_slug)
    category = await session.scalar(
        select(DataCategory).where(col(DataCategory.key) == category_key)
    )
    if category is None:
        raise NotFound(f"no data category {category_key!r}")
    if category.special_category:
        raise RuleBroken(
            "R-INV-1",
            f"{category_key} is a special category (Art. 9), never part of this activity",
            field="category",
        )
    criterion = checked_retention(retention_criterion, retention_days)
    if not retention_stated and retention_days is not None:
        raise InvalidInput(
            "a retention the source does not state has no days", field="retention_days"
        )
    link = ActivityDataCategory(
        activity_id=activity.id,
        data_category_id=category.id,
        retention_days=retention_days,
        retention_criterion=criterion,
        retention_stated=retention_stated,
    )
    session.add(link)
    await session.flush()
    await history.record_change(
        session=session,
        actor=actor,
        event=ChangeEvent.DATA_CATEGORY_ATTACHED,
        subject_slug=link_slug(activity.slug, category.key),
        before=None,
        after=retention_state(link, activity, category),
    )
    return link


def checked_retention(criterion: str | None, days: int | None) -> str:
    """A retention as R-INV-6 asks: a criterion always (cleaned text), and days, if any,
    positive. Attaching a category and changing its retention both ask it."""
    cleaned = stated(
        criterion,
        "retention_criterion",
        rule="R-INV-6",
        missing="every data category needs a retention period or criterion on record",
        limit=TEXT_LIMITS.get("retention_criterion", 2000),
    )
    if days is not None and days <= 0:
        raise InvalidInput("retention_days must be positive", field="retention_days")
    return cleaned


def retention_state(
    link: ActivityDataCategory, activity: Activity, category: DataCategory
) -> dict[str, Any]:
    """A data category's link to an activity as its events show it: the retention, and the
    two ends by slug and key."""
    return {
        "retention_days": link.retention_days,
        "retention_criterion": link.retention_criterion,
        "retention_stated": link.retention_stated,
        "activity": activity.slug,
        "data_category": category.key,
    }


def _filtered(query: Select[*Ts], flt: EntityFilter) -> Select[*Ts]:
    today = flt.on or clock.today()
    if not flt.include_retired:
        query = query.where(graph.not_retired(today))
    if flt.kinds:
        query = query.where(col(Entity.kind).in_(flt.kinds))
    if flt.country_codes:
        query = query.where(col(Entity.country_code).in_(flt.country_codes))
    if flt.slugs:
        query = query.where(col(Entity.slug).in_(flt.slugs))
    if flt.updated_since is not None:
        query = query.where(history.entity_changed_since(col(Entity.slug), flt.updated_since))
    if flt.eea is not None:
        eea_codes = select(col(Country.code)).where(col(Country.eea).is_(flt.eea))
        query = query.where(col(Entity.country_code).in_(eea_codes))
    if flt.data_category is not None or flt.purpose is not None:
        activities = select(col(Activity.id))
        if flt.data_category is not None:
            activities = activities.where(
                col(Activity.id).in_(
                    select(col(ActivityDataCategory.activity_id))
                    .join(
                        DataCategory,
                        col(DataCategory.id) == col(ActivityDataCategory.data_category_id),
                    )
                    .where(col(DataCategory.key) == flt.data_category)
                )
            )
        if flt.purpose is not None:
            activities = activities.where(
                col(Activity.id).in_(
                    select(col(Purpose.activity_id)).where(col(Purpose.key) == flt.purpose)
                )
            )
        # Who takes part in those activities that day, as the flow graph alone says.
        query = query.where(col(Entity.id).in_(graph.participants(today, activities)))
    return query


def _page(query: Select[*Ts], flt: EntityFilter, after_id: int, limit: int) -> Select[*Ts]:
    return (
        _filtered(query, flt).where(col(Entity.id) > after_id).order_by(col(Entity.id)).limit(limit)
    )


async def list_entities(
    *, session: AsyncSession, actor: Actor, flt: EntityFilter, after_id: int, limit: int
) -> Sequence[Entity]:
    """A page of entities in id order, starting after ``after_id``."""
    authorize(actor, Action.INVENTORY_READ)
    return (await session.scalars(_page(select(Entity), flt, after_id, limit))).all()


async def list_entity_rows(
    *,
    session: AsyncSession,
    actor: Actor,
    flt: EntityFilter,
    after_id: int,
    limit: int,
    columns: Sequence[ColumnElement[Any]],
) -> Sequence[Row[Any]]:
    """The same page as ``list_entities``, only ``columns`` of each entity.

    A page of thousands costs a fraction of loading them whole, and leaves the session no
    instances to track and let go of.
    """
    authorize(actor, Action.INVENTORY_READ)
    return (await session.execute(_page(select(*columns), flt, after_id, limit))).all()


async def get_entities(
    *, session: AsyncSession, actor: Actor, ids: Sequence[int]
) -> Sequence[Entity]:
    authorize(actor, Action.INVENTORY_READ)
    return (await session.scalars(select(Entity).where(col(Entity.id).in_(ids)))).all()
