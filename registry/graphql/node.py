"""`node(id:)`: any object by its global ID, authorised as its own query would be."""

from __future__ import annotations

import strawberry
from sqlalchemy import select
from sqlmodel import col

from registry.access.policy import Action
from registry.countries import AdequacyDecision
from registry.graphql.context import Info
from registry.graphql.relay import KEYS, Node, parse_global_id
from registry.graphql.selection import Selection, selection_of
from registry.record.history.graphql import change_objects
from registry.record.history.models import Change
from registry.record.history.service import batches_by_id
from registry.record.inventory import loaders as inventory
from registry.record.transfers import loaders as transfers
from registry.record.transfers.models import Transfer


async def _load(info: Info, type_name: str, key: int, sel: Selection) -> Node | None:
    ctx = info.context
    if key not in KEYS:
        return None
    if type_name == "Entity":
        return (await inventory.entities_by_id(ctx, [key], sel)).get(key)
    if type_name == "Activity":
        return (await inventory.activities_by_id(ctx, [key], sel)).get(key)
    if type_name == "Transfer":
        rows = (await ctx.session.scalars(select(Transfer).where(col(Transfer.id) == key))).all()
        built = await transfers.transfers(ctx, rows, sel)
        return built[0] if built else None
    if type_name == "AdequacyDecision":
        ctx.require(Action.TRANSFERS_READ)
        found = await ctx.session.get(AdequacyDecision, key)
        return transfers.decision_objects([found], sel)[0] if found else None
    if type_name == "Change":
        ctx.require(Action.HISTORY_READ)
        change = await ctx.session.get(Change, key)
        if change is None:
            return None
        batch_ids = [change.import_batch_id] if change.import_batch_id is not None else []
        batches = await batches_by_id(ctx.session, batch_ids)
        return change_objects([change], True, batches)[0]
    return None


@strawberry.type
class NodeQuery:
    @strawberry.field(description="Any object by its global ID.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, key = parse_global_id(id)
        sel = selection_of(info.selected_fields)
        sel.fields.setdefault("id", Selection())
        return await _load(info, type_name, key, sel)
