"""The flows the record implies, each judged for its safeguard (R-INV-2, R-INV-7).

The activity's data flows from each joint controller to the others and to its
processors, and from each processor to the sub-processors it engages. Each hop
is judged on its own, from the EEA exporter to the last importer: a flow out of
the EEA, or onwards from a third country to another, needs an adequacy decision
covering the importer or a valid transfer record; a flow out of the UK needs UK
adequacy or a UK mechanism. One without is a gap.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry.record.inventory.models import ActivityParty, Engagement, Entity, PartyRole
from registry.record.transfers import safeguards
from registry.record.transfers.models import AdequacyDecision, Country, Transfer
from registry.record.transfers.safeguards import Safeguard


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
        """Judges one hop by the law it is exported under: a hop out of the EEA by the GDPR
        (R-INV-2); one out of the UK by UK GDPR (R-INV-7); and one from elsewhere onwards,
        to a third country, again by the GDPR, as the data came from the EEA (R-INV-7)."""
        exporter = self.entities[exporter_id]
        importer = self.entities[importer_id]
        recorded = self.transfers.get((activity_id, exporter_id, importer_id), [])
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
        missing = f"no adequacy decision for {flow.destination_code} and no transfer on record"
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
        missing = (
            f"no UK adequacy for {flow.destination_code} and no UK mechanism "
            "(IDTA or UK Addendum) on record"
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
