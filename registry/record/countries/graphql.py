"""GraphQL of countries and the Commission's adequacy decisions: thin wiring over their
services."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Annotated

import strawberry

from registry._edits import drafted
from registry.access.policy import Action
from registry.countries import AdequacyDecision, AdequacyDecisionDraft, AdequacyScope, CountryDraft
from registry.graphql.context import Info
from registry.graphql.errors import ErrorType
from registry.graphql.mutations import given_fields, run
from registry.graphql.selection import selection_of
from registry.record.countries import service
from registry.record.past.graphql import AS_OF, context_as_of
from registry.record.transfers import decisions, loaders
from registry.record.transfers.types import AdequacyDecisionType, CountryType

CODE = "ISO 3166-1 alpha-2 (GB for the United Kingdom)."
VALID_UNTIL = "The last day the decision covers; from the next day its hops are gaps."


@strawberry.input(description="Only the fields given are changed.")
class UpdateCountryInput:
    name: str | None = strawberry.UNSET
    eea: bool | None = strawberry.UNSET
    eu: bool | None = strawberry.UNSET


@strawberry.input
class CreateAdequacyDecisionInput:
    slug: str
    country_code: str
    reference: str
    scope: AdequacyScope
    scope_note: str | None = None
    adopted_on: date | None = None
    valid_until: date | None = strawberry.field(default=None, description=VALID_UNTIL)
    source: str | None = strawberry.field(
        default=None, description="Where it is published: its Official Journal reference or URL."
    )
    verified: bool = False
    note: str | None = None


@strawberry.input(description="Only the fields given are changed; null clears a field.")
class UpdateAdequacyDecisionInput:
    reference: str | None = strawberry.UNSET
    scope: AdequacyScope | None = strawberry.UNSET
    scope_note: str | None = strawberry.UNSET
    adopted_on: date | None = strawberry.UNSET
    valid_until: date | None = strawberry.field(default=strawberry.UNSET, description=VALID_UNTIL)
    source: str | None = strawberry.UNSET
    verified: bool | None = strawberry.UNSET
    note: str | None = strawberry.UNSET


@strawberry.type
class CountryPayload:
    country: CountryType | None
    errors: list[ErrorType]


@strawberry.type
class AdequacyDecisionPayload:
    adequacy_decision: AdequacyDecisionType | None
    errors: list[ErrorType]


@strawberry.type
class CountriesQuery:
    @strawberry.field(description="Countries, with EEA and EU membership and adequacy decisions.")
    async def countries(
        self,
        info: Info,
        eea: bool | None = None,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> list[CountryType]:
        async with context_as_of(info.context, as_of, Action.TRANSFERS_READ) as ctx:
            rows = await service.list_countries(session=ctx.session, actor=ctx.actor, eea=eea)
            built = await loaders.countries(ctx, selection_of(info.selected_fields))
        return [built[row.code] for row in rows]


@strawberry.type
class CountriesMutation:
    @strawberry.mutation(description="Adds a country, known by its ISO 3166-1 alpha-2 code.")
    async def add_country(
        self,
        info: Info,
        code: Annotated[str, strawberry.argument(description=CODE)],
        name: str,
        eea: bool = False,
        eu: bool = False,
    ) -> CountryPayload:
        draft = CountryDraft(code=code, name=name, eea=eea, eu=eu)
        country, errors = await run(
            info, lambda s: service.add_country(session=s, actor=info.context.actor, draft=draft)
        )
        return await _country_payload(info, country.code if country else None, errors)

    @strawberry.mutation(description="Changes a country's name or memberships; never its code.")
    async def update_country(
        self, info: Info, code: str, input: UpdateCountryInput, reason: str | None = None
    ) -> CountryPayload:
        changes = given_fields(input)
        country, errors = await run(
            info,
            lambda s: service.update_country(
                session=s, actor=info.context.actor, code=code, changes=changes, reason=reason
            ),
        )
        return await _country_payload(info, country.code if country else None, errors)

    @strawberry.mutation(
        description="Records an adequacy decision of the Commission (Art. 45) for a country; "
        "flows are judged by it from its adoption to its last day (R-INV-2, R-INV-7)."
    )
    async def create_adequacy_decision(
        self, info: Info, input: CreateAdequacyDecisionInput
    ) -> AdequacyDecisionPayload:
        fields = given_fields(input)
        decision, errors = await run(
            info,
            lambda s: decisions.create_adequacy_decision(
                session=s,
                actor=info.context.actor,
                draft=drafted(AdequacyDecisionDraft, fields),
            ),
        )
        return _decision_payload(info, decision, errors)

    @strawberry.mutation(
        description="Changes what the record keeps of an adequacy decision (a renewal moves "
        "validUntil); the change is kept in the history (R-INV-4)."
    )
    async def update_adequacy_decision(
        self,
        info: Info,
        slug: str,
        input: UpdateAdequacyDecisionInput,
        reason: str | None = None,
    ) -> AdequacyDecisionPayload:
        changes = given_fields(input)
        decision, errors = await run(
            info,
            lambda s: decisions.update_adequacy_decision(
                session=s, actor=info.context.actor, slug=slug, changes=changes, reason=reason
            ),
        )
        return _decision_payload(info, decision, errors)


async def _country_payload(info: Info, code: str | None, errors: list[ErrorType]) -> CountryPayload:
    if code is None:
        return CountryPayload(country=None, errors=errors)
    # The request's countries may have been loaded before the change: read them again.
    fresh = dataclasses.replace(info.context, _countries=None)
    built = await loaders.countries(fresh, selection_of(info.selected_fields).at("country"))
    return CountryPayload(country=built[code], errors=errors)


def _decision_payload(
    info: Info, decision: AdequacyDecision | None, errors: list[ErrorType]
) -> AdequacyDecisionPayload:
    if decision is None:
        return AdequacyDecisionPayload(adequacy_decision=None, errors=errors)
    sel = selection_of(info.selected_fields).at("adequacyDecision")
    built = loaders.decision_objects([decision], sel)
    return AdequacyDecisionPayload(adequacy_decision=built[0], errors=errors)
