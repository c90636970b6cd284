"""Tables of disclosures to authorities (R-ACC-5): request, review, release."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import String, Text
from sqlmodel import Field

from registry._columns import UtcDateTime, enum_column
from registry.db import Base


class DisclosureStatus(StrEnum):
    RECEIVED = "received"
    APPROVED = "approved"
    REJECTED = "rejected"
    RELEASED = "released"


class AuthorityRequest(Base, table=True):
    """An authority's explicit legal request for recordings, and its review."""

    __tablename__ = "authority_request"

    id: int = Field(default=None, primary_key=True)
    authority: str = Field(sa_type=String(200))
    reference: str = Field(sa_type=String(200))
    legal_basis: str = Field(sa_type=Text)
    scope: str = Field(sa_type=Text)
    status: DisclosureStatus = Field(index=True, sa_type=enum_column(DisclosureStatus))
    received_at: datetime = Field(sa_type=UtcDateTime)
    received_by: str = Field(sa_type=String(80))
    # The review: necessity of the communication, weighed against compatibility with the
    # purpose the data was collected for (R-ACC-5).
    necessity: str | None = Field(default=None, sa_type=Text)
    compatibility: str | None = Field(default=None, sa_type=Text)
    reviewed_by: str | None = Field(default=None, sa_type=String(80))
    reviewed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    released_by: str | None = Field(default=None, sa_type=String(80))
    released_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class DisclosureItem(Base, table=True):
    """A recording an authority asked for; ``released_at`` says it went out."""

    __tablename__ = "disclosure_item"

    id: int = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="authority_request.id", index=True)
    recording_id: str = Field(foreign_key="recording.id", sa_type=String(36))
    released_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Why an item asked for was not released (erased meanwhile, outside the approval).
    withheld_reason: str | None = Field(default=None, sa_type=Text)
