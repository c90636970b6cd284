"""Whether a flow of data out of the EEA or the UK is safeguarded (R-INV-2, R-INV-3, R-INV-7).

Pure functions over rows already loaded, so the same judgement serves single
transfers, the gap report and who-processes paths without more queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from registry.countries import AdequacyDecision, AdequacyScope
from registry.record.documents.models import Document, DocumentKind
from registry.record.inventory.models import EntityKind
from registry.record.transfers.models import Mechanism, Transfer


class PartyRole(StrEnum):
    CONTROLLER = "controller"
    PROCESSOR = "processor"


class Safeguard(StrEnum):
    WITHIN_EEA = "within_eea"
    ADEQUACY = "adequacy"
    TRANSFER_MECHANISM = "transfer_mechanism"
    NOT_A_TRANSFER_FROM_THE_EEA = "not_from_eea"
    # Exporter and importer in the same country outside the EEA: the data crosses no border.
    NOT_A_TRANSFER = "not_a_transfer"
    GAP = "gap"


class Regime(StrEnum):
    """The law a hop is exported under, which decides what can safeguard it."""

    GDPR = "gdpr"
    UK_GDPR = "uk_gdpr"


UK = "GB"
# UK GDPR took over the EU adequacy decisions in force when the transition period ended
# (Data Protection Act 2018, Schedule 21), and recognises the EEA states.
UK_CARRIED_OVER_BEFORE = date(2021, 1, 1)
UK_MECHANISMS = frozenset({Mechanism.UK_IDTA, Mechanism.UK_ADDENDUM})
# The SCC module follows the roles under both: the UK Addendum amends the EU SCCs' modules.
MODULED = frozenset({Mechanism.SCC_2021_914, Mechanism.UK_ADDENDUM})


# The mechanisms that are papers the parties sign, and the kind of document that is that
# signed copy: until one is on record and in force, the mechanism is not (R-INV-2, R-INV-7).
SIGNED_PAPERS: dict[Mechanism, DocumentKind] = {
    Mechanism.SCC_2021_914: DocumentKind.SCC_2021_914,
    Mechanism.UK_IDTA: DocumentKind.UK_IDTA,
    Mechanism.UK_ADDENDUM: DocumentKind.UK_ADDENDUM,
}
PAPER_NAMES: dict[DocumentKind, str] = {
    DocumentKind.SCC_2021_914: "signed SCC",
    DocumentKind.UK_IDTA: "signed IDTA",
    DocumentKind.UK_ADDENDUM: "signed UK Addendum",
}


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


def uk_covering_decision(
    decisions: Iterable[AdequacyDecision], *, importer_dpf_certified: bool, on: date
) -> AdequacyDecision | None:
    """An EU decision that UK law kept as its own; later EU decisions do not bind the UK, and
    UK regulations made since (such as the UK extension of the Data Privacy Framework) are
    not on record, so a flow they would cover shows as a gap until a UK mechanism is."""
    carried_over = [
        d for d in decisions if d.adopted_on is not None and d.adopted_on < UK_CARRIED_OVER_BEFORE
    ]
    return covering_decision(carried_over, importer_dpf_certified=importer_dpf_certified, on=on)


def lapsed_decision(
    decisions: Iterable[AdequacyDecision],
    *,
    importer_dpf_certified: bool,
    on: date,
    uk: bool = False,
) -> AdequacyDecision | None:
    """The decision that would cover the importer on ``on`` but for having lapsed before
    (its ``valid_until`` passed): the one that lapsed last, if any."""
    candidates = [d for d in decisions if d.valid_until is not None and d.valid_until < on]
    if uk:
        candidates = [
            d
            for d in candidates
            if d.adopted_on is not None and d.adopted_on < UK_CARRIED_OVER_BEFORE
        ]
    covering = [
        (last_day, d)
        for d in candidates
        if (last_day := d.valid_until) is not None
        and decision_covers(d, importer_dpf_certified=importer_dpf_certified, on=last_day)
    ]
    return max(covering, key=lambda pair: pair[0])[1] if covering else None


def lapse_of(decision: AdequacyDecision) -> str:
    """Says which decision lapsed and when, for a gap's reason."""
    return (
        f"the adequacy decision {decision.slug} for {decision.country_code} lapsed: "
        f"{decision.valid_until} was the last day it covered"
    )


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
    regime: Regime = Regime.GDPR,
    rule_id: str = "R-INV-2",
) -> TransferCheck:
    """Judges one recorded transfer in force on ``on`` (whether it is, is the flow graph's
    question); a failure names ``rule_id``, the rule of the hop (R-INV-2 for data leaving the
    EEA, R-INV-7 for an onward hop or an export from the UK), unless the SCC module is what
    is wrong (R-INV-3)."""
    if transfer.mechanism in MODULED:
        expected = expected_scc_module(exporter_kind, importer_kind)
        if transfer.scc_module != expected:
            return TransferCheck(
                False,
                "R-INV-3",
                f"SCC module {transfer.scc_module} does not fit the parties' roles "
                f"({role_of(exporter_kind).value} to {role_of(importer_kind).value}: "
                f"module {expected})",
            )
    if regime is Regime.UK_GDPR:
        return _check_uk(transfer, rule_id)
    if transfer.mechanism in UK_MECHANISMS:
        return TransferCheck(
            False, rule_id, "a UK mechanism does not cover a transfer under the GDPR"
        )
    if transfer.mechanism is Mechanism.ADEQUACY_DECISION:
        relevant = [d for d in decisions if d.id == transfer.adequacy_decision_id]
        if covering_decision(relevant, importer_dpf_certified=importer_dpf_certified, on=on):
            return TransferCheck(True)
        lapsed = lapsed_decision(relevant, importer_dpf_certified=importer_dpf_certified, on=on)
        if lapsed is not None:
            return TransferCheck(False, rule_id, f"{lapse_of(lapsed)}; the transfer relies on it")
        return TransferCheck(False, rule_id, "the adequacy decision does not cover the importer")
    if transfer.mechanism is Mechanism.ART49_DEROGATION and not transfer.derogation:
        return TransferCheck(False, rule_id, "an Art. 49 derogation must be named")
    return TransferCheck(True)


def document_in_force(document: Document, on: date) -> bool:
    """Signed by ``on``, in effect by then, and neither expired nor withdrawn: each of
    ``expires_on`` and ``withdrawn_on`` is the first day the document no longer holds."""
    return (
        document.signed_on is not None
        and document.signed_on <= on
        and (document.effective_from is None or document.effective_from <= on)
        and (document.expires_on is None or document.expires_on > on)
        and (document.withdrawn_on is None or document.withdrawn_on > on)
    )


def check_papers(
    transfer: Transfer, documents: Iterable[Document], *, on: date, rule_id: str
) -> TransferCheck:
    """Whether a transfer whose mechanism is a signed paper has that paper on record and in
    force on ``on``, for its SCC module where the paper has modules; other mechanisms need
    none. A reference to papers not signed, withdrawn or expired does not count."""
    kind = SIGNED_PAPERS.get(transfer.mechanism)
    if kind is None:
        return TransferCheck(True)
    of_kind = [
        d
        for d in documents
        if d.kind is kind
        and (transfer.mechanism not in MODULED or d.scc_module == transfer.scc_module)
    ]
    if any(document_in_force(d, on) for d in of_kind):
        return TransferCheck(True)
    reason = f"no {PAPER_NAMES[kind]} on record"
    if of_kind:
        reason += f" in force on {on}: " + "; ".join(
            f"{d.slug} {_not_in_force(d, on)}" for d in of_kind
        )
    return TransferCheck(False, rule_id, reason)


def _not_in_force(document: Document, on: date) -> str:
    if document.signed_on is None:
        return "has no signing date on record"
    if document.withdrawn_on is not None and document.withdrawn_on <= on:
        return f"was withdrawn on {document.withdrawn_on}"
    if document.expires_on is not None and document.expires_on <= on:
        return f"expired on {document.expires_on}"
    return "was not yet signed or in effect"


def _check_uk(transfer: Transfer, rule_id: str) -> TransferCheck:
    if transfer.mechanism in UK_MECHANISMS:
        return TransferCheck(True)
    if transfer.mechanism is Mechanism.ART49_DEROGATION:
        # UK GDPR keeps Art. 49's derogations as they are.
        if transfer.derogation:
            return TransferCheck(True)
        return TransferCheck(False, rule_id, "an Art. 49 derogation must be named")
    if transfer.mechanism is Mechanism.SCC_2021_914:
        return TransferCheck(
            False,
            rule_id,
            "the EU SCCs alone do not cover a transfer out of the UK: "
            "they need the UK Addendum, or the IDTA instead",
        )
    # An EU adequacy decision or EU-approved BCRs are the EU's; the UK approves its own.
    return TransferCheck(
        False, rule_id, f"{transfer.mechanism.value} does not cover a transfer out of the UK"
    )
