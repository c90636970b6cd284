"""Tables of the inventory: entities, the processing activity and its taxonomy."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

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


class Entity(Base):
    """A legal person that takes part in processing: a group company, processor or authority."""

    __tablename__ = "entity"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[EntityKind] = mapped_column(enum_column(EntityKind))
    known_as: Mapped[str | None] = mapped_column(String(200))
    legal_name: Mapped[str] = mapped_column(String(300))
    registered_office: Mapped[str | None] = mapped_column(Text)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    contact: Mapped[str | None] = mapped_column(Text)
    dpo: Mapped[str | None] = mapped_column(Text)
    representative: Mapped[str | None] = mapped_column(Text)
    verified: Mapped[bool] = mapped_column(default=False)
    verification_note: Mapped[str | None] = mapped_column(Text)
    # The EU-US Data Privacy Framework covers only certified organisations.
    dpf_certified: Mapped[bool] = mapped_column(default=False)
    notice_number: Mapped[int | None]
    active_from: Mapped[date | None] = mapped_column(Date)
    retired_on: Mapped[date | None] = mapped_column(Date)
    retirement_reason: Mapped[str | None] = mapped_column(Text)


class Engagement(Base):
    """A processor engaging a sub-processor (Art. 28(2) and (4))."""

    __tablename__ = "engagement"
    __table_args__ = (UniqueConstraint("processor_id", "sub_processor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    processor_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), index=True)
    sub_processor_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), index=True)
    since: Mapped[date | None] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)


class DataCategory(Base):
    """A node of the dotted data taxonomy (``user.contact.email``)."""

    __tablename__ = "data_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    special_category: Mapped[bool] = mapped_column(default=False)


class SubjectCategory(Base):
    __tablename__ = "subject_category"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)


class Activity(Base):
    """A processing activity: one Art. 30 record shared by its joint controllers."""

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    automated_decisions: Mapped[str] = mapped_column(Text)
    arrangement_summary: Mapped[str] = mapped_column(Text)
    operations: Mapped[list[str]] = mapped_column(JSON, default=list)
    recipient_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    security_measures: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    transfer_summary: Mapped[str] = mapped_column(Text)


class ActivityParty(Base):
    __tablename__ = "activity_party"
    __table_args__ = (UniqueConstraint("activity_id", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), index=True)
    role: Mapped[PartyRole] = mapped_column(enum_column(PartyRole))


class ActivitySubject(Base):
    __tablename__ = "activity_subject"
    __table_args__ = (UniqueConstraint("activity_id", "subject_category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    subject_category_id: Mapped[int] = mapped_column(ForeignKey("subject_category.id"))


class ActivityDataCategory(Base):
    """A data category processed by an activity, with how long it is kept (R-INV-6)."""

    __tablename__ = "activity_data_category"
    __table_args__ = (UniqueConstraint("activity_id", "data_category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    data_category_id: Mapped[int] = mapped_column(ForeignKey("data_category.id"))
    retention_days: Mapped[int | None]
    retention_criterion: Mapped[str] = mapped_column(Text)


class Purpose(Base):
    __tablename__ = "purpose"
    __table_args__ = (UniqueConstraint("activity_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    key: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)


class PurposeBasis(Base):
    """The legal basis of a purpose for one category of data subjects."""

    __tablename__ = "purpose_basis"
    __table_args__ = (UniqueConstraint("purpose_id", "subject_category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose_id: Mapped[int] = mapped_column(ForeignKey("purpose.id"), index=True)
    subject_category_id: Mapped[int] = mapped_column(ForeignKey("subject_category.id"))
    legal_basis: Mapped[LegalBasis] = mapped_column(enum_column(LegalBasis))
    note: Mapped[str | None] = mapped_column(Text)
