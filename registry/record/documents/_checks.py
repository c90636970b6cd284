"""The checks a document passes on its way in and before it covers a transfer: its terms
in order, an SCC's module (R-INV-3), and the transfer's exporter and importer among its
parties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from registry import clock
from registry.errors import InvalidInput, RuleBroken
from registry.record.documents.models import Document, DocumentKind, DocumentRole, DocumentTerms
from registry.record.inventory.models import Entity
from registry.record.transfers import safeguards
from registry.record.transfers.models import Mechanism, Transfer

# The kinds whose clauses come in modules (Decision (EU) 2021/914), the UK Addendum
# amending them module for module.
MODULED_KINDS = frozenset({DocumentKind.SCC_2021_914, DocumentKind.UK_ADDENDUM})
SCC_MODULES = range(1, 5)
# The mechanisms each kind of signed paper may stand for: the UK Addendum is signed with the
# EU SCCs it amends, so both may be attached to a transfer under the Addendum.
PAPER_MECHANISMS: dict[DocumentKind, frozenset[Mechanism]] = {
    DocumentKind.SCC_2021_914: frozenset({Mechanism.SCC_2021_914, Mechanism.UK_ADDENDUM}),
    DocumentKind.UK_IDTA: frozenset({Mechanism.UK_IDTA}),
    DocumentKind.UK_ADDENDUM: frozenset({Mechanism.UK_ADDENDUM}),
}


@dataclass(frozen=True)
class Party:
    entity: Entity
    role: DocumentRole


def check_terms(kind: DocumentKind, draft: DocumentTerms) -> None:
    if kind in MODULED_KINDS:
        if draft.scc_module not in SCC_MODULES:
            raise RuleBroken(
                "R-INV-3",
                f"{kind.value} names its SCC module, 1 to 4, not {draft.scc_module}",
                field="scc_module",
            )
    elif draft.scc_module is not None:
        raise InvalidInput(
            "an SCC module goes only with SCCs or the UK Addendum", field="scc_module"
        )
    if draft.signed_on is not None and draft.signed_on > clock.today():
        raise InvalidInput("signed_on lies in the future", field="signed_on")
    # ``expires_on`` is the first day the document no longer holds.
    for name in ("signed_on", "effective_from"):
        start: date | None = getattr(draft, name)
        if start is not None and draft.expires_on is not None and draft.expires_on <= start:
            raise InvalidInput(f"expires_on must come after {name}", field="expires_on")


def check_cover(document: Document, parties: list[Party], transfer: Transfer) -> None:
    """Whether the document may stand for (part of) the transfer's papers."""
    allowed = PAPER_MECHANISMS.get(document.kind)
    if allowed is not None and transfer.mechanism not in allowed:
        raise InvalidInput(
            f"{document.kind.value} papers do not go with a transfer under "
            f"{transfer.mechanism.value}",
            field="transfer",
        )
    if (
        document.kind in MODULED_KINDS
        and transfer.mechanism in safeguards.MODULED
        and document.scc_module != transfer.scc_module
    ):
        raise RuleBroken(
            "R-INV-3",
            f"{document.slug} is SCC module {document.scc_module}; {transfer.slug} is under "
            f"module {transfer.scc_module}",
            field="scc_module",
        )
    # Signed papers name the exporter and the importer as such; other papers only as parties.
    needed = (
        (
            (transfer.exporter_id, DocumentRole.EXPORTER),
            (transfer.importer_id, DocumentRole.IMPORTER),
        )
        if allowed is not None
        else ((transfer.exporter_id, None), (transfer.importer_id, None))
    )
    for entity_id, role in needed:
        if not any(p.entity.id == entity_id and role in (None, p.role) for p in parties):
            what = f"its {role.value}" if role is not None else "a party"
            raise InvalidInput(
                f"{document.slug} does not name {transfer.slug}'s "
                f"{'exporter' if entity_id == transfer.exporter_id else 'importer'} as {what}",
                field="parties",
            )


def check_current(document: Document) -> None:
    today = clock.today()
    if document.withdrawn_on is not None:
        raise InvalidInput(f"{document.slug} was withdrawn on {document.withdrawn_on}")
    if document.expires_on is not None and document.expires_on <= today:
        raise InvalidInput(f"{document.slug} expired on {document.expires_on}")
