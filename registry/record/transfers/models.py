"""Tables of transfer records (countries and adequacy decisions: registry.countries)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import Date, String, Text, UniqueConstraint
from sqlmodel import Field

from registry._columns import enum_column
from registry.db import Base


class Mechanism(StrEnum):
    SCC_2021_914 = "scc_2021_914"
    ADEQUACY_DECISION = "adequacy_decision"
    BCR = "bcr"
    ART49_DEROGATION = "art49_derogation"
    # Exports under UK GDPR. The IDTA stands alone and has no modules. The UK Addendum
    # only amends the EU SCCs, so one record of it stands for the SCCs and the Addendum
    # signed together: it carries the SCC module the parties' roles call for (R-INV-3).
    UK_IDTA = "uk_idta"
    UK_ADDENDUM = "uk_addendum"


class TransferTerms(Base):
    """A transfer's safeguard and its papers, as they are given: declared once for the table
    and the service's draft, which name the activity and the parties each in their own way
    (the table by id, the draft by slug)."""

    mechanism: Mechanism = Field(sa_type=enum_column(Mechanism))
    scc_module: int | None = None
    derogation: str | None = Field(default=None, sa_type=Text)
    signed_on: date | None = Field(default=None, sa_type=Date)
    tia_reference: str | None = Field(default=None, sa_type=String(300))
    tia_date: date | None = Field(default=None, sa_type=Date)
    supplementary_measures: str | None = Field(default=None, sa_type=Text)
    note: str | None = Field(default=None, sa_type=Text)
    ended_on: date | None = Field(default=None, sa_type=Date)


class Transfer(TransferTerms, table=True):
    """A transfer of an activity's data from an exporter to an importer, and its safeguard."""

    __tablename__ = "transfer"

    id: int = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, sa_type=String(200))
    activity_id: int = Field(foreign_key="activity.id", index=True)
    exporter_id: int = Field(foreign_key="entity.id", index=True)
    importer_id: int = Field(foreign_key="entity.id", index=True)
    destination_country_code: str = Field(foreign_key="country.code", sa_type=String(2))
    adequacy_decision_id: int | None = Field(default=None, foreign_key="adequacy_decision.id")


class TransferDataCategory(Base, table=True):
    __tablename__ = "transfer_data_category"
    __table_args__ = (UniqueConstraint("transfer_id", "data_category_id"),)

    id: int = Field(default=None, primary_key=True)
    transfer_id: int = Field(foreign_key="transfer.id", index=True)
    data_category_id: int = Field(foreign_key="data_category.id")
