"""Tables of disclosures to authorities (R-ACC-5): request, review, release."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry._columns import UtcDateTime, enum_column
from registry.db import Base


class DisclosureStatus(StrEnum):
    RECEIVED = "received"
    APPROVED = "approved"
    REJECTED = "rejected"
    RELEASED = "released"


class AuthorityRequest(Base):
    """An authority's explicit legal request for recordings, and its review."""

    __tablename__ = "authority_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    authority: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    status: Mapped[DisclosureStatus] = mapped_column(enum_column(DisclosureStatus), index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_by: Mapped[str] = mapped_column(String(80))
    # The review: necessity of the communication, weighed against compatibility with the
    # purpose the data was collected for (R-ACC-5).
    necessity: Mapped[str | None] = mapped_column(Text)
    compatibility: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str | None] = mapped_column(String(80))
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    released_by: Mapped[str | None] = mapped_column(String(80))
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class DisclosureItem(Base):
    """A recording an authority asked for; ``released_at`` says it went out."""

    __tablename__ = "disclosure_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("authority_request.id"), index=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recording.id"))
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Why an item asked for was not released (erased meanwhile, outside the approval).
    withheld_reason: Mapped[str | None] = mapped_column(Text)
