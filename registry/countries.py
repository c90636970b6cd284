"""Tables of countries and the Commission's adequacy decisions.

Shared: the record judges transfers by them, and the recordings ask whether a caller is in
the EU (R-MON-3). Neither reaches into the other's models for them.
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


class Country(Base, table=True):
    __tablename__ = "country"

    code: str = Field(primary_key=True, sa_type=String(2))
    name: str = Field(sa_type=String(100))
    eea: bool = Field(default=False)
    # The EU itself, not the EEA: calls from EU customers are never live-monitored (R-MON-3).
    eu: bool = Field(default=False)


class AdequacyDecision(Base, table=True):
    """An adequacy decision of the Commission (Art. 45) for a country."""

    __tablename__ = "adequacy_decision"

    id: int = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, sa_type=String(80))
    country_code: str = Field(foreign_key="country.code", sa_type=String(2), index=True)
    reference: str = Field(sa_type=String(300))
    scope: AdequacyScope = Field(sa_type=enum_column(AdequacyScope))
    scope_note: str | None = Field(default=None, sa_type=Text)
    adopted_on: date | None = Field(default=None, sa_type=Date)
    valid_until: date | None = Field(default=None, sa_type=Date)
    verified: bool = Field(default=False)
    note: str | None = Field(default=None, sa_type=Text)
