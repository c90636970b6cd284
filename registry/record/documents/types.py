"""GraphQL types of the documents the record refers to."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import strawberry

import registry.graphql.enums  # noqa: F401  (registers the enums)
from registry.graphql.relay import Node
from registry.record.documents.models import DocumentKind, DocumentRole

if TYPE_CHECKING:
    from registry.record.inventory.types import EntityType
    from registry.record.transfers.types import TransferType

EntityRef = Annotated["EntityType", strawberry.lazy("registry.record.inventory.types")]
TransferRef = Annotated["TransferType", strawberry.lazy("registry.record.transfers.types")]


@strawberry.type(name="DocumentParty", description="A party to a document, in its role there.")
class DocumentPartyType:
    entity: EntityRef
    role: DocumentRole


@strawberry.type(
    name="Document",
    description="A document kept elsewhere (contract, DPA, signed SCCs, TIA), as the record"
    " refers to it: where it is, when signed, between whom, what it covers.",
)
class DocumentType(Node):
    slug: str
    kind: DocumentKind
    title: str
    location: str | None = strawberry.field(
        description="Where it is kept: a document system's reference or a URL."
    )
    signed_on: date | None
    effective_from: date | None
    expires_on: date | None = strawberry.field(description="The first day it no longer holds.")
    scc_module: int | None
    note: str | None
    withdrawn_on: date | None = strawberry.field(
        description="The first day it no longer holds, having been withdrawn."
    )
    parties: list[DocumentPartyType]
    transfers: list[TransferRef] = strawberry.field(description="The transfers it covers.")
