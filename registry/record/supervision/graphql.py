"""GraphQL of the supervisory authorities and the controllers' entries: thin wiring over the
service."""

from __future__ import annotations

from typing import Annotated

import strawberry

from registry._edits import drafted
from registry.graphql.context import Info
from registry.graphql.errors import ErrorType
from registry.graphql.mutations import given_fields, run
from registry.record.supervision import service
from registry.record.supervision.models import (
    AuthorityRole,
    SupervisoryAuthority,
    SupervisoryAuthorityDraft,
)
from registry.record.supervision.types import ControllerAuthorityType, SupervisoryAuthorityType

ROLE = "LEAD: the lead authority (Art. 56); COMPLAINT: where a complaint goes (Art. 77)."


@strawberry.input
class AddSupervisoryAuthorityInput:
    slug: str
    name: str
    country_code: str
    address: str | None = None
    website: str | None = None
    contact: str | None = None
    verified: bool = False
    note: str | None = None


@strawberry.input(description="Only the fields given are changed; null clears a field.")
class UpdateSupervisoryAuthorityInput:
    name: str | None = strawberry.UNSET
    country_code: str | None = strawberry.UNSET
    address: str | None = strawberry.UNSET
    website: str | None = strawberry.UNSET
    contact: str | None = strawberry.UNSET
    verified: bool | None = strawberry.UNSET
    note: str | None = strawberry.UNSET


@strawberry.type
class SupervisoryAuthorityPayload:
    supervisory_authority: SupervisoryAuthorityType | None
    errors: list[ErrorType]


@strawberry.type
class ControllerAuthorityPayload:
    controller_authority: ControllerAuthorityType | None
    errors: list[ErrorType]


def _authority_payload(
    found: SupervisoryAuthority | None, errors: list[ErrorType]
) -> SupervisoryAuthorityPayload:
    built = SupervisoryAuthorityType.of(found) if found is not None else None
    return SupervisoryAuthorityPayload(supervisory_authority=built, errors=errors)


@strawberry.type
class SupervisionQuery:
    @strawberry.field(description="The supervisory authorities on record, by slug.")
    async def supervisory_authorities(self, info: Info) -> list[SupervisoryAuthorityType]:
        ctx = info.context
        rows = await service.list_authorities(session=ctx.session, actor=ctx.actor)
        return [SupervisoryAuthorityType.of(row) for row in rows]


@strawberry.type
class SupervisionMutation:
    @strawberry.mutation(description="Adds a supervisory authority.")
    async def add_supervisory_authority(
        self, info: Info, input: AddSupervisoryAuthorityInput
    ) -> SupervisoryAuthorityPayload:
        fields = given_fields(input)
        found, errors = await run(
            info,
            lambda s: service.add_authority(
                session=s,
                actor=info.context.actor,
                draft=drafted(SupervisoryAuthorityDraft, fields),
            ),
        )
        return _authority_payload(found, errors)

    @strawberry.mutation(description="Changes a supervisory authority; never its slug.")
    async def update_supervisory_authority(
        self,
        info: Info,
        slug: str,
        input: UpdateSupervisoryAuthorityInput,
        reason: str | None = None,
    ) -> SupervisoryAuthorityPayload:
        changes = given_fields(input)
        found, errors = await run(
            info,
            lambda s: service.update_authority(
                session=s, actor=info.context.actor, slug=slug, changes=changes, reason=reason
            ),
        )
        return _authority_payload(found, errors)

    @strawberry.mutation(
        description="Names the authority that stands to a controller in a role, or with a note"
        " and no authority the rule that names it; replaces what was there."
    )
    async def set_controller_authority(
        self,
        info: Info,
        controller: str,
        role: Annotated[AuthorityRole, strawberry.argument(description=ROLE)],
        authority: str | None = None,
        note: str | None = None,
        reason: str | None = None,
    ) -> ControllerAuthorityPayload:
        found, errors = await run(
            info,
            lambda s: service.set_controller_authority(
                session=s,
                actor=info.context.actor,
                controller_slug=controller,
                role=role,
                authority_slug=authority,
                note=note,
                reason=reason,
            ),
        )
        if found is None:
            return ControllerAuthorityPayload(controller_authority=None, errors=errors)
        built = ControllerAuthorityType(
            role=found.role,
            authority=SupervisoryAuthorityType.of(found.authority) if found.authority else None,
            note=found.note,
        )
        return ControllerAuthorityPayload(controller_authority=built, errors=errors)

    @strawberry.mutation(
        description="Takes a controller's entry in a role off the record; a controller without"
        " a lead authority is a gap of its record (R-INV-5)."
    )
    async def clear_controller_authority(
        self, info: Info, controller: str, role: AuthorityRole, reason: str | None = None
    ) -> ControllerAuthorityPayload:
        _, errors = await run(
            info,
            lambda s: service.clear_controller_authority(
                session=s,
                actor=info.context.actor,
                controller_slug=controller,
                role=role,
                reason=reason,
            ),
        )
        return ControllerAuthorityPayload(controller_authority=None, errors=errors)
