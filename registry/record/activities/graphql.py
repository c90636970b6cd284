"""GraphQL mutations editing the processing activities: thin wiring over their service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from registry._edits import drafted
from registry.graphql.context import Info
from registry.graphql.mutations import given_fields, run
from registry.graphql.selection import selection_of
from registry.record import answers as record
from registry.record.activities import service
from registry.record.inventory import loaders
from registry.record.inventory.graphql import ActivityPayload
from registry.record.inventory.models import ActivityDraft, DpiaStatus, LegalBasis


@strawberry.input
class CreateActivityInput:
    slug: str
    name: str
    description: str
    source: str
    automated_decisions: str
    arrangement_summary: str = strawberry.field(
        description="The essence of the Art. 26 joint-controller arrangement."
    )
    transfer_summary: str
    operations: list[str] = strawberry.field(default_factory=list)
    recipient_categories: list[str] = strawberry.field(default_factory=list)
    dpia_status: DpiaStatus = DpiaStatus.NOT_ASSESSED
    dpia_reference: str | None = None
    lia_reference: str | None = None
    notice_last_updated: str | None = strawberry.field(
        default=None, description="When the source notice was last updated (e.g. 2022-08)."
    )
    notice_authoritative_language: str | None = strawberry.field(
        default=None, description="The language whose version of the notice governs."
    )
    platform: str | None = strawberry.field(
        default=None, description="The platform through which the data is processed."
    )


@strawberry.input(description="Only the fields given are changed; null clears a field.")
class UpdateActivityInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    source: str | None = strawberry.UNSET
    automated_decisions: str | None = strawberry.UNSET
    arrangement_summary: str | None = strawberry.UNSET
    transfer_summary: str | None = strawberry.UNSET
    operations: list[str] | None = strawberry.UNSET
    dpia_status: DpiaStatus | None = strawberry.UNSET
    dpia_reference: str | None = strawberry.UNSET
    lia_reference: str | None = strawberry.UNSET
    notice_last_updated: str | None = strawberry.UNSET
    notice_authoritative_language: str | None = strawberry.UNSET
    platform: str | None = strawberry.UNSET


@strawberry.input(description="Only the fields given are changed; null clears the description.")
class UpdatePurposeInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET


@strawberry.input
class SecurityMeasureInput:
    key: str
    description: str
    enforced_by_software: bool
    contract_reference: str | None = strawberry.field(
        default=None, description="The contract binding the party that takes the measure."
    )


Work = Callable[[AsyncSession], Awaitable[Any]]


async def _edit(info: Info, slug: str, work: Work) -> ActivityPayload:
    _, errors = await run(info, work)
    if errors:
        return ActivityPayload(activity=None, errors=errors)
    facts = await record.load_activity_facts(info.context.session)
    wanted = [f for f in facts.values() if f.activity.slug == slug]
    sel = selection_of(info.selected_fields).at("activity")
    built = await loaders.activities(info.context, wanted, sel)
    return ActivityPayload(activity=built[0] if built else None, errors=[])


@strawberry.type
class ActivitiesMutation:
    @strawberry.mutation(description="Records a new processing activity.")
    async def create_activity(self, info: Info, input: CreateActivityInput) -> ActivityPayload:
        given = given_fields(input)
        return await _edit(
            info,
            input.slug,
            lambda s: service.create_activity(
                session=s, actor=info.context.actor, draft=drafted(ActivityDraft, given)
            ),
        )

    @strawberry.mutation(description="Changes an activity's own facts; its slug stays.")
    async def update_activity(
        self, info: Info, slug: str, input: UpdateActivityInput, reason: str | None = None
    ) -> ActivityPayload:
        changes = given_fields(input)
        return await _edit(
            info,
            slug,
            lambda s: service.update_activity(
                session=s, actor=info.context.actor, slug=slug, changes=changes, reason=reason
            ),
        )

    @strawberry.mutation(
        description="Retires an activity from today: it leaves every answer; record and"
        " history stay."
    )
    async def retire_activity(self, info: Info, slug: str, reason: str) -> ActivityPayload:
        return await _edit(
            info,
            slug,
            lambda s: service.retire_activity(
                session=s, actor=info.context.actor, slug=slug, reason=reason
            ),
        )

    @strawberry.mutation
    async def add_purpose(
        self, info: Info, activity: str, key: str, name: str, description: str | None = None
    ) -> ActivityPayload:
        return await _edit(
            info,
            activity,
            lambda s: service.add_purpose(
                session=s,
                actor=info.context.actor,
                activity_slug=activity,
                key=key,
                name=name,
                description=description,
            ),
        )

    @strawberry.mutation(description="Renames or redescribes a purpose; its key stays.")
    async def update_purpose(
        self,
        info: Info,
        activity: str,
        key: str,
        input: UpdatePurposeInput,
        reason: str | None = None,
    ) -> ActivityPayload:
        changes = given_fields(input)
        return await _edit(
            info,
            activity,
            lambda s: service.update_purpose(
                session=s,
                actor=info.context.actor,
                activity_slug=activity,
                key=key,
                changes=changes,
                reason=reason,
            ),
        )

    @strawberry.mutation(
        description="Removes a purpose and its legal bases; an activity keeps at least one."
    )
    async def remove_purpose(
        self, info: Info, activity: str, key: str, reason: str | None = None
    ) -> ActivityPayload:
        return await _edit(
            info,
            activity,
            lambda s: service.remove_purpose(
                session=s, actor=info.context.actor, activity_slug=activity, key=key, reason=reason
            ),
        )

    @strawberry.mutation(
        description="Sets a purpose's legal basis for one of the activity's subject categories."
    )
    async def set_legal_basis(
        self,
        info: Info,
        activity: str,
        purpose: str,
        subject_category: str,
        legal_basis: LegalBasis,
        note: str | None = None,
        reason: str | None = None,
    ) -> ActivityPayload:
        return await _edit(
            info,
            activity,
            lambda s: service.set_legal_basis(
                session=s,
                actor=info.context.actor,
                activity_slug=activity,
                purpose_key=purpose,
                subject_key=subject_category,
                legal_basis=legal_basis,
                note=note,
                reason=reason,
            ),
        )

    @strawberry.mutation
    async def remove_legal_basis(
        self,
        info: Info,
        activity: str,
        purpose: str,
        subject_category: str,
        reason: str | None = None,
    ) -> ActivityPayload:
        return await _edit(
            info,
            activity,
            lambda s: service.remove_legal_basis(
                session=s,
                actor=info.context.actor,
                activity_slug=activity,
                purpose_key=purpose,
                subject_key=subject_category,
                reason=reason,
            ),
        )

    @strawberry.mutation
    async def add_activity_subject(
        self, info: Info, activity: str, subject_category: str
    ) -> ActivityPayload:
        return await _edit(
            info,
            activity,
            lambda s: service.add_activity_subject(
                session=s,
                actor=info.context.actor,
                activity_slug=activity,
                subject_key=subject_category,
            ),
        )

    @strawberry.mutation(description="Refused while a legal basis names the subject category.")
    async def remove_activity_subject(
        self, info: Info, activity: str, subject_category: str, reason: str | None = None
    ) -> ActivityPayload:
        return await _edit(
            info,
            activity,
            lambda s: service.remove_activity_subject(
                session=s,
                actor=info.context.actor,
                activity_slug=activity,
                subject_key=subject_category,
                reason=reason,
            ),
        )

    @strawberry.mutation(description="Replaces the activity's security measures.")
    async def set_security_measures(
        self,
        info: Info,
        activity: str,
        measures: list[SecurityMeasureInput],
        reason: str | None = None,
    ) -> ActivityPayload:
        given = [
            service.SecurityMeasure(
                m.key, m.description, m.enforced_by_software, m.contract_reference
            )
            for m in measures
        ]
        return await _edit(
            info,
            activity,
            lambda s: service.set_security_measures(
                session=s,
                actor=info.context.actor,
                activity_slug=activity,
                measures=given,
                reason=reason,
            ),
        )

    @strawberry.mutation(description="Replaces the activity's categories of recipients.")
    async def set_recipient_categories(
        self, info: Info, activity: str, categories: list[str], reason: str | None = None
    ) -> ActivityPayload:
        return await _edit(
            info,
            activity,
            lambda s: service.set_recipient_categories(
                session=s,
                actor=info.context.actor,
                activity_slug=activity,
                categories=categories,
                reason=reason,
            ),
        )
