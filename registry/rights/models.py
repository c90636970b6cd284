"""Tables of the data-subject rights workflow (R-DSR-1..5) and of the packages it hands out."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry._columns import UtcDateTime, enum_column
from registry.db import Base


class RequestKind(StrEnum):
    ACCESS = "access"
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    PORTABILITY = "portability"
    CONSENT_WITHDRAWAL = "consent_withdrawal"
    # Art. 26: the essence of the joint-controller arrangement (R-DSR-5).
    ARRANGEMENT = "arrangement"
    # A parent or guardian asks that a child's data be deleted (R-MIN-1).
    CHILD_DELETION = "child_deletion"


class RequestStatus(StrEnum):
    RECEIVED = "received"
    IDENTITY_PENDING = "identity_pending"
    REGISTERED = "registered"
    IN_PROGRESS = "in_progress"
    EXTENDED = "extended"
    COMPLETED = "completed"
    REFUSED = "refused"


class FeeGround(StrEnum):
    """R-DSR-4: the only grounds for charging a reasonable fee."""

    MANIFESTLY_UNFOUNDED = "manifestly_unfounded"
    REPETITIVE = "repetitive"
    EXCESSIVE = "excessive"


class RefusalGround(StrEnum):
    # R-DSR-4: the only grounds for a fee or a refusal of the request as a whole.
    MANIFESTLY_UNFOUNDED = "manifestly_unfounded"
    REPETITIVE = "repetitive"
    EXCESSIVE = "excessive"
    # R-DSR-3: without proof of identity the request cannot be answered.
    IDENTITY_NOT_ESTABLISHED = "identity_not_established"
    # R-ERA-1: all the data is needed for legal claims.
    LEGAL_CLAIMS = "legal_claims"


class RightsRequest(Base):
    """A data subject's request, from receipt to its answer.

    The requester's contact details are personal data: only their blind indexes are kept,
    to find the subject and to tell repeated requests apart; what a rectification asks
    for is sealed.
    """

    __tablename__ = "rights_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[RequestKind] = mapped_column(enum_column(RequestKind), index=True)
    status: Mapped[RequestStatus] = mapped_column(enum_column(RequestStatus), index=True)
    # The joint controller the request was made to (any of them answers for all, Art. 26(3)).
    controller_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), index=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"), index=True)
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    email_index: Mapped[str | None] = mapped_column(String(64), index=True)
    by_guardian: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    received_by: Mapped[str] = mapped_column(String(80))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    extended_to: Mapped[datetime | None] = mapped_column(UtcDateTime)
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extension_notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    identity_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    identity_established_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    identity_evidence: Mapped[str | None] = mapped_column(Text)
    # R-DSR-2: when the requester was told the request is registered.
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    fee_cents: Mapped[int | None] = mapped_column(Integer)
    fee_ground: Mapped[FeeGround | None] = mapped_column(enum_column(FeeGround))
    fee_reason: Mapped[str | None] = mapped_column(Text)
    refusal_ground: Mapped[RefusalGround | None] = mapped_column(enum_column(RefusalGround))
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # What the request asks beyond its kind (a rectification's corrected identifiers),
    # sealed because it is personal data.
    details_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # What was done, without personal data: counts, recording IDs kept and why.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class RequestStep(Base):
    """Each step of a request: who took it, when, and what it recorded."""

    __tablename__ = "rights_request_step"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("rights_request.id"), index=True)
    status: Mapped[RequestStatus] = mapped_column(enum_column(RequestStatus))
    action: Mapped[str] = mapped_column(String(60))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Restriction(Base):
    """While in force the subject's recordings are stored, nothing more, unless consented."""

    __tablename__ = "restriction"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("rights_request.id"))
    reason: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_on: Mapped[date] = mapped_column(Date)
    lifted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    lifted_by: Mapped[str | None] = mapped_column(String(80))


class Objection(Base):
    """An objection (Art. 21). An employee's stops evaluation until compelling grounds are
    recorded; a customer's took the effect of a withdrawal of consent (R-DSR-1)."""

    __tablename__ = "objection"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    request_id: Mapped[int | None] = mapped_column(ForeignKey("rights_request.id"))
    lodged_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # An employee's evaluation goes on only once compelling legitimate grounds (or legal
    # claims) are recorded.
    compelling_grounds: Mapped[str | None] = mapped_column(Text)
    grounds_recorded_by: Mapped[str | None] = mapped_column(String(80))
    grounds_recorded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class RecipientNotice(Base):
    """Art. 19: a recipient to be told of a rectification, erasure or restriction."""

    __tablename__ = "recipient_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("rights_request.id"), index=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entity.id"))
    owed_since: Mapped[datetime] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(80))
    note: Mapped[str | None] = mapped_column(Text)


class PackageKind(StrEnum):
    ACCESS = "access"
    PORTABILITY = "portability"
    ARRANGEMENT = "arrangement"
    DISCLOSURE = "disclosure"


class Package(Base):
    """A file handed out: an access or portability answer, or a disclosure to an authority.

    It may hold decrypted audio, so it is sealed like a recording, under its own data key
    (AAD = package ID), and downloaded only through an audited route.
    """

    __tablename__ = "package"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[PackageKind] = mapped_column(enum_column(PackageKind))
    rights_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("rights_request.id"), index=True
    )
    authority_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("authority_request.id"), index=True
    )
    file_name: Mapped[str] = mapped_column(String(120))
    media_type: Mapped[str] = mapped_column(String(80))
    built_at: Mapped[datetime] = mapped_column(UtcDateTime)
    built_by: Mapped[str] = mapped_column(String(80))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    key_id: Mapped[str | None] = mapped_column(String(64))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    blob_key: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(default=0)
    downloads: Mapped[int] = mapped_column(default=0)
