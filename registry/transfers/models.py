"""Tables of countries, adequacy decisions and transfer records."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry._columns import enum_column
from registry.db import Base


class AdequacyScope(StrEnum):
    WHOLE_COUNTRY = "whole_country"
    # e.g. the EU-US Data Privacy Framework: only organisations certified under it.
    CERTIFIED_ORGANISATIONS = "certified_organisations"


class Mechanism(StrEnum):
    SCC_2021_914 = "scc_2021_914"
    ADEQUACY_DECISION = "adequacy_decision"
    BCR = "bcr"
    ART49_DEROGATION = "art49_derogation"


class Country(Base):
    __tablename__ = "country"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    eea: Mapped[bool] = mapped_column(default=False)
    # The EU itself, not the EEA: calls from EU customers are never live-monitored (R-MON-3).
    eu: Mapped[bool] = mapped_column(default=False)


class AdequacyDecision(Base):
    """An adequacy decision of the Commission (Art. 45) for a country."""

    __tablename__ = "adequacy_decision"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    country_code: Mapped[str] = mapped_column(ForeignKey("country.code"), index=True)
    reference: Mapped[str] = mapped_column(String(300))
    scope: Mapped[AdequacyScope] = mapped_column(enum_column(AdequacyScope))
    scope_note: Mapped[str | None] = mapped_column(Text)
    adopted_on: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    verified: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(Text)


class Transfer(Base):
    """A transfer of an activity's data from an exporter to an importer, and its safeguard."""

    __tablename__ = "transfer"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    exporter_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), index=True)
    importer_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), index=True)
    destination_country_code: Mapped[str] = mapped_column(ForeignKey("country.code"))
    mechanism: Mapped[Mechanism] = mapped_column(enum_column(Mechanism))
    scc_module: Mapped[int | None]
    adequacy_decision_id: Mapped[int | None] = mapped_column(ForeignKey("adequacy_decision.id"))
    derogation: Mapped[str | None] = mapped_column(Text)
    signed_on: Mapped[date | None] = mapped_column(Date)
    tia_reference: Mapped[str | None] = mapped_column(String(300))
    tia_date: Mapped[date | None] = mapped_column(Date)
    supplementary_measures: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    ended_on: Mapped[date | None] = mapped_column(Date)


class TransferDataCategory(Base):
    __tablename__ = "transfer_data_category"
    __table_args__ = (UniqueConstraint("transfer_id", "data_category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("transfer.id"), index=True)
    data_category_id: Mapped[int] = mapped_column(ForeignKey("data_category.id"))
