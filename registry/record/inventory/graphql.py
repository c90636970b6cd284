"""GraphQL queries and mutations of the inventory: thin wiring over the services."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import strawberry

from registry._edits import drafted
from registry.graphql.context import Context, Info
from registry.graphql.errors import ErrorType
from registry.graphql.mutations import capped, given_fields, run
from registry.graphql.relay import Connection, connection, page
from registry.graphql.selection import selection_of
from registry.record import answers as record
from registry.record.history import service as history
from registry.record.inventory import loaders, service
from registry.record.inventory.models import Entity, EntityDraft, EntityKind, PartyRole
from registry.record.inventory.types import (
    ActivityType,
    ControllerRecordType,
    EntityType,
    ProcessingType,
    ProcessorRecordType,
    RecordGapsType,
)
from registry.record.past.graphql import AS_OF, context_as_of
from registry.record.transfers import loaders as transfer_loaders


@strawberry.input
class EntityFilter:
    kinds: list[EntityKind] | None = None
    countries: list[str] | None = None
    eea: bool | None = strawberry.field(default=None, description="In the EEA, or outside it.")
    data_category: str | None = strawberry.field(
        default=None, description="Entities taking part in an activity with this data category."
    )
    purpose: str | None = strawberry.field(
        default=None, description="Entities taking part in an activity with this purpose."
    )
    include_retired: bool = False


@strawberry.input
class CreateEntityInput:
    slug: str
    kind: EntityKind
    legal_name: str
    country_code: str
    known_as: str | None = None
    registered_office: str | None = None
    contact: str | None = None
    dpo: str | None = None
    representative: str | None = None
    verified: bool = False
    verification_note: str | None = None
    dpf_certified: bool = False
    active_from: date | None = None


@strawberry.input(description="Only the fields given are changed; null clears a field.")
class UpdateEntityInput:
    known_as: str | None = strawberry.UNSET
    legal_name: str | None = strawberry.UNSET
    registered_office: str | None = strawberry.UNSET
    country_code: str | None = strawberry.UNSET
    contact: str | None = strawberry.UNSET
    dpo: str | None = strawberry.UNSET
    representative: str | None = strawberry.UNSET
    verified: bool | None = strawberry.UNSET
    verification_note: str | None = strawberry.UNSET
    dpf_certified: bool | None = strawberry.UNSET
    active_from: date | None = strawberry.UNSET


@strawberry.type
class EntityPayload:
    entity: EntityType | None
    errors: list[ErrorType]


@strawberry.type
class EngagementPayload:
    processor: EntityType | None
    sub_processor: EntityType | None
    errors: list[ErrorType]


@strawberry.type
class ActivityPayload:
    activity: ActivityType | None
    errors: list[ErrorType]


@strawberry.type
class InventoryQuery:
    @strawberry.field(description="Entities in a stable order, a page at a time.")
    async def entities(
        self,
        info: Info,
        filter: EntityFilter | None = None,
        first: int = 50,
        after: str | None = None,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
        updated_since: Annotated[
            datetime | None,
            strawberry.argument(
                description="Only entities with a change at or after this time: to the entity,"
                " or to a sub-processor engagement it is an end of."
            ),
        ] = None,
    ) -> Connection[EntityType]:
        history.refuse_updated_since_as_of(updated_since, as_of)
        async with context_as_of(info.context, as_of) as ctx:
            return await _entities(ctx, info, filter or EntityFilter(), first, after, updated_since)

    @strawberry.field
    async def entity(
        self,
        info: Info,
        slug: str,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> EntityType | None:
        async with context_as_of(info.context, as_of) as ctx:
            rows = await service.list_entities(
                session=ctx.session,
                actor=ctx.actor,
                flt=service.EntityFilter(slugs=frozenset({slug}), include_retired=True, on=ctx.day),
                after_id=0,
                limit=1,
            )
            built = await loaders.entities(ctx, rows, selection_of(info.selected_fields))
        return built[0] if built else None

    @strawberry.field(description="The processing activities with their Art. 30 facts.")
    async def activities(
        self,
        info: Info,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> list[ActivityType]:
        async with context_as_of(info.context, as_of) as ctx:
            facts = await record.load_activity_facts(ctx.session)
            return await loaders.activities(
                ctx, [facts[i] for i in sorted(facts)], selection_of(info.selected_fields)
            )

    @strawberry.field(
        description="Every entity that processes the matching data, in which role, for which "
        "purposes and legal bases, and the path by which the data reaches it."
    )
    async def who_processes(
        self,
        info: Info,
        data_category: str | None = None,
        subject_category: str | None = None,
        country: str | None = None,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> list[ProcessingType]:
        async with context_as_of(info.context, as_of) as ctx:
            found = await record.who_processes(
                session=ctx.session,
                actor=ctx.actor,
                data_category=data_category,
                subject_category=subject_category,
                country_code=country,
                on=as_of,
            )
            return await loaders.processings(ctx, found, selection_of(info.selected_fields))

    @strawberry.field(
        description="Flows out of the EEA without a valid safeguard, and entities missing "
        "Art. 30 data."
    )
    async def transfer_gaps(
        self,
        info: Info,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> RecordGapsType:
        async with context_as_of(info.context, as_of) as ctx:
            gaps = await record.gaps(
                session=ctx.session,
                actor=ctx.actor,
                privacy_contact=ctx.settings.configured_privacy_contact,
                on=as_of,
            )
            sel = selection_of(info.selected_fields)
            return RecordGapsType(
                transfers=await transfer_loaders.flows(ctx, gaps.transfers, sel.at("transfers")),
                entities=await loaders.gap_objects(ctx, gaps.entities, sel.at("entities")),
                retention=loaders.retention_gap_objects(gaps.retention),
                no_privacy_contact=gaps.no_privacy_contact,
            )

    @strawberry.field(description="The Art. 30(1) record of a controller.")
    async def controller_record(
        self,
        info: Info,
        slug: str,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> ControllerRecordType:
        async with context_as_of(info.context, as_of) as ctx:
            found = await record.controller_record(
                session=ctx.session,
                actor=ctx.actor,
                slug=slug,
                contact=ctx.settings.configured_privacy_contact,
                on=as_of,
            )
            return await loaders.controller_record(ctx, found, selection_of(info.selected_fields))

    @strawberry.field(description="The Art. 30(2) record of a processor.")
    async def processor_record(
        self,
        info: Info,
        slug: str,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> ProcessorRecordType:
        async with context_as_of(info.context, as_of) as ctx:
            found = await record.processor_record(
                session=ctx.session, actor=ctx.actor, slug=slug, on=as_of
            )
            return await loaders.processor_record(ctx, found, selection_of(info.selected_fields))


async def _entities(
    ctx: Context,
    info: Info,
    flt: EntityFilter,
    first: int,
    after: str | None,
    updated_since: datetime | None,
) -> Connection[EntityType]:
    window = page(first, after, limit=ctx.settings.max_page_size)
    sel = selection_of(info.selected_fields).connection_nodes()
    rows = await service.list_entity_rows(
        session=ctx.session,
        actor=ctx.actor,
        flt=service.EntityFilter(
            kinds=frozenset(capped(flt.kinds, "kinds")),
            country_codes=frozenset(c.upper() for c in capped(flt.countries, "countries")),
            eea=flt.eea,
            data_category=flt.data_category,
            purpose=flt.purpose,
            include_retired=flt.include_retired,
            on=ctx.day,
            updated_since=updated_since,
        ),
        after_id=window.after,
        limit=window.fetch,
        columns=loaders.entity_columns(sel),
    )
    shown, more = window.split(rows)
    nodes = await loaders.entities(ctx, shown, sel)
    return connection(nodes, [r.id for r in shown], has_next_page=more)


async def _entity_payload(
    info: Info, entity: Entity | None, errors: list[ErrorType]
) -> EntityPayload:
    if entity is None:
        return EntityPayload(entity=None, errors=errors)
    sel = selection_of(info.selected_fields).at("entity")
    built = await loaders.entities(info.context, [entity], sel)
    return EntityPayload(entity=built[0], errors=errors)


@strawberry.type
class InventoryMutation:
    @strawberry.mutation
    async def create_entity(self, info: Info, input: CreateEntityInput) -> EntityPayload:
        given = given_fields(input)
        entity, errors = await run(
            info,
            lambda s: service.create_entity(
                session=s, actor=info.context.actor, draft=drafted(EntityDraft, given)
            ),
        )
        return await _entity_payload(info, entity, errors)

    @strawberry.mutation
    async def update_entity(
        self, info: Info, slug: str, input: UpdateEntityInput, reason: str | None = None
    ) -> EntityPayload:
        changes = given_fields(input)
        entity, errors = await run(
            info,
            lambda s: service.update_entity(
                session=s, actor=info.context.actor, slug=slug, changes=changes, reason=reason
            ),
        )
        return await _entity_payload(info, entity, errors)

    @strawberry.mutation(description="Marks an entity retired; its record and history stay.")
    async def retire_entity(
        self, info: Info, slug: str, reason: str, retired_on: date | None = None
    ) -> EntityPayload:
        entity, errors = await run(
            info,
            lambda s: service.retire_entity(
                session=s, actor=info.context.actor, slug=slug, reason=reason, retired_on=retired_on
            ),
        )
        return await _entity_payload(info, entity, errors)

    @strawberry.mutation
    async def link_sub_processor(
        self,
        info: Info,
        processor: str,
        sub_processor: str,
        since: date | None = None,
        reason: str | None = None,
    ) -> EngagementPayload:
        return await _engagement(info, processor, sub_processor, since, reason, link=True)

    @strawberry.mutation
    async def unlink_sub_processor(
        self, info: Info, processor: str, sub_processor: str, reason: str | None = None
    ) -> EngagementPayload:
        return await _engagement(info, processor, sub_processor, None, reason, link=False)

    @strawberry.mutation(
        description="Makes an entity a joint controller or processor of an activity."
    )
    async def add_activity_party(
        self, info: Info, activity: str, entity: str, role: PartyRole
    ) -> ActivityPayload:
        _, errors = await run(
            info,
            lambda s: service.add_party(
                session=s,
                actor=info.context.actor,
                activity_slug=activity,
                entity_slug=entity,
                role=role,
            ),
        )
        return await _activity_payload(info, activity, errors)

    @strawberry.mutation(description="Adds a data category to an activity, with its retention.")
    async def attach_data_category(
        self,
        info: Info,
        activity: str,
        category: str,
        retention_criterion: str,
        retention_days: int | None = None,
    ) -> ActivityPayload:
        _, errors = await run(
            info,
            lambda s: service.attach_data_category(
                session=s,
                actor=info.context.actor,
                activity_slug=activity,
                category_key=category,
                retention_criterion=retention_criterion,
                retention_days=retention_days,
            ),
        )
        return await _activity_payload(info, activity, errors)


async def _engagement(
    info: Info,
    processor: str,
    sub_processor: str,
    since: date | None,
    reason: str | None,
    *,
    link: bool,
) -> EngagementPayload:
    actor = info.context.actor
    if link:
        _, errors = await run(
            info,
            lambda s: service.link_sub_processor(
                session=s,
                actor=actor,
                processor_slug=processor,
                sub_processor_slug=sub_processor,
                since=since,
                reason=reason,
            ),
        )
    else:
        _, errors = await run(
            info,
            lambda s: service.unlink_sub_processor(
                session=s,
                actor=actor,
                processor_slug=processor,
                sub_processor_slug=sub_processor,
                reason=reason,
            ),
        )
    if errors:
        return EngagementPayload(processor=None, sub_processor=None, errors=errors)
    sel = selection_of(info.selected_fields)
    rows = await service.list_entities(
        session=info.context.session,
        actor=actor,
        flt=service.EntityFilter(slugs=frozenset({processor, sub_processor}), include_retired=True),
        after_id=0,
        limit=2,
    )
    built = await loaders.entities(info.context, rows, sel.merged("processor", "subProcessor"))
    objects = {row.slug: obj for row, obj in zip(rows, built, strict=True)}
    return EngagementPayload(
        processor=objects.get(processor),
        sub_processor=objects.get(sub_processor),
        errors=[],
    )


async def _activity_payload(info: Info, slug: str, errors: list[ErrorType]) -> ActivityPayload:
    if errors:
        return ActivityPayload(activity=None, errors=errors)
    facts = await record.load_activity_facts(info.context.session)
    wanted = [f for f in facts.values() if f.activity.slug == slug]
    sel = selection_of(info.selected_fields).at("activity")
    built = await loaders.activities(info.context, wanted, sel)
    return ActivityPayload(activity=built[0] if built else None, errors=[])
