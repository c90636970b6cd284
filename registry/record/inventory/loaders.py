"""Builds entity, activity and record objects for exactly what a query selects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import aliased
from sqlmodel import col
from strawberry.utils.str_converters import to_snake_case

from registry.access.policy import Action
from registry.graphql.context import Context
from registry.graphql.loading import UNLOADED, chunks, grouped, id_maker
from registry.graphql.selection import Selection
from registry.graphql.shape import Relation, Shape, column_rows, values_of
from registry.record import graph
from registry.record.answers import (
    ActivityFacts,
    ControllerRecord,
    EntityGap,
    Processing,
    ProcessorRecord,
    PurposeWithBases,
    Retention,
    RetentionGap,
    entity_gaps,
    load_activity_facts,
)
from registry.record.graph import Flow
from registry.record.inventory.models import (
    ActivityParty,
    DataCategory,
    Engagement,
    Entity,
    PartyRole,
    SubjectCategory,
)
from registry.record.inventory.types import (
    ActivityType,
    ControllerRecordType,
    DataCategoryType,
    EntityGapType,
    EntityType,
    LegalBasisForType,
    ProcessingType,
    ProcessorRecordType,
    PurposeType,
    RetentionGapType,
    RetentionType,
    SecurityMeasureType,
    SubjectCategoryType,
)
from registry.record.supervision import loaders as supervision
from registry.record.transfers import loaders as transfers
from registry.record.transfers.types import FlowType

ENTITY = Shape(EntityType, Entity)
GAP_COLUMNS = ("kind", "registered_office", "verified", "contact", "verification_note")


def entity_column_names(sel: Selection) -> list[str]:
    """What ``entities`` needs of a row for ``sel``: the selected columns and relations' keys."""
    extra = [*GAP_COLUMNS] if "gaps" in sel else []
    if "country" in sel:
        extra.append("country_code")
    return ENTITY.select_names(sel, extra)


def entity_columns(sel: Selection) -> list[ColumnElement[Any]]:
    return [getattr(Entity, name) for name in entity_column_names(sel)]


# An entity's transfers out and in: those it exports and those it imports.
_TRANSFER_SIDES: tuple[tuple[str, transfers.PartyKey], ...] = (
    ("transfersOut", "exporter_id"),
    ("transfersIn", "importer_id"),
)


async def entities(ctx: Context, rows: Sequence[Any], sel: Selection) -> list[EntityType]:
    """Entity objects from ORM rows or column rows holding what ``entity_columns`` names."""
    ctx.require(Action.INVENTORY_READ)
    ids = values_of(rows, "id")
    relations: dict[str, Relation] = {}
    if (country_sel := sel.get("country")) is not None:
        country_map = await transfers.countries(ctx, country_sel)
        relations["country"] = Relation("country_code", country_map.__getitem__)
    for field, key in _TRANSFER_SIDES:
        if (transfer_sel := sel.get(field)) is not None:
            found = await transfers.transfers_grouped_by(ctx, key, ids, transfer_sel)
            relations[to_snake_case(field)] = _by_id(found)
    for field, by_processor in (("subProcessors", True), ("engagedBy", False)):
        if (engaged_sel := sel.get(field)) is not None:
            engaged = await _engaged(ctx, ids, engaged_sel, by_processor=by_processor)
            relations[to_snake_case(field)] = _by_id(engaged)
    if (document_sel := sel.get("documents")) is not None:
        from registry.record.documents import loaders as documents
        from registry.record.documents.models import DocumentParty

        papers = await documents.documents_grouped_by(ctx, DocumentParty, ids, document_sel)
        relations["documents"] = _by_id(papers)
    if "gaps" in sel:
        gaps = {gap.entity.id: gap.reasons for gap in entity_gaps(rows)}
        relations["gaps"] = _by_id(gaps)
    relations.update(await supervision.authority_relations(ctx, ids, sel))
    return ENTITY.build(rows, sel, relations)


def _by_id(found: Mapping[int, list[Any]]) -> Relation:
    return Relation("id", lambda key: found.get(key, []))


async def entity_rows(ctx: Context, ids: Iterable[int], sel: Selection) -> list[Any]:
    id_list = sorted(set(ids))
    columns = entity_columns(sel)
    rows: list[Any] = []
    for part in chunks(id_list):
        rows += await column_rows(ctx.session, select(*columns).where(col(Entity.id).in_(part)))
    return rows


async def entities_by_id(ctx: Context, ids: Iterable[int], sel: Selection) -> dict[int, EntityType]:
    rows = await entity_rows(ctx, ids, sel)
    return {row.id: obj for row, obj in zip(rows, await entities(ctx, rows, sel), strict=True)}


async def _engaged(
    ctx: Context, ids: Sequence[int], sel: Selection | None, *, by_processor: bool
) -> dict[int, list[EntityType]]:
    if sel is None or not ids:
        return {}
    mine, theirs = (
        (col(Engagement.processor_id), col(Engagement.sub_processor_id))
        if by_processor
        else (col(Engagement.sub_processor_id), col(Engagement.processor_id))
    )
    pairs: list[tuple[int, int]] = []
    # The other side must take part that day too: a retired sub-processor is engaged no more.
    other = aliased(Entity)
    for part in chunks(ids):
        query = (
            select(mine, theirs)
            .join(other, col(other.id) == theirs)
            .where(
                mine.in_(part),
                graph.engagement_holds(ctx.day),
                graph.entity_takes_part(ctx.day, other),
            )
        )
        pairs += (await ctx.session.execute(query.order_by(col(Engagement.id)))).all()
    others = await entities_by_id(ctx, {other for _, other in pairs}, sel)
    return grouped((own, others[other]) for own, other in pairs)


def data_category_object(row: DataCategory) -> DataCategoryType:
    return DataCategoryType(
        key=row.key,
        name=row.name,
        description=row.description,
        special_category=row.special_category,
        parent_key=row.key.rpartition(".")[0] or None,
    )


def subject_object(row: SubjectCategory) -> SubjectCategoryType:
    return SubjectCategoryType(key=row.key, name=row.name, description=row.description)


def purpose_objects(purposes: Sequence[PurposeWithBases]) -> list[PurposeType]:
    return [
        PurposeType(
            key=p.purpose.key,
            name=p.purpose.name,
            description=p.purpose.description,
            legal_bases=[
                LegalBasisForType(
                    subject_category=subject_object(b.subject_category),
                    legal_basis=b.legal_basis,
                    note=b.note,
                )
                for b in p.bases
            ],
        )
        for p in purposes
    ]


async def activities(
    ctx: Context, facts: Sequence[ActivityFacts], sel: Selection
) -> list[ActivityType]:
    ctx.require(Action.INVENTORY_READ)
    ids = [f.activity.id for f in facts]
    parties: list[tuple[int, int, PartyRole]] = []
    if "jointControllers" in sel or "processors" in sel:
        query = select(
            col(ActivityParty.activity_id), col(ActivityParty.entity_id), col(ActivityParty.role)
        )
        parties = list(
            await ctx.session.execute(
                query.where(col(ActivityParty.activity_id).in_(ids)).order_by(col(ActivityParty.id))
            )
        )
    party_objects = await entities_by_id(
        ctx, {entity for _, entity, _ in parties}, sel.merged("jointControllers", "processors")
    )
    by_role = grouped(
        ((activity, role), party_objects[entity]) for activity, entity, role in parties
    )
    make_id = id_maker("Activity", "id" in sel)
    return [
        ActivityType(
            id=make_id(f.activity.id),
            slug=f.activity.slug,
            name=f.activity.name,
            description=f.activity.description,
            source=f.activity.source,
            automated_decisions=f.activity.automated_decisions,
            arrangement_summary=f.activity.arrangement_summary,
            operations=f.activity.operations,
            recipient_categories=f.activity.recipient_categories,
            transfer_summary=f.activity.transfer_summary,
            dpia_status=f.activity.dpia_status,
            dpia_reference=f.activity.dpia_reference,
            lia_reference=f.activity.lia_reference,
            retired_on=f.activity.retired_on,
            retirement_reason=f.activity.retirement_reason,
            notice_last_updated=f.activity.notice_last_updated,
            notice_authoritative_language=f.activity.notice_authoritative_language,
            platform=f.activity.platform,
            security_measures=[
                SecurityMeasureType(
                    key=m["key"],
                    description=m["description"],
                    enforced_by_software=bool(m.get("enforced_by_software")),
                    contract_reference=m.get("contract_reference"),
                )
                for m in f.activity.security_measures
            ],
            subject_categories=[subject_object(s) for s in f.subjects],
            data_categories=[retention_object(r) for r in f.retention],
            purposes=purpose_objects(f.purposes),
            joint_controllers=by_role.get((f.activity.id, PartyRole.JOINT_CONTROLLER), []),
            processors=by_role.get((f.activity.id, PartyRole.PROCESSOR), []),
        )
        for f in facts
    ]


async def activities_by_id(
    ctx: Context, ids: Iterable[int], sel: Selection
) -> dict[int, ActivityType]:
    all_facts = await load_activity_facts(ctx.session)
    wanted = [all_facts[i] for i in sorted(set(ids)) if i in all_facts]
    return {
        f.activity.id: obj
        for f, obj in zip(wanted, await activities(ctx, wanted, sel), strict=True)
    }


async def processings(
    ctx: Context, items: Sequence[Processing], sel: Selection
) -> list[ProcessingType]:
    entity_map = await _entity_map(ctx, [p.entity for p in items], sel.get("entity"))
    activity_map = (
        await activities_by_id(ctx, {p.facts.activity.id for p in items}, activity_sel)
        if (activity_sel := sel.get("activity")) is not None
        else {}
    )
    path_sel = sel.get("paths")
    hops = [flow for p in items for path in p.paths for flow in path] if path_sel else []
    built = iter(await transfers.flows(ctx, hops, path_sel) if path_sel else [])
    return [
        ProcessingType(
            entity=entity_map.get(p.entity.id, UNLOADED),
            role=p.role,
            activity=activity_map.get(p.facts.activity.id, UNLOADED),
            purposes=purpose_objects(p.purposes),
            paths=[[next(built) for _ in path] for path in p.paths] if path_sel else [],
        )
        for p in items
    ]


async def _entity_map(
    ctx: Context, rows: Sequence[Entity], sel: Selection | None
) -> dict[int, EntityType]:
    if sel is None:
        return {}
    unique = list({row.id: row for row in rows}.values())
    return {row.id: obj for row, obj in zip(unique, await entities(ctx, unique, sel), strict=True)}


async def gap_objects(
    ctx: Context, gaps: Sequence[EntityGap], sel: Selection
) -> list[EntityGapType]:
    entity_map = await _entity_map(ctx, [g.entity for g in gaps], sel.get("entity"))
    return [
        EntityGapType(entity=entity_map.get(g.entity.id, UNLOADED), reasons=g.reasons, note=g.note)
        for g in gaps
    ]


def retention_object(retention: Retention) -> RetentionType:
    return RetentionType(
        data_category=data_category_object(retention.data_category),
        days=retention.days,
        criterion=retention.criterion,
        stated=retention.stated,
    )


def retention_gap_objects(gaps: Sequence[RetentionGap]) -> list[RetentionGapType]:
    return [
        RetentionGapType(activity=g.activity.slug, retention=retention_object(g.retention))
        for g in gaps
    ]


async def _activity_list(
    ctx: Context, facts: Sequence[ActivityFacts], sel: Selection | None
) -> list[ActivityType]:
    return await activities(ctx, facts, sel) if sel is not None else []


async def _flows(ctx: Context, items: Sequence[Flow], sel: Selection | None) -> list[FlowType]:
    return await transfers.flows(ctx, items, sel) if sel is not None else []


async def controller_record(
    ctx: Context, record: ControllerRecord, sel: Selection
) -> ControllerRecordType:
    people = [record.controller, *record.joint_controllers, *record.recipients]
    entity_map = await _entity_map(
        ctx, people, sel.merged("controller", "jointControllers", "recipients")
    )
    return ControllerRecordType(
        controller=entity_map.get(record.controller.id, UNLOADED),
        contact=record.contact,
        joint_controllers=[entity_map[e.id] for e in record.joint_controllers]
        if entity_map
        else [],
        activities=await _activity_list(ctx, record.activities, sel.get("activities")),
        recipients=[entity_map[e.id] for e in record.recipients] if entity_map else [],
        transfers=await _flows(ctx, record.transfers, sel.get("transfers")),
        gaps=await gap_objects(ctx, record.gaps, sel.get("gaps") or Selection()),
        retention_gaps=retention_gap_objects(record.retention_gaps),
    )


async def processor_record(
    ctx: Context, record: ProcessorRecord, sel: Selection
) -> ProcessorRecordType:
    people = [record.processor, *record.controllers, *record.sub_processors]
    entity_map = await _entity_map(
        ctx, people, sel.merged("processor", "controllers", "subProcessors")
    )
    return ProcessorRecordType(
        processor=entity_map.get(record.processor.id, UNLOADED),
        controllers=[entity_map[e.id] for e in record.controllers] if entity_map else [],
        activities=await _activity_list(ctx, record.activities, sel.get("activities")),
        sub_processors=[entity_map[e.id] for e in record.sub_processors] if entity_map else [],
        transfers=await _flows(ctx, record.transfers, sel.get("transfers")),
        gaps=await gap_objects(ctx, record.gaps, sel.get("gaps") or Selection()),
    )
