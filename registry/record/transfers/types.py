"""GraphQL types of countries, adequacy decisions, transfers and flows."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import strawberry

import registry.graphql.enums  # noqa: F401  (registers the enums)
from registry.countries import AdequacyScope
from registry.graphql.relay import Node
from registry.record.transfers.models import Mechanism
from registry.record.transfers.safeguards import Safeguard

if TYPE_CHECKING:
    from registry.record.documents.types import DocumentType
    from registry.record.inventory.types import ActivityType, DataCategoryType, EntityType

EntityRef = Annotated["EntityType", strawberry.lazy("registry.record.inventory.types")]
ActivityRef = Annotated["ActivityType", strawberry.lazy("registry.record.inventory.types")]
DataCategoryRef = Annotated["DataCategoryType", strawberry.lazy("registry.record.inventory.types")]
DocumentRef = Annotated["DocumentType", strawberry.lazy("registry.record.documents.types")]


@strawberry.type(name="Country")
class CountryType:
    code: str
    name: str
    eea: bool = strawberry.field(description="Member of the European Economic Area.")
    eu: bool = strawberry.field(description="Member of the European Union.")
    adequacy_decisions: list[AdequacyDecisionType]


@strawberry.type(name="AdequacyDecision")
class AdequacyDecisionType(Node):
    slug: str
    country_code: str
    reference: str
    scope: AdequacyScope
    scope_note: str | None
    adopted_on: date | None
    valid_until: date | None = strawberry.field(description="The last day the decision covers.")
    source: str | None = strawberry.field(
        description="Where the decision is published: its Official Journal reference or address."
    )
    verified: bool
    note: str | None


@strawberry.type(name="Transfer", description="A transfer of an activity's data and its safeguard.")
class TransferType(Node):
    slug: str
    mechanism: Mechanism
    scc_module: int | None
    derogation: str | None = strawberry.field(
        description="The Art. 49 derogation relied on, when the mechanism is one."
    )
    signed_on: date | None
    tia_reference: str | None
    tia_date: date | None
    supplementary_measures: str | None
    note: str | None
    ended_on: date | None
    destination_country_code: str
    destination: CountryType
    exporter: EntityRef
    importer: EntityRef
    activity: ActivityRef
    data_categories: list[DataCategoryRef]
    adequacy_decision: AdequacyDecisionType | None
    documents: list[DocumentRef] = strawberry.field(
        description="The documents covering it: its signed SCCs or UK papers, TIA, contracts."
    )


@strawberry.type(
    name="Flow", description="One hop of the activity's data, judged for its safeguard."
)
class FlowType:
    exporter: EntityRef
    importer: EntityRef
    destination_country_code: str
    safeguard: Safeguard
    transfer: TransferType | None
    adequacy_decision: AdequacyDecisionType | None
    rule_id: str | None = strawberry.field(description="The rule a gap breaks.")
    reason: str | None = strawberry.field(description="Why the hop is a gap.")
    adequacy_basis: str | None = strawberry.field(
        description="The law an adequacy rests on besides a Commission decision: for a hop "
        "out of the UK, UK law."
    )
