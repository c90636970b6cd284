"""Tables of the inventory: entities, the processing activity and its taxonomy."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, String, Text, UniqueConstraint
from sqlmodel import Field

from registry._columns import enum_column
from registry.db import Base


class EntityKind(StrEnum):
    GROUP_COMPANY = "group_company"
    PROCESSOR = "processor"
    SUB_PROCESSOR = "sub_processor"
    AUTHORITY = "authority"


class PartyRole(StrEnum):
    JOINT_CONTROLLER = "joint_controller"
    PROCESSOR = "processor"


class LegalBasis(StrEnum):
    CONSENT = "art6_1_a"
    CONTRACT = "art6_1_b"
    LEGAL_OBLIGATION = "art6_1_c"
    VITAL_INTERESTS = "art6_1_d"
    PUBLIC_TASK = "art6_1_e"
    LEGITIMATE_INTERESTS = "art6_1_f"


class DpiaStatus(StrEnum):
    """Where the activity stands with its data protection impact assessment (Art. 35)."""

    NOT_ASSESSED = "not_assessed"
    NOT_REQUIRED = "not_required"
    REQUIRED = "required"
    IN_PROGRESS = "in_progress"
    DONE = "done"


class EntityDraft(Base):
    """An entity's fields as they are given: declared once for the table, the service's input,
    the seeds and, later, the rows of an import. The table adds its identity and retirement.

    Building one validates the types; the service cleans and checks the values (blank text,
    lengths, a known country) before anything is stored.
    """

    slug: str = Field(unique=True, sa_type=String(80))
    kind: EntityKind = Field(sa_type=enum_column(EntityKind))
    known_as: str | None = Field(default=None, sa_type=String(200))
    legal_name: str = Field(sa_type=String(300))
    registered_office: str | None = Field(default=None, sa_type=Text)
    country_code: str = Field(foreign_key="country.code", sa_type=String(2), index=True)
    contact: str | None = Field(default=None, sa_type=Text)
    dpo: str | None = Field(default=None, sa_type=Text)
    representative: str | None = Field(default=None, sa_type=Text)
    verified: bool = Field(default=False)
    verification_note: str | None = Field(default=None, sa_type=Text)
    # The EU-US Data Privacy Framework covers only certified organisations.
    dpf_certified: bool = Field(default=False)
    notice_number: int | None = None
    active_from: date | None = Field(default=None, sa_type=Date)


class Entity(EntityDraft, table=True):
    """A legal person that takes part in processing: a group company, processor or authority."""

    __tablename__ = "entity"

    id: int = Field(default=None, primary_key=True)
    retired_on: date | None = Field(default=None, sa_type=Date)
    retirement_reason: str | None = Field(default=None, sa_type=Text)


class Engagement(Base, table=True):
    """A processor engaging a sub-processor (Art. 28(2) and (4))."""

    __tablename__ = "engagement"
    __table_args__ = (UniqueConstraint("processor_id", "sub_processor_id"),)

    id: int = Field(default=None, primary_key=True)
    processor_id: int = Field(foreign_key="entity.id", index=True)
    sub_processor_id: int = Field(foreign_key="entity.id", index=True)
    since: date | None = Field(default=None, sa_type=Date)
    ended_on: date | None = Field(default=None, sa_type=Date)


class DataCategory(Base, table=True):
    """A node of the dotted data taxonomy (``user.contact.email``)."""

    __tablename__ = "data_category"

    id: int = Field(default=None, primary_key=True)
    key: str = Field(unique=True, sa_type=String(120))
    name: str = Field(sa_type=String(200))
    description: str | None = Field(default=None, sa_type=Text)
    special_category: bool = Field(default=False)


class SubjectCategory(Base, table=True):
    __tablename__ = "subject_category"

    id: int = Field(default=None, primary_key=True)
    key: str = Field(unique=True, sa_type=String(80))
    name: str = Field(sa_type=String(200))
    description: str | None = Field(default=None, sa_type=Text)


class ActivityDraft(Base):
    """An activity's own Art. 30 facts as they are given: declared once for the table, the
    seeds and, later, the privacy team's edits. Its parties, purposes, data and security
    measures are declared where they live."""

    slug: str = Field(unique=True, sa_type=String(80))
    name: str = Field(sa_type=String(300))
    description: str = Field(sa_type=Text)
    source: str = Field(sa_type=Text)
    automated_decisions: str = Field(sa_type=Text)
    arrangement_summary: str = Field(sa_type=Text)
    operations: list[str] = Field(default_factory=list, sa_type=JSON)
    recipient_categories: list[str] = Field(default_factory=list, sa_type=JSON)
    transfer_summary: str = Field(sa_type=Text)
    dpia_status: DpiaStatus = Field(
        default=DpiaStatus.NOT_ASSESSED, sa_type=enum_column(DpiaStatus)
    )
    # Where the DPIA and the legitimate interests assessment are kept (a document's name).
    dpia_reference: str | None = Field(default=None, sa_type=String(300))
    lia_reference: str | None = Field(default=None, sa_type=String(300))
    # The notice the activity is taken from: when it was last updated ("2022-08": the notice
    # gives a month), which language's version governs, and the platform it names.
    notice_last_updated: str | None = Field(default=None, sa_type=String(10))
    notice_authoritative_language: str | None = Field(default=None, sa_type=String(40))
    platform: str | None = Field(default=None, sa_type=Text)


class Activity(ActivityDraft, table=True):
    """A processing activity: one Art. 30 record shared by its joint controllers."""

    __tablename__ = "activity"

    id: int = Field(default=None, primary_key=True)
    retired_on: date | None = Field(default=None, sa_type=Date)
    retirement_reason: str | None = Field(default=None, sa_type=Text)
    security_measures: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)


class ActivityParty(Base, table=True):
    __tablename__ = "activity_party"
    __table_args__ = (UniqueConstraint("activity_id", "entity_id"),)

    id: int = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="activity.id", index=True)
    entity_id: int = Field(foreign_key="entity.id", index=True)
    role: PartyRole = Field(sa_type=enum_column(PartyRole))


class ActivitySubject(Base, table=True):
    __tablename__ = "activity_subject"
    __table_args__ = (UniqueConstraint("activity_id", "subject_category_id"),)

    id: int = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="activity.id", index=True)
    subject_category_id: int = Field(foreign_key="subject_category.id")


class ActivityDataCategory(Base, table=True):
    """A data category processed by an activity, with how long it is kept (R-INV-6)."""

    __tablename__ = "activity_data_category"
    __table_args__ = (UniqueConstraint("activity_id", "data_category_id"),)

    id: int = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="activity.id", index=True)
    data_category_id: int = Field(foreign_key="data_category.id")
    retention_days: int | None = None
    retention_criterion: str = Field(sa_type=Text)
    # False while the source states no retention for the category: the criterion then says
    # so, and the record lists the category as a gap (R-INV-6) until a retention is given.
    retention_stated: bool = Field(default=True)


class Purpose(Base, table=True):
    __tablename__ = "purpose"
    __table_args__ = (UniqueConstraint("activity_id", "key"),)

    id: int = Field(default=None, primary_key=True)
    activity_id: int = Field(foreign_key="activity.id", index=True)
    key: str = Field(sa_type=String(80))
    name: str = Field(sa_type=String(300))
    description: str | None = Field(default=None, sa_type=Text)


class PurposeBasis(Base, table=True):
    """The legal basis of a purpose for one category of data subjects."""

    __tablename__ = "purpose_basis"
    __table_args__ = (UniqueConstraint("purpose_id", "subject_category_id"),)

    id: int = Field(default=None, primary_key=True)
    purpose_id: int = Field(foreign_key="purpose.id", index=True)
    subject_category_id: int = Field(foreign_key="subject_category.id")
    legal_basis: LegalBasis = Field(sa_type=enum_column(LegalBasis))
    note: str | None = Field(default=None, sa_type=Text)
