"""GraphQL of the taxonomy: thin wiring over its service."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from registry.graphql.context import Info
from registry.graphql.errors import ErrorType
from registry.graphql.mutations import run
from registry.graphql.selection import selection_of
from registry.record import answers as record
from registry.record.inventory import loaders
from registry.record.inventory.graphql import ActivityPayload
from registry.record.inventory.types import DataCategoryType, PurposeType, SubjectCategoryType
from registry.record.past.graphql import AS_OF, context_as_of
from registry.record.taxonomy import service

UNDER = "Only this key and its descendants (user.contact: user.contact.email, ...)."


@strawberry.type
class DataCategoryPayload:
    data_category: DataCategoryType | None
    errors: list[ErrorType]


@strawberry.type
class SubjectCategoryPayload:
    subject_category: SubjectCategoryType | None
    errors: list[ErrorType]


@strawberry.type
class TaxonomyQuery:
    @strawberry.field(description="The dotted data taxonomy in key order.")
    async def data_categories(
        self,
        info: Info,
        under: Annotated[str | None, strawberry.argument(description=UNDER)] = None,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> list[DataCategoryType]:
        async with context_as_of(info.context, as_of) as ctx:
            rows = await service.list_data_categories(
                session=ctx.session, actor=ctx.actor, under=under
            )
            return [loaders.data_category_object(row) for row in rows]

    @strawberry.field(description="The categories of data subjects in key order.")
    async def subject_categories(
        self,
        info: Info,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> list[SubjectCategoryType]:
        async with context_as_of(info.context, as_of) as ctx:
            rows = await service.list_subject_categories(session=ctx.session, actor=ctx.actor)
            return [loaders.subject_object(row) for row in rows]

    @strawberry.field(
        description="The purposes of processing, with their legal basis for each category of"
        " data subjects; those of one activity if given."
    )
    async def purposes(
        self,
        info: Info,
        activity: str | None = None,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> list[PurposeType]:
        async with context_as_of(info.context, as_of) as ctx:
            found = await service.list_purposes(
                session=ctx.session, actor=ctx.actor, activity_slug=activity
            )
            return loaders.purpose_objects(found)


@strawberry.type
class TaxonomyMutation:
    @strawberry.mutation(
        description="Adds a data category parentKey.key under an existing parent; never under"
        " the special categories (Art. 9, R-INV-1)."
    )
    async def add_data_category(
        self,
        info: Info,
        parent_key: str,
        key: Annotated[str, strawberry.argument(description="The new key's last segment.")],
        name: str,
        description: str | None = None,
    ) -> DataCategoryPayload:
        category, errors = await run(
            info,
            lambda s: service.add_data_category(
                session=s,
                actor=info.context.actor,
                parent_key=parent_key,
                key=key,
                name=name,
                description=description,
            ),
        )
        built = loaders.data_category_object(category) if category is not None else None
        return DataCategoryPayload(data_category=built, errors=errors)

    @strawberry.mutation(description="Adds a category of data subjects.")
    async def add_subject_category(
        self, info: Info, key: str, name: str, description: str | None = None
    ) -> SubjectCategoryPayload:
        subject, errors = await run(
            info,
            lambda s: service.add_subject_category(
                session=s, actor=info.context.actor, key=key, name=name, description=description
            ),
        )
        built = loaders.subject_object(subject) if subject is not None else None
        return SubjectCategoryPayload(subject_category=built, errors=errors)

    @strawberry.mutation(description="The activity no longer processes a data category.")
    async def detach_data_category(
        self, info: Info, activity: str, category: str, reason: str | None = None
    ) -> ActivityPayload:
        _, errors = await run(
            info,
            lambda s: service.detach_data_category(
                session=s,
                actor=info.context.actor,
                activity_slug=activity,
                category_key=category,
                reason=reason,
            ),
        )
        return await _activity_payload(info, activity, errors)

    @strawberry.mutation(
        description="How long the activity keeps a data category: a criterion always, days if"
        " any (R-INV-6)."
    )
    async def update_retention(
        self,
        info: Info,
        activity: str,
        category: str,
        retention_criterion: str,
        retention_days: int | None = None,
        reason: str | None = None,
    ) -> ActivityPayload:
        _, errors = await run(
            info,
            lambda s: service.update_retention(
                session=s,
                actor=info.context.actor,
                activity_slug=activity,
                category_key=category,
                retention_criterion=retention_criterion,
                retention_days=retention_days,
                reason=reason,
            ),
        )
        return await _activity_payload(info, activity, errors)


async def _activity_payload(info: Info, slug: str, errors: list[ErrorType]) -> ActivityPayload:
    if errors:
        return ActivityPayload(activity=None, errors=errors)
    facts = await record.load_activity_facts(info.context.session)
    wanted = [f for f in facts.values() if f.activity.slug == slug]
    sel = selection_of(info.selected_fields).at("activity")
    built = await loaders.activities(info.context, wanted, sel)
    return ActivityPayload(activity=built[0] if built else None, errors=[])
