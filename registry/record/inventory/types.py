"""GraphQL types of the inventory and of the Art. 30 records."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated

import strawberry

import registry.graphql.enums  # noqa: F401  (registers the enums)
from registry.graphql.relay import Node
from registry.record.answers import EntityGapReason, ProcessingRole
from registry.record.inventory.models import DpiaStatus, EntityKind, LegalBasis
from registry.record.supervision.types import ControllerAuthorityType
from registry.record.transfers.types import CountryType, FlowType, TransferType

if TYPE_CHECKING:
    from registry.record.documents.types import DocumentType

DocumentRef = Annotated["DocumentType", strawberry.lazy("registry.record.documents.types")]


@strawberry.type(
    name="Entity", description="A group company, processor, sub-processor or authority."
)
class EntityType(Node):
    slug: str
    kind: EntityKind
    known_as: str | None
    legal_name: str
    registered_office: str | None
    country_code: str
    country: CountryType
    contact: str | None
    dpo: str | None
    representative: str | None
    verified: bool
    verification_note: str | None
    dpf_certified: bool
    notice_number: int | None
    active_from: date | None
    retired_on: date | None
    retirement_reason: str | None
    gaps: list[EntityGapReason] = strawberry.field(
        description="What the record lacks for this entity (R-INV-5)."
    )
    transfers_out: list[TransferType] = strawberry.field(description="Transfers it exports.")
    transfers_in: list[TransferType] = strawberry.field(description="Transfers it imports.")
    sub_processors: list[EntityType] = strawberry.field(description="Sub-processors it engages.")
    engaged_by: list[EntityType] = strawberry.field(description="Processors that engage it.")
    lead_authority: ControllerAuthorityType | None = strawberry.field(
        description="A controller's lead supervisory authority (Art. 56); none is a gap."
    )
    complaint_authority: ControllerAuthorityType | None = strawberry.field(
        description="Where a data subject's complaint about the controller goes (Art. 77)."
    )
    documents: list[DocumentRef] = strawberry.field(
        description="The documents it is a party to (contracts, DPAs, SCCs)."
    )


@strawberry.type(name="DataCategory")
class DataCategoryType:
    key: str
    name: str
    description: str | None
    special_category: bool
    parent_key: str | None = strawberry.field(
        description="The key without its last segment; null at the top."
    )


@strawberry.type(name="SubjectCategory")
class SubjectCategoryType:
    key: str
    name: str
    description: str | None


@strawberry.type(name="LegalBasisFor")
class LegalBasisForType:
    subject_category: SubjectCategoryType
    legal_basis: LegalBasis
    note: str | None


@strawberry.type(name="Purpose")
class PurposeType:
    key: str
    name: str
    description: str | None
    legal_bases: list[LegalBasisForType]


@strawberry.type(name="Retention")
class RetentionType:
    data_category: DataCategoryType
    days: int | None
    criterion: str
    stated: bool = strawberry.field(
        description="False while the source states no retention: a gap (R-INV-6)."
    )


@strawberry.type(name="SecurityMeasure")
class SecurityMeasureType:
    key: str
    description: str
    enforced_by_software: bool
    contract_reference: str | None = strawberry.field(
        description="The contract binding the party that takes the measure (a processor's SCCs)."
    )


@strawberry.type(name="Activity", description="A processing activity and its Art. 30 facts.")
class ActivityType(Node):
    slug: str
    name: str
    description: str
    source: str
    automated_decisions: str
    arrangement_summary: str = strawberry.field(
        description="The essence of the Art. 26 joint-controller arrangement."
    )
    operations: list[str]
    recipient_categories: list[str]
    transfer_summary: str
    dpia_status: DpiaStatus = strawberry.field(
        description="Where the activity stands with its impact assessment (Art. 35)."
    )
    dpia_reference: str | None = strawberry.field(description="The DPIA document, if any.")
    lia_reference: str | None = strawberry.field(
        description="The legitimate interests assessment, if any."
    )
    retired_on: date | None = strawberry.field(
        description="From this day the activity takes part in no answer; its record stays."
    )
    retirement_reason: str | None
    notice_last_updated: str | None = strawberry.field(
        description="When the source notice was last updated (e.g. 2022-08)."
    )
    notice_authoritative_language: str | None = strawberry.field(
        description="The language whose version of the notice governs."
    )
    platform: str | None = strawberry.field(
        description="The platform through which the data is processed."
    )
    security_measures: list[SecurityMeasureType]
    subject_categories: list[SubjectCategoryType]
    data_categories: list[RetentionType]
    purposes: list[PurposeType]
    joint_controllers: list[EntityType]
    processors: list[EntityType]


@strawberry.type(name="Processing", description="An entity processing an activity's data.")
class ProcessingType:
    entity: EntityType
    role: ProcessingRole
    activity: ActivityType
    purposes: list[PurposeType]
    paths: list[list[FlowType]] = strawberry.field(
        description="Each route by which the data reaches the entity, hop by hop."
    )


@strawberry.type(name="EntityGap")
class EntityGapType:
    entity: EntityType
    reasons: list[EntityGapReason]
    note: str | None


@strawberry.type(name="RetentionGap", description="A retention not stated (R-INV-6).")
class RetentionGapType:
    activity: str = strawberry.field(description="The activity's slug.")
    retention: RetentionType


@strawberry.type(name="RecordGaps")
class RecordGapsType:
    transfers: list[FlowType] = strawberry.field(
        description="Flows out of the EEA with no valid safeguard (R-INV-2, R-INV-3)."
    )
    entities: list[EntityGapType] = strawberry.field(
        description="Entities missing Art. 30 data (R-INV-5)."
    )
    retention: list[RetentionGapType] = strawberry.field(
        description="Data categories whose retention is not stated (R-INV-6)."
    )
    no_privacy_contact: bool = strawberry.field(
        description="The group's privacy contact (Art. 30(1)(a)) is not configured:"
        " set REGISTRY_PRIVACY_CONTACT."
    )


@strawberry.type(name="ControllerRecord", description="Art. 30(1), fields (a) to (g).")
class ControllerRecordType:
    controller: EntityType
    contact: str | None = strawberry.field(
        description="The controller's contact, else the group's privacy contact; null (a gap)"
        " while neither is on record."
    )
    joint_controllers: list[EntityType]
    activities: list[ActivityType]
    recipients: list[EntityType]
    transfers: list[FlowType]
    gaps: list[EntityGapType]
    retention_gaps: list[RetentionGapType] = strawberry.field(
        description="The activities' data categories whose retention is not stated (R-INV-6)."
    )


@strawberry.type(name="ProcessorRecord", description="Art. 30(2), fields (a) to (d).")
class ProcessorRecordType:
    processor: EntityType
    controllers: list[EntityType]
    activities: list[ActivityType]
    sub_processors: list[EntityType]
    transfers: list[FlowType]
    gaps: list[EntityGapType]
