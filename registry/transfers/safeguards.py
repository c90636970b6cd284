"""Whether a flow of data out of the EEA is safeguarded (R-INV-2, R-INV-3).

Pure functions over rows already loaded, so the same judgement serves single
transfers, the gap report and who-processes paths without more queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from registry.inventory.models import EntityKind
from registry.transfers.models import AdequacyDecision, AdequacyScope, Mechanism, Transfer


class PartyRole(StrEnum):
    CONTROLLER = "controller"
    PROCESSOR = "processor"


class Safeguard(StrEnum):
    WITHIN_EEA = "within_eea"
    ADEQUACY = "adequacy"
    TRANSFER_MECHANISM = "transfer_mechanism"
    NOT_A_TRANSFER_FROM_THE_EEA = "not_from_eea"
    GAP = "gap"


# Decision (EU) 2021/914: the module follows the roles of exporter and importer.
SCC_MODULES: dict[tuple[PartyRole, PartyRole], int] = {
    (PartyRole.CONTROLLER, PartyRole.CONTROLLER): 1,
    (PartyRole.CONTROLLER, PartyRole.PROCESSOR): 2,
    (PartyRole.PROCESSOR, PartyRole.PROCESSOR): 3,
    (PartyRole.PROCESSOR, PartyRole.CONTROLLER): 4,
}


def role_of(kind: EntityKind) -> PartyRole:
    if kind in (EntityKind.PROCESSOR, EntityKind.SUB_PROCESSOR):
        return PartyRole.PROCESSOR
    return PartyRole.CONTROLLER


def expected_scc_module(exporter_kind: EntityKind, importer_kind: EntityKind) -> int:
    return SCC_MODULES[(role_of(exporter_kind), role_of(importer_kind))]


def decision_covers(decision: AdequacyDecision, *, importer_dpf_certified: bool, on: date) -> bool:
    if decision.valid_until is not None and decision.valid_until < on:
        return False
    if decision.adopted_on is not None and decision.adopted_on > on:
        return False
    if decision.scope is AdequacyScope.CERTIFIED_ORGANISATIONS:
        return importer_dpf_certified
    return True


def covering_decision(
    decisions: Iterable[AdequacyDecision], *, importer_dpf_certified: bool, on: date
) -> AdequacyDecision | None:
    for decision in decisions:
        if decision_covers(decision, importer_dpf_certified=importer_dpf_certified, on=on):
            return decision
    return None


@dataclass(frozen=True)
class TransferCheck:
    """Why a recorded transfer does not (or does) safeguard its flow."""

    valid: bool
    rule_id: str | None = None
    reason: str | None = None


def check_transfer(
    transfer: Transfer,
    *,
    exporter_kind: EntityKind,
    importer_kind: EntityKind,
    decisions: Iterable[AdequacyDecision],
    importer_dpf_certified: bool,
    on: date,
) -> TransferCheck:
    if transfer.ended_on is not None and transfer.ended_on <= on:
        return TransferCheck(False, "R-INV-2", f"the transfer ended on {transfer.ended_on}")
    if transfer.mechanism is Mechanism.SCC_2021_914:
        expected = expected_scc_module(exporter_kind, importer_kind)
        if transfer.scc_module != expected:
            return TransferCheck(
                False,
                "R-INV-3",
                f"SCC module {transfer.scc_module} does not fit the parties' roles "
                f"({role_of(exporter_kind).value} to {role_of(importer_kind).value}: "
                f"module {expected})",
            )
        return TransferCheck(True)
    if transfer.mechanism is Mechanism.ADEQUACY_DECISION:
        relevant = [d for d in decisions if d.id == transfer.adequacy_decision_id]
        if covering_decision(relevant, importer_dpf_certified=importer_dpf_certified, on=on):
            return TransferCheck(True)
        return TransferCheck(False, "R-INV-2", "the adequacy decision does not cover the importer")
    if transfer.mechanism is Mechanism.ART49_DEROGATION and not transfer.derogation:
        return TransferCheck(False, "R-INV-2", "an Art. 49 derogation must be named")
    return TransferCheck(True)
