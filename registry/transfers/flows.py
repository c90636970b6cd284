"""The flows the record implies, each judged for its safeguard (R-INV-2).

The activity's data flows from each joint controller to the others and to its
processors, and from each processor to the sub-processors it engages. A flow
out of the EEA needs an adequacy decision covering the importer or a valid
transfer record; one without is a gap.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry.inventory.models import ActivityParty, Engagement, Entity, PartyRole
from registry.transfers import safeguards
from registry.transfers.models import AdequacyDecision, Country, Transfer
from registry.transfers.safeguards import Safeguard


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

    def judge(self, activity_id: int, exporter_id: int, importer_id: int) -> Flow:
        exporter = self.entities[exporter_id]
        importer = self.entities[importer_id]
        recorded = self.transfers.get((activity_id, exporter_id, importer_id), [])
        destination = recorded[0].destination_country_code if recorded else importer.country_code
        flow = Flow(activity_id, exporter, importer, destination, Safeguard.GAP)
        if exporter.country_code not in self.eea:
            return _with(flow, Safeguard.NOT_A_TRANSFER_FROM_THE_EEA, transfer=_first(recorded))
        if destination in self.eea:
            return _with(flow, Safeguard.WITHIN_EEA, transfer=_first(recorded))
        decision = safeguards.covering_decision(
            self.decisions.get(destination, []),
            importer_dpf_certified=importer.dpf_certified,
            on=self.on,
        )
        if decision is not None:
            return _with(flow, Safeguard.ADEQUACY, decision=decision, transfer=_first(recorded))
        failure = safeguards.TransferCheck(
            False, "R-INV-2", f"no adequacy decision for {destination} and no transfer on record"
        )
        for transfer in recorded:
            check = safeguards.check_transfer(
                transfer,
                exporter_kind=exporter.kind,
                importer_kind=importer.kind,
                decisions=self.decisions.get(destination, []),
                importer_dpf_certified=importer.dpf_certified,
                on=self.on,
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
        pairs += [
            (exporter, importer)
            for (activity, exporter, importer) in self.transfers
            if activity == activity_id and (exporter, importer) not in seen
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
    )


async def load_flow_map(session: AsyncSession, *, on: date) -> FlowMap:
    eea = set((await session.scalars(select(col(Country.code)).where(col(Country.eea)))).all())
    decisions: dict[str, list[AdequacyDecision]] = defaultdict(list)
    for decision in (await session.scalars(select(AdequacyDecision))).all():
        decisions[decision.country_code].append(decision)
    entities = {
        entity.id: entity
        for entity in (
            await session.scalars(select(Entity).where(col(Entity.retired_on).is_(None)))
        )
    }
    controllers: dict[int, list[int]] = defaultdict(list)
    processors: dict[int, list[int]] = defaultdict(list)
    for party in (
        await session.scalars(select(ActivityParty).order_by(col(ActivityParty.id)))
    ).all():
        if party.entity_id not in entities:
            continue
        target = controllers if party.role is PartyRole.JOINT_CONTROLLER else processors
        target[party.activity_id].append(party.entity_id)
    engaged_by: dict[int, list[int]] = defaultdict(list)
    active_engagements = select(Engagement).where(col(Engagement.ended_on).is_(None))
    for engagement in (
        await session.scalars(active_engagements.order_by(col(Engagement.id)))
    ).all():
        if engagement.sub_processor_id in entities:
            engaged_by[engagement.processor_id].append(engagement.sub_processor_id)
    transfers: dict[tuple[int, int, int], list[Transfer]] = defaultdict(list)
    for transfer in (await session.scalars(select(Transfer).order_by(col(Transfer.id)))).all():
        if transfer.exporter_id in entities and transfer.importer_id in entities:
            key = (transfer.activity_id, transfer.exporter_id, transfer.importer_id)
            transfers[key].append(transfer)
    return FlowMap(on, eea, decisions, entities, controllers, processors, engaged_by, transfers)
