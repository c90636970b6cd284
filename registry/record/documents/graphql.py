"""GraphQL queries and mutations of documents: thin wiring over the service."""

from __future__ import annotations

from datetime import date
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
from registry.record.documents import loaders, service
from registry.record.documents.models import Document, DocumentKind, DocumentRole
from registry.record.documents.types import DocumentType
from registry.record.past.graphql import AS_OF, context_as_of


@strawberry.input
class DocumentFilter:
    kind: DocumentKind | None = None
    entity: str | None = strawberry.field(default=None, description="A party's slug.")
    transfer: str | None = strawberry.field(default=None, description="A covered transfer.")
    include_withdrawn: bool = True


@strawberry.input
class DocumentPartyInput:
    entity: str
    role: DocumentRole


@strawberry.input
class AddDocumentInput:
    slug: str
    kind: DocumentKind
    title: str
    location: str | None = strawberry.field(
        default=None, description="Where it is kept: a document system's reference or a URL."
    )
    signed_on: date | None = None
    effective_from: date | None = None
    expires_on: date | None = strawberry.field(
        default=None, description="The first day it no longer holds."
    )
    scc_module: int | None = None
    note: str | None = None
    parties: list[DocumentPartyInput] | None = None
    transfers: list[str] | None = strawberry.field(
        default=None, description="The transfers it covers from the start, by slug."
    )


@strawberry.input(description="Only the fields given are changed; null clears a field.")
class UpdateDocumentInput:
    title: str | None = strawberry.UNSET
    location: str | None = strawberry.UNSET
    signed_on: date | None = strawberry.UNSET
    effective_from: date | None = strawberry.UNSET
    expires_on: date | None = strawberry.UNSET
    scc_module: int | None = strawberry.UNSET
    note: str | None = strawberry.UNSET
    parties: list[DocumentPartyInput] | None = strawberry.UNSET


@strawberry.type
class DocumentPayload:
    document: DocumentType | None
    errors: list[ErrorType]


def _service_fields(data: object) -> dict[str, Any]:
    fields = given_fields(data)
    if "parties" in fields:
        fields["parties"] = tuple(
            {"entity_slug": p.entity, "role": p.role} for p in capped(fields["parties"], "parties")
        )
    if "transfers" in fields:
        fields["transfer_slugs"] = tuple(capped(fields.pop("transfers"), "transfers"))
    return fields


async def _payload(
    info: Info, document: Document | None, errors: list[ErrorType]
) -> DocumentPayload:
    if document is None:
        return DocumentPayload(document=None, errors=errors)
    sel = selection_of(info.selected_fields).at("document")
    built = await loaders.documents(info.context, [document], sel)
    return DocumentPayload(document=built[0], errors=errors)


@strawberry.type
class DocumentsQuery:
    @strawberry.field(
        description="Documents the record refers to (contracts, DPAs, signed SCCs, TIAs)."
    )
    async def documents(
        self,
        info: Info,
        filter: DocumentFilter | None = None,
        first: int = 50,
        after: str | None = None,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> Connection[DocumentType]:
        async with context_as_of(info.context, as_of, Action.TRANSFERS_READ) as ctx:
            window = page(first, after, limit=ctx.settings.max_page_size)
            flt = filter or DocumentFilter()
            rows = await service.list_documents(
                session=ctx.session,
                actor=ctx.actor,
                flt=service.DocumentFilter(
                    kind=flt.kind,
                    entity_slug=flt.entity,
                    transfer_slug=flt.transfer,
                    include_withdrawn=flt.include_withdrawn,
                ),
                after_id=window.after,
                limit=window.fetch,
            )
            shown, more = window.split(rows)
            nodes = await loaders.documents(
                ctx, shown, selection_of(info.selected_fields).connection_nodes()
            )
        return connection(nodes, [r.id for r in shown], has_next_page=more)

    @strawberry.field
    async def document(
        self,
        info: Info,
        slug: str,
        as_of: Annotated[date | None, strawberry.argument(description=AS_OF)] = None,
    ) -> DocumentType | None:
        async with context_as_of(info.context, as_of, Action.TRANSFERS_READ) as ctx:
            rows = (
                await ctx.session.scalars(select(Document).where(col(Document.slug) == slug))
            ).all()
            built = await loaders.documents(ctx, rows, selection_of(info.selected_fields))
        return built[0] if built else None


@strawberry.type
class DocumentsMutation:
    @strawberry.mutation(description="Records a reference to a document, with its parties.")
    async def add_document(self, info: Info, input: AddDocumentInput) -> DocumentPayload:
        fields = _service_fields(input)
        document, errors = await run(
            info,
            lambda s: service.add_document(
                session=s,
                actor=info.context.actor,
                draft=drafted(service.DocumentDraft, fields),
            ),
        )
        return await _payload(info, document, errors)

    @strawberry.mutation(
        description="Changes a document; it is checked again against each transfer it covers."
    )
    async def update_document(
        self, info: Info, slug: str, input: UpdateDocumentInput, reason: str | None = None
    ) -> DocumentPayload:
        changes = _service_fields(input)
        document, errors = await run(
            info,
            lambda s: service.update_document(
                session=s, actor=info.context.actor, slug=slug, changes=changes, reason=reason
            ),
        )
        return await _payload(info, document, errors)

    @strawberry.mutation(
        description="Withdraws a document from a day (today unless given): it then counts for"
        " no transfer, and stays on record with its history."
    )
    async def withdraw_document(
        self, info: Info, slug: str, reason: str, on: date | None = None
    ) -> DocumentPayload:
        document, errors = await run(
            info,
            lambda s: service.withdraw_document(
                session=s, actor=info.context.actor, slug=slug, on=on, reason=reason
            ),
        )
        return await _payload(info, document, errors)

    @strawberry.mutation(
        description="Records that a document covers a transfer: its parties must include the"
        " transfer's exporter and importer, an SCC's module the transfer's (R-INV-3)."
    )
    async def attach_document_to_transfer(
        self, info: Info, document: str, transfer: str
    ) -> DocumentPayload:
        found, errors = await run(
            info,
            lambda s: service.attach_document(
                session=s, actor=info.context.actor, slug=document, transfer_slug=transfer
            ),
        )
        return await _payload(info, found, errors)

    @strawberry.mutation(description="Records that a document no longer covers a transfer.")
    async def detach_document_from_transfer(
        self, info: Info, document: str, transfer: str, reason: str | None = None
    ) -> DocumentPayload:
        found, errors = await run(
            info,
            lambda s: service.detach_document(
                session=s,
                actor=info.context.actor,
                slug=document,
                transfer_slug=transfer,
                reason=reason,
            ),
        )
        return await _payload(info, found, errors)
