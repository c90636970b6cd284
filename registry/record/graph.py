"""Who takes part in the activity on a date, over which path, and each hop judged for its
safeguard (R-INV-2, R-INV-7): the one answer every reader of the record uses.

On date D (the same meaning for every caller; the predicates below are its only writing):

- an entity takes part if it is not retired on D (``retired_on`` unset or after D) and is
  active by D (``active_from`` unset or on or before D);
- a processor's engagement of a sub-processor holds on D if it began by D (``since`` unset
  or on or before D) and has not ended (``ended_on`` unset or after D): unlinking sets
  ``ended_on`` to the day it happens, so from that day on the engagement no longer holds;
- a transfer record is in force on D if it has not ended (``ended_on`` unset or after D);
  one under the SCCs or a UK mechanism safeguards its hop only with a signed copy of that
  paper attached and in force on D (``safeguards.check_papers``);
- an adequacy decision covers D as ``safeguards.decision_covers`` says: adopted by D, and
  ``valid_until`` unset or on or after D (the last day it covers).

Who takes part in an activity on D (none, once it is retired on D): its parties (joint
controllers and processors) that take part on D, and the sub-processors that take part on
D engaged on D by one of those processors. Only they, and the transfers between them, are
loaded: the cost of an answer follows the answer, not the size of the record.

The activity's data flows from each joint controller to the others and to its
processors, and from each processor to the sub-processors it engages. Each hop
is judged on its own, from the EEA exporter to the last importer: a flow out of
the EEA, or onwards from a third country to another, needs an adequacy decision
covering the importer or a valid transfer record; a flow out of the UK needs UK
adequacy or a UK mechanism. One without is a gap.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, CompoundSelect, Select, and_, or_, select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from registry.countries import AdequacyDecision, Country
from registry.record.documents.models import Document, DocumentTransfer
from registry.record.inventory.models import (
    Activity,
    ActivityParty,
    Engagement,
    Entity,
    PartyRole,
)
from registry.record.transfers import safeguards
from registry.record.transfers.models import Transfer
from registry.record.transfers.safeguards import Safeguard

Rows = Select[*tuple[Any, ...]]
# Which activities a question is about: all of them, some by id, or those a query selects.
Activities = Collection[int] | Rows | None


# ---------------------------------------------------------------- "on date D", written once


def not_retired(on: date, entity: Any = Entity) -> ColumnElement[bool]:
    """The entity is not retired on ``on``: retiring on a day ends its part from that day."""
    retired_on = entity.retired_on
    return or_(retired_on.is_(None), retired_on > on)


def entity_takes_part(on: date, entity: Any = Entity) -> ColumnElement[bool]:
    """The entity can take part on ``on``: not retired, and active by then."""
    active_from = entity.active_from
    return and_(not_retired(on, entity), or_(active_from.is_(None), active_from <= on))


def engagement_holds(on: date) -> ColumnElement[bool]:
    """The engagement began by ``on`` and had not ended: it ends on its ``ended_on``."""
    since, ended_on = col(Engagement.since), col(Engagement.ended_on)
    return and_(or_(since.is_(None), since <= on), or_(ended_on.is_(None), ended_on > on))


def transfer_in_force(on: date) -> ColumnElement[bool]:
    """The transfer record has not ended on ``on``: it ends on its ``ended_on``."""
    ended_on = col(Transfer.ended_on)
    return or_(ended_on.is_(None), ended_on > on)


def transfer_in_force_on(transfer: Transfer, on: date) -> bool:
    """``transfer_in_force`` for a row already loaded."""
    return transfer.ended_on is None or transfer.ended_on > on


def _in(column: Any, activities: Activities) -> ColumnElement[bool] | None:
    if activities is None:
        return None
    return col(column).in_(activities)


def _parties(on: date, activities: Activities, role: PartyRole | None = None) -> Rows:
    """(activity, entity, role) of the activities' parties that take part on ``on``."""
    query = (
        select(
            col(ActivityParty.id),
            col(ActivityParty.activity_id),
            col(ActivityParty.entity_id),
            col(ActivityParty.role),
        )
        .join(Entity, col(Entity.id) == col(ActivityParty.entity_id))
        .join(Activity, col(Activity.id) == col(ActivityParty.activity_id))
        # A retired activity has no part from its retirement on, like a retired entity.
        .where(entity_takes_part(on), not_retired(on, Activity))
    )
    if role is not None:
        query = query.where(col(ActivityParty.role) == role)
    if (scope := _in(ActivityParty.activity_id, activities)) is not None:
        query = query.where(scope)
    return query


def _engagements(on: date, activities: Activities) -> Rows:
    """(processor, sub-processor) of the engagements that hold on ``on`` between a processor
    of the activities and a sub-processor, both taking part on ``on``."""
    processors = _parties(on, activities, PartyRole.PROCESSOR).with_only_columns(
        col(ActivityParty.entity_id)
    )
    sub = aliased(Entity)
    return (
        select(col(Engagement.id), col(Engagement.processor_id), col(Engagement.sub_processor_id))
        .join(sub, col(sub.id) == col(Engagement.sub_processor_id))
        .where(
            col(Engagement.processor_id).in_(processors),
            engagement_holds(on),
            entity_takes_part(on, sub),
        )
    )


def participants(on: date, activities: Activities = None) -> CompoundSelect[*tuple[Any, ...]]:
    """The ids of every entity that takes part in the activities on ``on``: a subquery."""
    parties = _parties(on, activities).with_only_columns(col(ActivityParty.entity_id))
    engaged = _engagements(on, activities).with_only_columns(col(Engagement.sub_processor_id))
    return union(parties, engaged)


async def takes_part(session: AsyncSession, activity_id: int, entity_id: int, *, on: date) -> bool:
    """Whether the entity takes part in the activity on ``on``."""
    found = await session.scalar(
        select(col(Entity.id)).where(
            col(Entity.id) == entity_id, col(Entity.id).in_(participants(on, [activity_id]))
        )
    )
    return found is not None


async def sub_processors_of(session: AsyncSession, processor_id: int, *, on: date) -> list[Entity]:
    """The sub-processors taking part on ``on`` that the processor engages on ``on``."""
    rows = await session.scalars(
        select(Entity)
        .join(Engagement, col(Engagement.sub_processor_id) == col(Entity.id))
        .where(
            col(Engagement.processor_id) == processor_id,
            engagement_holds(on),
            entity_takes_part(on),
        )
        .order_by(col(Engagement.id))
    )
    return list(rows.all())


# ---------------------------------------------------------------- the flows, judged


@dataclass(frozen=True)
class Flow:
    activity_id: int
    exporter: Entity
    importer: Entity
    destination_code: str
    safeguard: Safeguard
    transfer: Transfer | None = None
    adequacy_decision: AdequacyDecision | None = None
    rule_id: str | None = None
    reason: str | None = None
    # What adequacy rests on when it is not the Commission's decision alone: a hop out of
    # the UK rests on UK law. Apart from ``reason``, which says only why a hop is a gap.
    adequacy_basis: str | None = None
    # The documents attached to the transfer shown, whether or not they are in force.
    documents: tuple[Document, ...] = ()


@dataclass
class FlowMap:
    """Everything needed to judge flows, loaded in a fixed number of queries."""

    on: date
    eea: set[str]
    decisions: dict[str, list[AdequacyDecision]]
    entities: dict[int, Entity]
    controllers: dict[int, list[int]]
    processors: dict[int, list[int]]
    engaged_by: dict[int, list[int]]
    transfers: dict[tuple[int, int, int], list[Transfer]]
    # The documents attached to each transfer, by its id: its signed papers among them.
    papers: dict[int, list[Document]]

    def judge(self, activity_id: int, exporter_id: int, importer_id: int) -> Flow:
        """Judges one hop by the law it is exported under: a hop out of the EEA by the GDPR
        (R-INV-2); one out of the UK by UK GDPR (R-INV-7); and one from elsewhere onwards,
        to a third country, again by the GDPR, as the data came from the EEA (R-INV-7).
        The hop carries the documents of the transfer it shows."""
        flow = self._judge(activity_id, exporter_id, importer_id)
        if flow.transfer is None:
            return flow
        return replace(flow, documents=tuple(self.papers.get(flow.transfer.id, ())))

    def _judge(self, activity_id: int, exporter_id: int, importer_id: int) -> Flow:
        exporter = self.entities[exporter_id]
        importer = self.entities[importer_id]
        # Those in force first: they say where the data goes now, and which record to show.
        recorded = sorted(
            self.transfers.get((activity_id, exporter_id, importer_id), []),
            key=lambda transfer: not transfer_in_force_on(transfer, self.on),
        )
        destination = recorded[0].destination_country_code if recorded else importer.country_code
        flow = Flow(activity_id, exporter, importer, destination, Safeguard.GAP)
        origin = exporter.country_code
        if origin in self.eea:
            if destination in self.eea:
                return _with(flow, Safeguard.WITHIN_EEA, transfer=_first(recorded))
            return self._judge_gdpr(flow, recorded, "R-INV-2")
        if destination == origin:
            return _with(flow, Safeguard.NOT_A_TRANSFER, transfer=_first(recorded))
        if origin == safeguards.UK:
            return self._judge_uk(flow, recorded)
        if destination in self.eea:
            return _with(flow, Safeguard.NOT_A_TRANSFER_FROM_THE_EEA, transfer=_first(recorded))
        return self._judge_gdpr(flow, recorded, "R-INV-7")

    def _judge_gdpr(self, flow: Flow, recorded: list[Transfer], rule_id: str) -> Flow:
        decision = safeguards.covering_decision(
            self.decisions.get(flow.destination_code, []),
            importer_dpf_certified=flow.importer.dpf_certified,
            on=self.on,
        )
        if decision is not None:
            return _with(flow, Safeguard.ADEQUACY, decision=decision, transfer=_first(recorded))
        lapsed = safeguards.lapsed_decision(
            self.decisions.get(flow.destination_code, []),
            importer_dpf_certified=flow.importer.dpf_certified,
            on=self.on,
        )
        missing = (
            f"no adequacy decision for {flow.destination_code} and no transfer on record"
            if lapsed is None
            else f"{safeguards.lapse_of(lapsed)}, and no transfer is on record"
        )
        return self._judge_recorded(flow, recorded, safeguards.Regime.GDPR, rule_id, missing)

    def _judge_uk(self, flow: Flow, recorded: list[Transfer]) -> Flow:
        if flow.destination_code in self.eea:
            return _with(
                flow,
                Safeguard.ADEQUACY,
                transfer=_first(recorded),
                adequacy_basis="UK adequacy regulations recognise the EEA states",
            )
        decision = safeguards.uk_covering_decision(
            self.decisions.get(flow.destination_code, []),
            importer_dpf_certified=flow.importer.dpf_certified,
            on=self.on,
        )
        if decision is not None:
            return _with(
                flow,
                Safeguard.ADEQUACY,
                decision=decision,
                transfer=_first(recorded),
                adequacy_basis="an EU adequacy decision kept by UK law",
            )
        lapsed = safeguards.lapsed_decision(
            self.decisions.get(flow.destination_code, []),
            importer_dpf_certified=flow.importer.dpf_certified,
            on=self.on,
            uk=True,
        )
        missing = (
            f"no UK adequacy for {flow.destination_code} and no UK mechanism "
            "(IDTA or UK Addendum) on record"
            if lapsed is None
            else f"{safeguards.lapse_of(lapsed)}, and no UK mechanism (IDTA or UK Addendum) "
            "is on record"
        )
        return self._judge_recorded(flow, recorded, safeguards.Regime.UK_GDPR, "R-INV-7", missing)

    def _judge_recorded(
        self,
        flow: Flow,
        recorded: list[Transfer],
        regime: safeguards.Regime,
        rule_id: str,
        missing: str,
    ) -> Flow:
        failure = safeguards.TransferCheck(False, rule_id, missing)
        for transfer in recorded:
            if not transfer_in_force_on(transfer, self.on):
                failure = safeguards.TransferCheck(
                    False, rule_id, f"the transfer ended on {transfer.ended_on}"
                )
                continue
            check = safeguards.check_transfer(
                transfer,
                exporter_kind=flow.exporter.kind,
                importer_kind=flow.importer.kind,
                decisions=self.decisions.get(flow.destination_code, []),
                importer_dpf_certified=flow.importer.dpf_certified,
                on=self.on,
                regime=regime,
                rule_id=rule_id,
            )
            if check.valid:
                check = safeguards.check_papers(
                    transfer, self.papers.get(transfer.id, []), on=self.on, rule_id=rule_id
                )
            if check.valid:
                return _with(flow, Safeguard.TRANSFER_MECHANISM, transfer=transfer)
            failure = check
        return _with(
            flow,
            Safeguard.GAP,
            transfer=_first(recorded),
            rule_id=failure.rule_id,
            reason=failure.reason,
        )

    def implied_flows(self, activity_id: int) -> list[tuple[int, int]]:
        """(exporter, importer) pairs the activity implies, then any other recorded transfer."""
        controllers = self.controllers.get(activity_id, [])
        processors = self.processors.get(activity_id, [])
        pairs = [(a, b) for a in controllers for b in controllers if a != b]
        pairs += [(c, p) for c in controllers for p in processors]
        pairs += [(p, s) for p in processors for s in self.engaged_by.get(p, [])]
        seen = set(pairs)
        # A transfer on record between two who take part carries data of its own, while in force.
        pairs += [
            (exporter, importer)
            for (activity, exporter, importer), recorded in self.transfers.items()
            if activity == activity_id
            and (exporter, importer) not in seen
            and any(transfer_in_force_on(t, self.on) for t in recorded)
        ]
        return pairs


def _first(transfers: list[Transfer]) -> Transfer | None:
    return transfers[0] if transfers else None


def _with(
    flow: Flow,
    safeguard: Safeguard,
    *,
    transfer: Transfer | None = None,
    decision: AdequacyDecision | None = None,
    rule_id: str | None = None,
    reason: str | None = None,
    adequacy_basis: str | None = None,
) -> Flow:
    return Flow(
        flow.activity_id,
        flow.exporter,
        flow.importer,
        flow.destination_code,
        safeguard,
        transfer,
        decision,
        rule_id,
        reason,
        adequacy_basis,
    )


async def load_flow_map(
    session: AsyncSession, *, on: date, activities: Activities = None
) -> FlowMap:
    """Who takes part in the activities on ``on`` and the transfers between them, in a fixed
    number of queries whatever the size of the record: only participants are loaded."""
    eea = set((await session.scalars(select(col(Country.code)).where(col(Country.eea)))).all())
    decisions: dict[str, list[AdequacyDecision]] = defaultdict(list)
    for decision in (await session.scalars(select(AdequacyDecision))).all():
        decisions[decision.country_code].append(decision)
    controllers: dict[int, list[int]] = defaultdict(list)
    processors: dict[int, list[int]] = defaultdict(list)
    parties = _parties(on, activities).order_by(col(ActivityParty.id))
    for _, activity_id, entity_id, role in (await session.execute(parties)).all():
        target = controllers if role is PartyRole.JOINT_CONTROLLER else processors
        target[activity_id].append(entity_id)
    engaged_by: dict[int, list[int]] = defaultdict(list)
    engagements = _engagements(on, activities).order_by(col(Engagement.id))
    for _, processor_id, sub_processor_id in (await session.execute(engagements)).all():
        engaged_by[processor_id].append(sub_processor_id)
    taking_part = participants(on, activities)
    entities = {
        entity.id: entity
        for entity in (
            await session.scalars(select(Entity).where(col(Entity.id).in_(taking_part)))
        ).all()
    }
    transfers: dict[tuple[int, int, int], list[Transfer]] = defaultdict(list)
    between = select(Transfer).where(
        col(Transfer.exporter_id).in_(taking_part), col(Transfer.importer_id).in_(taking_part)
    )
    if (scope := _in(Transfer.activity_id, activities)) is not None:
        between = between.where(scope)
    for transfer in (await session.scalars(between.order_by(col(Transfer.id)))).all():
        key = (transfer.activity_id, transfer.exporter_id, transfer.importer_id)
        transfers[key].append(transfer)
    papers: dict[int, list[Document]] = defaultdict(list)
    attached = (
        select(col(DocumentTransfer.transfer_id), Document)
        .join(Document, col(Document.id) == col(DocumentTransfer.document_id))
        .where(col(DocumentTransfer.transfer_id).in_(between.with_only_columns(col(Transfer.id))))
        .order_by(col(DocumentTransfer.id))
    )
    for transfer_id, document in (await session.execute(attached)).all():
        papers[transfer_id].append(document)
    return FlowMap(
        on, eea, decisions, entities, controllers, processors, engaged_by, transfers, papers
    )
