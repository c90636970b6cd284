"""GraphQL queries and mutations of transfers: thin wiring over the services."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import strawberry
from sqlalchemy import select
from sqlmodel import col

from registry._edits import drafted
from registry.access.policy import Action
from registry.graphql.context import Info
from registry.graphql.errors import ErrorType
from registry.graphql.mutations import capped, given_fields, run
from registry.graphql.relay import Connection, connection, page
from registry.graphql.selection import selection_of
from registry.record.history import service as history
from registry.record.past.graphql import AS_OF, context_as_of
from registry.record.transfers import loaders, service
from registry.record.transfers.models import Mechanism, Transfer
from registry.record.transfers.types import TransferType


@strawberry.input
class TransferFilter:
    activity: str | None = None
    exporter: str | None = None
    importer: str | None = None
    destination_country: str | None = None
    mechanism: Mechanism | None = None
    include_ended: bool = True


@strawberry.input
class CreateTransferInput:
    activity: str
    exporter: str
    importer: str
    mechanism: Mechanism
    destination_country_code: str | None = strawberry.field(
        default=None, description="Defaults to the importer's country."
    )
    scc_module: int | None = None
    adequacy_decision: str | None = None
    derogation: str | None = None
    signed_on: date | None = None
    tia_reference: str | None = None
    tia_date: date | None = None
    supplementary_measures: str | None = None
    note: str | None = None
    ended_on: date | None = strawberry.field(
        default=None, description="A transfer that has ended already, recorded for the history."
    )
    data_categories: list[str] | None = None
    slug: str | None = strawberry.field(default=None, description="Defaults to exporter--importer.")


@strawberry.input(description="Only the fields given are changed; null clears a field.")
class UpdateTransferInput:
    destination_country_code: str | None = strawberry.UNSET
    mechanism: Mechanism | None = strawberry.UNSET
    scc_module: int | None = strawberry.UNSET
    adequacy_decision: str | None = strawberry.UNSET
    derogation: str | None = strawberry.UNSET
    signed_on: date | None = strawberry.UNSET
    tia_reference: str | None = strawberry.UNSET
    tia_date: date | None = strawberry.UNSET
    supplementary_measures: str | None = strawberry.UNSET
    note: str | None = strawberry.UNSET
    ended_on: date | None = strawberry.UNSET
    data_categories: list[str] | None = strawberry.UNSET


@strawberry.type
class TransferPayload:
    transfer: TransferType | None
    errors: list[ErrorType]


# GraphQL names its inputs after the records they point at; the service, after their slugs.
_RENAMED = {"adequacy_decision": "adequacy_decision_slug", "data_categories": "data_category_keys"}


def _service_fields(data: object) -> dict[str, Any]:
    fields = {_RENAMED.get(k, k): v for k, v in given_fields(data).items()}
    if "data_category_keys" in fields:
        keys = capped(fields["data_category_keys"], "data_categories")
        fields["data_category_keys"] = tuple(keys)
    return fields


@strawberry.type
class TransfersQuery:
    @strawberry.field(description="Transfer records in a stable order, a page at a time.")
    async def transfers(
        self,
        info: Info,
        filter: TransferFilter | None = None,
        first: int = 50,
        after: str | None = None,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
        updated_since: Annotated[
            datetime | None,
            strawberry.argument(description="Only transfers with a change at or after this time."),
        ] = None,
    ) -> Connection[TransferType]:
        history.refuse_updated_since_as_of(updated_since, as_of)
        async with context_as_of(info.context, as_of, Action.TRANSFERS_READ) as ctx:
            window = page(first, after, limit=ctx.settings.max_page_size)
            flt = filter or TransferFilter()
            rows = await service.list_transfers(
                session=ctx.session,
                actor=ctx.actor,
                flt=service.TransferFilter(
                    activity_slug=flt.activity,
                    exporter_slug=flt.exporter,
                    importer_slug=flt.importer,
                    destination_country_code=flt.destination_country,
                    mechanism=flt.mechanism,
                    include_ended=flt.include_ended,
                    on=ctx.day,
                    updated_since=updated_since,
                ),
                after_id=window.after,
                limit=window.fetch,
            )
            shown, more = window.split(rows)
            nodes = await loaders.transfers(
                ctx, shown, selection_of(info.selected_fields).connection_nodes()
            )
        return connection(nodes, [r.id for r in shown], has_next_page=more)

    @strawberry.field
    async def transfer(
        self,
        info: Info,
        slug: str,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> TransferType | None:
        async with context_as_of(info.context, as_of, Action.TRANSFERS_READ) as ctx:
            query = select(Transfer).where(col(Transfer.slug) == slug)
            rows = (await ctx.session.scalars(query)).all()
            built = await loaders.transfers(ctx, rows, selection_of(info.selected_fields))
        return built[0] if built else None


async def _payload(
    info: Info, transfer: Transfer | None, errors: list[ErrorType]
) -> TransferPayload:
    if transfer is None:
        return TransferPayload(transfer=None, errors=errors)
    sel = selection_of(info.selected_fields).at("transfer")
    built = await loaders.transfers(info.context, [transfer], sel)
    return TransferPayload(transfer=built[0], errors=errors)


@strawberry.type
class TransfersMutation:
    @strawberry.mutation(
        description="Records a transfer; its safeguard is checked (R-INV-2, R-INV-3, R-INV-7)."
    )
    async def create_transfer(self, info: Info, input: CreateTransferInput) -> TransferPayload:
        fields = _service_fields(input)
        fields["activity_slug"] = fields.pop("activity")
        fields["exporter_slug"] = fields.pop("exporter")
        fields["importer_slug"] = fields.pop("importer")
        transfer, errors = await run(
            info,
            lambda s: service.create_transfer(
                session=s,
                actor=info.context.actor,
                draft=drafted(service.TransferDraft, fields),
            ),
        )
        return await _payload(info, transfer, errors)

    @strawberry.mutation(description="Changes a transfer; the whole record is checked again.")
    async def update_transfer(
        self, info: Info, slug: str, input: UpdateTransferInput, reason: str | None = None
    ) -> TransferPayload:
        changes = _service_fields(input)
        transfer, errors = await run(
            info,
            lambda s: service.update_transfer(
                session=s, actor=info.context.actor, slug=slug, changes=changes, reason=reason
            ),
        )
        return await _payload(info, transfer, errors)
