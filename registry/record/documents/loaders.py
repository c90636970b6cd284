"""Builds document objects for exactly what a query selects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from registry.access.policy import Action
from registry.graphql.context import Context
from registry.graphql.loading import UNLOADED, chunks, grouped
from registry.graphql.selection import Selection
from registry.graphql.shape import Relation, Shape, values_of
from registry.record.documents.models import (
    Document,
    DocumentParty,
    DocumentTransfer,
)
from registry.record.documents.types import DocumentPartyType, DocumentType
from registry.record.transfers.models import Transfer

DOCUMENT = Shape(DocumentType, Document)


async def documents(ctx: Context, rows: Sequence[Any], sel: Selection) -> list[DocumentType]:
    """Document objects from ORM rows."""
    from registry.record.inventory import loaders as inventory
    from registry.record.transfers import loaders as transfers

    ctx.require(Action.TRANSFERS_READ)
    ids = values_of(rows, "id")
    relations: dict[str, Relation] = {}
    if (party_sel := sel.get("parties")) is not None:
        links = await _links(ctx, DocumentParty, ids)
        entity_sel = party_sel.get("entity")
        found = (
            await inventory.entities_by_id(ctx, {p.entity_id for p in links}, entity_sel)
            if entity_sel is not None
            else {}
        )
        parties = grouped(
            (p.document_id, DocumentPartyType(entity=found.get(p.entity_id, UNLOADED), role=p.role))
            for p in links
        )
        relations["parties"] = Relation("id", lambda key: parties.get(key, []))
    if (transfer_sel := sel.get("transfers")) is not None:
        covers = await _links(ctx, DocumentTransfer, ids)
        transfer_rows = (
            await ctx.session.scalars(
                select(Transfer).where(col(Transfer.id).in_({c.transfer_id for c in covers}))
            )
        ).all()
        built = await transfers.transfers(ctx, transfer_rows, transfer_sel)
        by_id = {row.id: obj for row, obj in zip(transfer_rows, built, strict=True)}
        covered = grouped((c.document_id, by_id[c.transfer_id]) for c in covers)
        relations["transfers"] = Relation("id", lambda key: covered.get(key, []))
    return DOCUMENT.build(rows, sel, relations)


async def _links(
    ctx: Context, model: type[DocumentParty] | type[DocumentTransfer], ids: Sequence[int]
) -> list[Any]:
    found: list[Any] = []
    for part in chunks(ids):
        found += (
            await ctx.session.scalars(
                select(model).where(col(model.document_id).in_(part)).order_by(col(model.id))
            )
        ).all()
    return found


async def documents_grouped_by(
    ctx: Context,
    link: type[DocumentParty] | type[DocumentTransfer],
    ids: Sequence[int],
    sel: Selection | None,
) -> dict[int, list[DocumentType]]:
    """The documents naming each entity as a party, or covering each transfer, by its id."""
    if sel is None or not ids:
        return {}
    key = (
        col(DocumentParty.entity_id) if link is DocumentParty else col(DocumentTransfer.transfer_id)
    )
    pairs: list[tuple[int, Document]] = []
    for part in chunks(ids):
        rows = await ctx.session.execute(
            select(key, Document)
            .join(link, col(link.document_id) == col(Document.id))
            .where(key.in_(part))
            .distinct()
            .order_by(col(Document.id))
        )
        pairs += [(owner, document) for owner, document in rows]
    built = await documents(ctx, [document for _, document in pairs], sel)
    return grouped((owner, obj) for (owner, _), obj in zip(pairs, built, strict=True))
