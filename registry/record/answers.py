"""Reading the record: who processes what, the Art. 30 records, and what they lack."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.errors import InvalidInput, NotFound
from registry.record import graph
from registry.record.graph import Flow, FlowMap, load_flow_map
from registry.record.inventory.models import (
    Activity,
    ActivityDataCategory,
    ActivityParty,
    ActivitySubject,
    DataCategory,
    Entity,
    EntityKind,
    LegalBasis,
    Purpose,
    PurposeBasis,
    SubjectCategory,
)
from registry.record.supervision.models import (
    AuthorityRole,
    ControllerAuthority,
    SupervisoryAuthority,
)
from registry.record.transfers.safeguards import Safeguard

CROSS_BORDER = frozenset({Safeguard.ADEQUACY, Safeguard.TRANSFER_MECHANISM, Safeguard.GAP})


class ProcessingRole(StrEnum):
    JOINT_CONTROLLER = "joint_controller"
    PROCESSOR = "processor"
    SUB_PROCESSOR = "sub_processor"


class EntityGapReason(StrEnum):
    NO_REGISTERED_OFFICE = "no_registered_office"
    UNVERIFIED_NAME = "unverified_name"
    NO_CONTACT = "no_contact"
    # A controller's own record names its lead supervisory authority (Art. 56).
    NO_LEAD_AUTHORITY = "no_lead_authority"


@dataclass(frozen=True)
class Basis:
    subject_category: SubjectCategory
    legal_basis: LegalBasis
    note: str | None


@dataclass(frozen=True)
class PurposeWithBases:
    purpose: Purpose
    bases: list[Basis]


@dataclass(frozen=True)
class Retention:
    data_category: DataCategory
    days: int | None
    criterion: str
    # False while the source states no retention for the category: a gap (R-INV-6).
    stated: bool = True


@dataclass
class ActivityFacts:
    """An activity with its taxonomy, purposes and retention, loaded once."""

    activity: Activity
    subjects: list[SubjectCategory] = field(default_factory=list)
    retention: list[Retention] = field(default_factory=list)
    purposes: list[PurposeWithBases] = field(default_factory=list)


@dataclass(frozen=True)
class Processing:
    """One entity processing an activity's data, and the paths by which the data reaches it."""

    entity: Entity
    role: ProcessingRole
    facts: ActivityFacts
    purposes: list[PurposeWithBases]
    paths: list[list[Flow]]


@dataclass(frozen=True)
class EntityGap:
    entity: Entity
    reasons: list[EntityGapReason]
    note: str | None


@dataclass(frozen=True)
class RetentionGap:
    """A data category of an activity whose retention is not stated (R-INV-6)."""

    activity: Activity
    retention: Retention


@dataclass(frozen=True)
class Gaps:
    transfers: list[Flow]
    entities: list[EntityGap]
    retention: list[RetentionGap] = field(default_factory=list)
    # The group's privacy contact (Art. 30(1)(a)) is not configured.
    no_privacy_contact: bool = False


@dataclass(frozen=True)
class AuthorityEntry:
    """The authority named for a controller in a role, or only the rule that names it."""

    authority: SupervisoryAuthority | None
    note: str | None


@dataclass(frozen=True)
class ControllerRecord:
    """Art. 30(1): the record a controller keeps, fields (a) to (g)."""

    controller: Entity
    # None while neither the controller nor the group has a contact on record: a gap.
    contact: str | None
    joint_controllers: list[Entity]
    activities: list[ActivityFacts]
    recipients: list[Entity]
    transfers: list[Flow]
    gaps: list[EntityGap]
    # The controller's supervisory authority per role; a role without an entry is missing.
    authorities: dict[AuthorityRole, AuthorityEntry]
    retention_gaps: list[RetentionGap] = field(default_factory=list)


@dataclass(frozen=True)
class ProcessorRecord:
    """Art. 30(2): the record a processor keeps, fields (a) to (d)."""

    processor: Entity
    controllers: list[Entity]
    activities: list[ActivityFacts]
    sub_processors: list[Entity]
    transfers: list[Flow]
    gaps: list[EntityGap]


async def load_activity_facts(session: AsyncSession) -> dict[int, ActivityFacts]:
    facts = {a.id: ActivityFacts(a) for a in (await session.scalars(select(Activity))).all()}
    subjects = {s.id: s for s in (await session.scalars(select(SubjectCategory))).all()}
    subject_links = await session.scalars(select(ActivitySubject).order_by(col(ActivitySubject.id)))
    for subject_link in subject_links.all():
        facts[subject_link.activity_id].subjects.append(subjects[subject_link.subject_category_id])
    retention = await session.execute(
        select(ActivityDataCategory, DataCategory)
        .join(DataCategory, col(DataCategory.id) == col(ActivityDataCategory.data_category_id))
        .order_by(col(DataCategory.key))
    )
    for link, category in retention:
        facts[link.activity_id].retention.append(
            Retention(
                category, link.retention_days, link.retention_criterion, link.retention_stated
            )
        )
    bases: dict[int, list[Basis]] = defaultdict(list)
    for basis in (await session.scalars(select(PurposeBasis).order_by(col(PurposeBasis.id)))).all():
        bases[basis.purpose_id].append(
            Basis(subjects[basis.subject_category_id], basis.legal_basis, basis.note)
        )
    for purpose in (await session.scalars(select(Purpose).order_by(col(Purpose.id)))).all():
        facts[purpose.activity_id].purposes.append(PurposeWithBases(purpose, bases[purpose.id]))
    return facts


def _purposes_for(facts: ActivityFacts, subject_key: str | None) -> list[PurposeWithBases]:
    if subject_key is None:
        return facts.purposes
    return [
        PurposeWithBases(p.purpose, [b for b in p.bases if b.subject_category.key == subject_key])
        for p in facts.purposes
    ]


def _matches(facts: ActivityFacts, data_category: str | None, subject: str | None) -> bool:
    if data_category is not None and not any(
        r.data_category.key == data_category or r.data_category.key.startswith(data_category + ".")
        for r in facts.retention
    ):
        return False
    return subject is None or any(s.key == subject for s in facts.subjects)


async def who_processes(
    *,
    session: AsyncSession,
    actor: Actor,
    data_category: str | None = None,
    subject_category: str | None = None,
    country_code: str | None = None,
    on: date | None = None,
) -> list[Processing]:
    """Every entity that processes the matching data on ``on`` (today unless given), in which
    role, why, and how it got there."""
    authorize(actor, Action.INVENTORY_READ)
    authorize(actor, Action.TRANSFERS_READ)
    all_facts = await load_activity_facts(session)
    await _check_keys(session, data_category, subject_category)
    matching = sorted(
        activity_id
        for activity_id, facts in all_facts.items()
        if _matches(facts, data_category, subject_category)
    )
    flows = await load_flow_map(session, on=on or clock.today(), activities=matching)
    country = country_code.upper() if country_code else None
    found: list[Processing] = []
    for activity_id in matching:
        facts = all_facts[activity_id]
        purposes = _purposes_for(facts, subject_category)
        for entity_id, role, paths in _participants(flows, activity_id):
            entity = flows.entities[entity_id]
            if country is None or entity.country_code == country:
                found.append(Processing(entity, role, facts, purposes, paths))
    return found


async def _check_keys(
    session: AsyncSession, data_category: str | None, subject: str | None
) -> None:
    # An unknown key is a mistake worth saying, not an empty answer that looks like "nobody".
    if data_category is not None:
        prefix = data_category + "."
        known = await session.scalar(
            select(col(DataCategory.id)).where(
                (col(DataCategory.key) == data_category) | col(DataCategory.key).startswith(prefix)
            )
        )
        if known is None:
            raise InvalidInput(f"unknown data category {data_category!r}", field="data_category")
    if subject is not None:
        known = await session.scalar(
            select(col(SubjectCategory.id)).where(col(SubjectCategory.key) == subject)
        )
        if known is None:
            raise InvalidInput(f"unknown subject category {subject!r}", field="subject_category")


def _participants(
    flows: FlowMap, activity_id: int
) -> list[tuple[int, ProcessingRole, list[list[Flow]]]]:
    controllers = flows.controllers.get(activity_id, [])
    processors = flows.processors.get(activity_id, [])
    result: list[tuple[int, ProcessingRole, list[list[Flow]]]] = []
    for controller in controllers:
        # Every joint controller collects data itself; the hops worth showing are those
        # that bring other controllers' data to it across the EEA's border.
        inbound = [flows.judge(activity_id, other, controller) for other in controllers]
        paths = [
            [f] for f in inbound if f.exporter.id != controller and f.safeguard in CROSS_BORDER
        ]
        result.append((controller, ProcessingRole.JOINT_CONTROLLER, paths))
    for processor in processors:
        paths = [[flows.judge(activity_id, c, processor)] for c in controllers]
        result.append((processor, ProcessingRole.PROCESSOR, paths))
    seen: set[int] = set()
    for processor in processors:
        for sub in flows.engaged_by.get(processor, []):
            if sub in seen:
                continue
            seen.add(sub)
            paths = [
                [flows.judge(activity_id, c, p), flows.judge(activity_id, p, sub)]
                for p in processors
                if sub in flows.engaged_by.get(p, [])
                for c in controllers
            ]
            result.append((sub, ProcessingRole.SUB_PROCESSOR, paths))
    return result


def entity_gaps(
    entities: Sequence[Entity], *, without_lead_authority: frozenset[int] = frozenset()
) -> list[EntityGap]:
    """Entities whose record lacks what Art. 30 asks (R-INV-5); nothing is filled in. A
    controller whose own record is asked for lacks its lead authority if it is among
    ``without_lead_authority``."""
    gaps = []
    for entity in entities:
        reasons = []
        if entity.registered_office is None:
            reasons.append(EntityGapReason.NO_REGISTERED_OFFICE)
        if not entity.verified:
            reasons.append(EntityGapReason.UNVERIFIED_NAME)
        # Group companies are reached through the group's privacy contact (configuration).
        if entity.kind is not EntityKind.GROUP_COMPANY and entity.contact is None:
            reasons.append(EntityGapReason.NO_CONTACT)
        if entity.id in without_lead_authority:
            reasons.append(EntityGapReason.NO_LEAD_AUTHORITY)
        if reasons:
            gaps.append(EntityGap(entity, reasons, entity.verification_note))
    return gaps


def retention_gaps(activities: Sequence[ActivityFacts]) -> list[RetentionGap]:
    """Data categories whose retention the record does not state (R-INV-6)."""
    return [
        RetentionGap(facts.activity, item)
        for facts in activities
        for item in facts.retention
        if not item.stated
    ]


async def gaps(
    *,
    session: AsyncSession,
    actor: Actor,
    privacy_contact: str | None = None,
    on: date | None = None,
) -> Gaps:
    """Flows without a safeguard on ``on`` (today unless given), entities lacking what
    Art. 30 asks among those not retired by then, data categories of the activities then
    running whose retention is not stated, and the group's privacy contact unless it is
    given (``privacy_contact``: a gap is never hidden by leaving it out)."""
    authorize(actor, Action.INVENTORY_READ)
    authorize(actor, Action.TRANSFERS_READ)
    day = on or clock.today()
    flows = await load_flow_map(session, on=day)
    transfer_gaps = [
        flow
        for activity_id in sorted(set(flows.controllers) | set(flows.processors))
        for exporter, importer in flows.implied_flows(activity_id)
        if (flow := flows.judge(activity_id, exporter, importer)).safeguard is Safeguard.GAP
    ]
    entities = await session.scalars(
        select(Entity).where(graph.entity_takes_part(day)).order_by(col(Entity.id))
    )
    running = [
        facts
        for facts in (await load_activity_facts(session)).values()
        if facts.activity.retired_on is None or facts.activity.retired_on > day
    ]
    return Gaps(
        transfer_gaps,
        entity_gaps(entities.all()),
        retention_gaps(sorted(running, key=lambda facts: facts.activity.id)),
        no_privacy_contact=privacy_contact is None,
    )


def _party_to(entity_id: int) -> Select[*tuple[Any, ...]]:
    """The activities the entity is a party of, as a subquery (the graph says on which days)."""
    return select(col(ActivityParty.activity_id)).where(col(ActivityParty.entity_id) == entity_id)


async def _entity(session: AsyncSession, slug: str, kinds: set[EntityKind]) -> Entity:
    entity = await session.scalar(select(Entity).where(col(Entity.slug) == slug))
    if entity is None:
        raise NotFound(f"no entity {slug!r}")
    if entity.kind not in kinds:
        raise InvalidInput(f"{slug} is a {entity.kind.value}", field="slug")
    return entity


def _cross_border(flows: FlowMap, activity_id: int, entity_id: int) -> list[Flow]:
    """The activity's flows into or out of the entity that cross the EEA's border."""
    return [
        flow
        for exporter, importer in flows.implied_flows(activity_id)
        if entity_id in (exporter, importer)
        and (flow := flows.judge(activity_id, exporter, importer)).safeguard in CROSS_BORDER
    ]


async def controller_record(
    *,
    session: AsyncSession,
    actor: Actor,
    slug: str,
    contact: str | None,
    on: date | None = None,
) -> ControllerRecord:
    """The controller's record as it stands on ``on`` (today unless given). ``contact`` is
    the group's privacy contact, None while it is not configured."""
    authorize(actor, Action.INVENTORY_READ)
    authorize(actor, Action.TRANSFERS_READ)
    controller = await _entity(session, slug, {EntityKind.GROUP_COMPANY})
    day = on or clock.today()
    flows = await load_flow_map(session, on=day, activities=_party_to(controller.id))
    all_facts = await load_activity_facts(session)
    activity_ids = sorted(a for a, members in flows.controllers.items() if controller.id in members)
    joint: dict[int, Entity] = {}
    recipients: dict[int, Entity] = {}
    transfers: list[Flow] = []
    for activity_id in activity_ids:
        for other in flows.controllers[activity_id]:
            if other != controller.id:
                joint[other] = flows.entities[other]
        for processor in flows.processors.get(activity_id, []):
            recipients[processor] = flows.entities[processor]
            for sub in flows.engaged_by.get(processor, []):
                recipients[sub] = flows.entities[sub]
        transfers += _cross_border(flows, activity_id, controller.id)
    involved = [controller, *joint.values(), *recipients.values()]
    entries = await _authority_entries(session, controller.id)
    lead = entries.get(AuthorityRole.LEAD)
    without_lead = frozenset() if lead and lead.authority else frozenset({controller.id})
    activities = [all_facts[a] for a in activity_ids]
    return ControllerRecord(
        controller=controller,
        contact=controller.contact or contact,
        joint_controllers=sorted(joint.values(), key=lambda e: e.id),
        activities=activities,
        recipients=sorted(recipients.values(), key=lambda e: e.id),
        transfers=transfers,
        gaps=entity_gaps(involved, without_lead_authority=without_lead),
        authorities=entries,
        retention_gaps=retention_gaps(activities),
    )


async def _authority_entries(
    session: AsyncSession, controller_id: int
) -> dict[AuthorityRole, AuthorityEntry]:
    rows = await session.execute(
        select(ControllerAuthority, SupervisoryAuthority)
        .outerjoin(
            SupervisoryAuthority,
            col(SupervisoryAuthority.id) == col(ControllerAuthority.authority_id),
        )
        .where(col(ControllerAuthority.controller_id) == controller_id)
    )
    return {entry.role: AuthorityEntry(authority, entry.note) for entry, authority in rows}


async def processor_record(
    *, session: AsyncSession, actor: Actor, slug: str, on: date | None = None
) -> ProcessorRecord:
    """The processor's record as it stands on ``on`` (today unless given)."""
    authorize(actor, Action.INVENTORY_READ)
    authorize(actor, Action.TRANSFERS_READ)
    processor = await _entity(session, slug, {EntityKind.PROCESSOR, EntityKind.SUB_PROCESSOR})
    day = on or clock.today()
    flows = await load_flow_map(session, on=day)
    all_facts = await load_activity_facts(session)
    activity_ids = sorted(
        activity_id
        for activity_id, members in flows.processors.items()
        if processor.id in members
        or any(processor.id in flows.engaged_by.get(member, []) for member in members)
    )
    controllers: dict[int, Entity] = {}
    transfers: list[Flow] = []
    for activity_id in activity_ids:
        for controller in flows.controllers.get(activity_id, []):
            controllers[controller] = flows.entities[controller]
        transfers += _cross_border(flows, activity_id, processor.id)
    # Its own sub-processors, whether or not it is itself a party of an activity.
    subs = await graph.sub_processors_of(session, processor.id, on=day)
    return ProcessorRecord(
        processor=processor,
        controllers=sorted(controllers.values(), key=lambda e: e.id),
        activities=[all_facts[a] for a in activity_ids],
        sub_processors=subs,
        transfers=transfers,
        gaps=entity_gaps([processor, *subs]),
    )
