"""Builds transfer, country and flow objects for exactly what a query selects."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import aliased
from sqlmodel import col

from registry.access.policy import Action
from registry.countries import AdequacyDecision
from registry.graphql.context import Context
from registry.graphql.loading import UNLOADED, chunks, grouped, id_maker, unique_by_id
from registry.graphql.selection import Selection
from registry.graphql.shape import Relation, Shape, column_rows, values_of
from registry.record.graph import Flow
from registry.record.inventory.models import DataCategory, Entity
from registry.record.transfers.models import Transfer, TransferDataCategory
from registry.record.transfers.types import (
    AdequacyDecisionType,
    CountryType,
    FlowType,
    TransferType,
)

if TYPE_CHECKING:
    from registry.record.inventory.types import DataCategoryType, EntityType


async def countries(ctx: Context, sel: Selection | None) -> dict[str, CountryType]:
    if sel is None:
        return {}
    rows = await ctx.countries()
    decisions: dict[str, list[AdequacyDecisionType]] = {}
    if (decision_sel := sel.get("adequacyDecisions")) is not None:
        decision_rows = (await ctx.session.scalars(select(AdequacyDecision))).all()
        built = decision_objects(decision_rows, decision_sel)
        decisions = grouped(
            (row.country_code, obj) for row, obj in zip(decision_rows, built, strict=True)
        )
    return {
        code: CountryType(
            code=row.code,
            name=row.name,
            eea=row.eea,
            eu=row.eu,
            adequacy_decisions=decisions.get(code, []),
        )
        for code, row in rows.items()
    }


def decision_objects(
    rows: Sequence[AdequacyDecision], sel: Selection
) -> list[AdequacyDecisionType]:
    make_id = id_maker("AdequacyDecision", "id" in sel)
    return [
        AdequacyDecisionType(
            id=make_id(row.id),
            slug=row.slug,
            country_code=row.country_code,
            reference=row.reference,
            scope=row.scope,
            scope_note=row.scope_note,
            adopted_on=row.adopted_on,
            valid_until=row.valid_until,
            source=row.source,
            verified=row.verified,
            note=row.note,
        )
        for row in rows
    ]


async def _decisions_by_id(
    ctx: Context, ids: set[int], sel: Selection | None
) -> dict[int, AdequacyDecisionType]:
    if sel is None or not ids:
        return {}
    rows = (
        await ctx.session.scalars(select(AdequacyDecision).where(col(AdequacyDecision.id).in_(ids)))
    ).all()
    return {row.id: obj for row, obj in zip(rows, decision_objects(rows, sel), strict=True)}


TRANSFER = Shape(TransferType, Transfer)

# The key a relation of a transfer needs, loaded when the relation is selected.
_RELATION_KEYS = {
    "exporter": "exporter_id",
    "importer": "importer_id",
    "activity": "activity_id",
    "adequacyDecision": "adequacy_decision_id",
    "destination": "destination_country_code",
}


# The parties a transfer points at: its key to each, and the alias each is joined by.
# The column by which a party's transfers are found.
PartyKey = Literal["exporter_id", "importer_id"]

_PARTIES = {
    "exporter": (col(Transfer.exporter_id), aliased(Entity, name="exporter")),
    "importer": (col(Transfer.importer_id), aliased(Entity, name="importer")),
}


def transfer_columns(sel: Selection, *extra: str) -> list[ColumnElement[Any]]:
    keys = [key for field, key in _RELATION_KEYS.items() if field in sel]
    return TRANSFER.select_list(sel, [*keys, *extra])


async def transfers(
    ctx: Context,
    rows: Sequence[Any],
    sel: Selection,
    parties: Mapping[str, Mapping[int, EntityType]] | None = None,
) -> list[TransferType]:
    """Transfer objects from ORM rows or column rows holding what ``transfer_columns`` names.

    ``parties`` holds exporters or importers already loaded, by field; others are fetched.
    """
    from registry.record.inventory import loaders as inventory

    ctx.require(Action.TRANSFERS_READ)
    relations: dict[str, Relation] = {}
    if (destination_sel := sel.get("destination")) is not None:
        country_map = await countries(ctx, destination_sel)
        relations["destination"] = Relation("destination_country_code", country_map.__getitem__)
    for field in _PARTIES:
        if (party_sel := sel.get(field)) is not None:
            key = _RELATION_KEYS[field]
            found = (parties or {}).get(field)
            if found is None:
                found = await inventory.entities_by_id(ctx, set(values_of(rows, key)), party_sel)
            relations[field] = Relation(key, found.__getitem__)
    if (activity_sel := sel.get("activity")) is not None:
        activities = await inventory.activities_by_id(
            ctx, set(values_of(rows, "activity_id")), activity_sel
        )
        relations["activity"] = Relation("activity_id", activities.__getitem__)
    if (category_sel := sel.get("dataCategories")) is not None:
        categories = await _categories(ctx, values_of(rows, "id"), category_sel)
        relations["data_categories"] = Relation("id", lambda key: categories.get(key, []))
    if (document_sel := sel.get("documents")) is not None:
        from registry.record.documents import loaders as documents
        from registry.record.documents.models import DocumentTransfer

        covering = await documents.documents_grouped_by(
            ctx, DocumentTransfer, values_of(rows, "id"), document_sel
        )
        relations["documents"] = Relation("id", lambda key: covering.get(key, []))
    if (decision_sel := sel.get("adequacyDecision")) is not None:
        decision_ids = {key for key in values_of(rows, "adequacy_decision_id") if key}
        decisions = await _decisions_by_id(ctx, decision_ids, decision_sel)
        relations["adequacy_decision"] = Relation("adequacy_decision_id", decisions.get)
    return TRANSFER.build(rows, sel, relations)


async def transfers_grouped_by(
    ctx: Context, key: PartyKey, ids: Sequence[int], sel: Selection | None
) -> dict[int, list[TransferType]]:
    """The transfers whose ``key`` (exporter or importer) is one of ``ids``, by that id."""
    from registry.record.inventory import loaders as inventory

    if sel is None or not ids:
        return {}
    column = col(getattr(Transfer, key))
    query = select(*transfer_columns(sel, key)).order_by(col(Transfer.id))
    # The selected parties come in the same statement: a second one would cost a round trip
    # and an IN list naming every party again, most of a page's loading time.
    joined = {
        field: inventory.entity_column_names(party_sel)
        for field in _PARTIES
        if (party_sel := sel.get(field)) is not None
    }
    for field, names in joined.items():
        party_key, party = _PARTIES[field]
        # The party's id is the transfer's key to it, already selected.
        query = query.join(party, col(party.id) == party_key).add_columns(
            *(getattr(party, name).label(f"{field}.{name}") for name in names if name != "id")
        )
    rows: list[Any] = []
    for part in chunks(ids):
        rows += await column_rows(ctx.session, query.where(column.in_(part)))
    parties = {
        field: await _joined_parties(ctx, rows, field, names, sel.at(field))
        for field, names in joined.items()
    }
    objects = await transfers(ctx, rows, sel, parties)
    return grouped(zip(values_of(rows, key), objects, strict=True))


async def _joined_parties(
    ctx: Context, rows: Sequence[Any], field: str, names: list[str], sel: Selection
) -> dict[int, EntityType]:
    """Each distinct party whose columns were joined into ``rows`` under ``field``."""
    from registry.record.inventory import loaders as inventory

    # Any row naming a party holds its columns: each party is built once, from one of them.
    row_of = dict(zip(values_of(rows, _RELATION_KEYS[field]), rows, strict=True))
    if not row_of:
        return {}
    others = tuple(name for name in names if name != "id")
    labels = rows[0]._fields
    # Read by position, as ``values_of`` does: by label, a row's mapping costs several
    # times as much, and a page reads a party's columns from a thousand rows.
    read = itemgetter(
        labels.index(_RELATION_KEYS[field]), *(labels.index(f"{field}.{name}") for name in others)
    )
    make = _party_rows(others)
    party_rows = (
        [make(read(row)) for row in row_of.values()] if others else [make((key,)) for key in row_of]
    )
    built = await inventory.entities(ctx, party_rows, sel)
    return dict(zip(row_of, built, strict=True))


@cache
def _party_rows(names: tuple[str, ...]) -> Callable[[Iterable[Any]], Any]:
    """Makes a row of a joined party's ``id`` and ``names``, read by attribute as ORM rows."""
    # Its fields are the selection's: a class made at run time, once for each selection.
    row: Any = namedtuple("PartyRow", ["id", *names])  # type: ignore[misc]
    make: Callable[[Iterable[Any]], Any] = row._make
    return make


async def _categories(
    ctx: Context, ids: Sequence[int], sel: Selection
) -> dict[int, list[DataCategoryType]]:
    from registry.record.inventory.loaders import data_category_object

    pairs: list[tuple[int, DataCategory]] = []
    for part in chunks(ids):
        pairs += (
            await ctx.session.execute(
                select(col(TransferDataCategory.transfer_id), DataCategory)
                .join(
                    DataCategory, col(DataCategory.id) == col(TransferDataCategory.data_category_id)
                )
                .where(col(TransferDataCategory.transfer_id).in_(part))
                .order_by(col(DataCategory.key))
            )
        ).all()
    return grouped((transfer_id, data_category_object(row)) for transfer_id, row in pairs)


async def flows(ctx: Context, items: Sequence[Flow], sel: Selection) -> list[FlowType]:
    from registry.record.inventory import loaders as inventory

    party_sel = sel.merged("exporter", "importer")
    rows = unique_by_id((e for f in items for e in (f.exporter, f.importer)), lambda e: e.id)
    parties = (
        dict(zip([r.id for r in rows], await inventory.entities(ctx, rows, party_sel), strict=True))
        if "exporter" in sel or "importer" in sel
        else {}
    )
    transfer_rows = unique_by_id((f.transfer for f in items if f.transfer), lambda t: t.id)
    transfer_map = (
        dict(
            zip(
                [t.id for t in transfer_rows],
                await transfers(ctx, transfer_rows, transfer_sel),
                strict=True,
            )
        )
        if (transfer_sel := sel.get("transfer")) is not None
        else {}
    )
    decisions = await _decisions_by_id(
        ctx,
        {f.adequacy_decision.id for f in items if f.adequacy_decision},
        sel.get("adequacyDecision"),
    )
    return [
        FlowType(
            exporter=parties.get(f.exporter.id, UNLOADED),
            importer=parties.get(f.importer.id, UNLOADED),
            destination_country_code=f.destination_code,
            safeguard=f.safeguard,
            transfer=transfer_map.get(f.transfer.id) if f.transfer else None,
            adequacy_decision=decisions.get(f.adequacy_decision.id)
            if f.adequacy_decision
            else None,
            rule_id=f.rule_id,
            reason=f.reason,
            adequacy_basis=f.adequacy_basis,
        )
        for f in items
    ]
