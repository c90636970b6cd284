"""Tables of countries and the Commission's adequacy decisions.

Shared: the record judges transfers by them, and the recordings ask whether a caller is in
the EU (R-MON-3). Neither reaches into the other's models for them.

Each noun declares its fields once, on a draft that the table inherits: the services and
the seeds take the draft, and the table adds only its identity.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from sqlalchemy import Date, String, Text
from sqlmodel import Field

from registry._columns import enum_column
from registry.db import Base


class AdequacyScope(StrEnum):
    WHOLE_COUNTRY = "whole_country"
    # e.g. the EU-US Data Privacy Framework: only organisations certified under it.
    CERTIFIED_ORGANISATIONS = "certified_organisations"


class CountryDraft(Base):
    """A country as it is given: its ISO 3166-1 alpha-2 code, name and memberships."""

    code: str = Field(primary_key=True, sa_type=String(2))
    name: str = Field(sa_type=String(100))
    eea: bool = Field(default=False)
    # The EU itself, not the EEA: calls from EU customers are never live-monitored (R-MON-3).
    eu: bool = Field(default=False)


class Country(CountryDraft, table=True):
    __tablename__ = "country"


class AdequacyDecisionDraft(Base):
    """An adequacy decision of the Commission (Art. 45) as it is given."""

    slug: str = Field(unique=True, sa_type=String(80))
    country_code: str = Field(foreign_key="country.code", sa_type=String(2), index=True)
    reference: str = Field(sa_type=String(300))
    scope: AdequacyScope = Field(sa_type=enum_column(AdequacyScope))
    scope_note: str | None = Field(default=None, sa_type=Text)
    adopted_on: date | None = Field(default=None, sa_type=Date)
    valid_until: date | None = Field(default=None, sa_type=Date)
    # Where the decision is published: its Official Journal reference or address.
    source: str | None = Field(default=None, sa_type=String(500))
    verified: bool = Field(default=False)
    note: str | None = Field(default=None, sa_type=Text)


class AdequacyDecision(AdequacyDecisionDraft, table=True):
    __tablename__ = "adequacy_decision"

    id: int = Field(default=None, primary_key=True)
