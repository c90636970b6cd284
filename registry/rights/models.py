"""Tables of the data-subject rights workflow (R-DSR-1..5) and of the packages it hands out."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, Integer, LargeBinary, String, Text
from sqlmodel import Field

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


class RightsRequest(Base, table=True):
    """A data subject's request, from receipt to its answer.

    The requester's contact details are personal data: only their blind indexes are kept,
    to find the subject and to tell repeated requests apart; what a rectification asks
    for is sealed.
    """

    __tablename__ = "rights_request"

    id: int = Field(default=None, primary_key=True)
    kind: RequestKind = Field(index=True, sa_type=enum_column(RequestKind))
    status: RequestStatus = Field(index=True, sa_type=enum_column(RequestStatus))
    # The joint controller the request was made to (any of them answers for all, Art. 26(3)).
    controller_id: int = Field(foreign_key="entity.id", index=True)
    subject_id: int | None = Field(default=None, foreign_key="subject.id", index=True)
    phone_index: str | None = Field(default=None, index=True, sa_type=String(64))
    email_index: str | None = Field(default=None, index=True, sa_type=String(64))
    # The index secret the two indexes are under, as for a subject.
    index_secret_version: int | None = Field(default=None, sa_type=Integer)
    by_guardian: bool = Field(default=False)
    received_at: datetime = Field(sa_type=UtcDateTime)
    received_by: str = Field(sa_type=String(80))
    due_at: datetime = Field(index=True, sa_type=UtcDateTime)
    extended_to: datetime | None = Field(default=None, sa_type=UtcDateTime)
    extension_reason: str | None = Field(default=None, sa_type=Text)
    extension_notified_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    identity_requested_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    identity_established_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    identity_evidence: str | None = Field(default=None, sa_type=Text)
    # R-DSR-2: when the requester was told the request is registered.
    confirmed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    fee_cents: int | None = Field(default=None, sa_type=Integer)
    fee_ground: FeeGround | None = Field(default=None, sa_type=enum_column(FeeGround))
    fee_reason: str | None = Field(default=None, sa_type=Text)
    refusal_ground: RefusalGround | None = Field(default=None, sa_type=enum_column(RefusalGround))
    refusal_reason: str | None = Field(default=None, sa_type=Text)
    closed_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # What the request asks beyond its kind (a rectification's corrected identifiers),
    # sealed because it is personal data.
    details_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    # What was done, without personal data: counts, recording IDs kept and why.
    outcome: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class RequestStep(Base, table=True):
    """Each step of a request: who took it, when, and what it recorded."""

    __tablename__ = "rights_request_step"

    id: int = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="rights_request.id", index=True)
    status: RequestStatus = Field(sa_type=enum_column(RequestStatus))
    action: str = Field(sa_type=String(60))
    at: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(sa_type=String(80))
    detail: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class Restriction(Base, table=True):
    """While in force the subject's recordings are stored, nothing more, unless consented."""

    __tablename__ = "restriction"

    id: int = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", index=True)
    request_id: int | None = Field(default=None, foreign_key="rights_request.id")
    reason: str = Field(sa_type=Text)
    starts_at: datetime = Field(sa_type=UtcDateTime)
    ends_on: date = Field(sa_type=Date)
    lifted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    lifted_by: str | None = Field(default=None, sa_type=String(80))


class Objection(Base, table=True):
    """An objection (Art. 21). An employee's stops evaluation until compelling grounds are
    recorded; a customer's took the effect of a withdrawal of consent (R-DSR-1)."""

    __tablename__ = "objection"

    id: int = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", index=True)
    request_id: int | None = Field(default=None, foreign_key="rights_request.id")
    lodged_at: datetime = Field(sa_type=UtcDateTime)
    # An employee's evaluation goes on only once compelling legitimate grounds (or legal
    # claims) are recorded.
    compelling_grounds: str | None = Field(default=None, sa_type=Text)
    grounds_recorded_by: str | None = Field(default=None, sa_type=String(80))
    grounds_recorded_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class RecipientNotice(Base, table=True):
    """Art. 19: a recipient to be told of a rectification, erasure or restriction."""

    __tablename__ = "recipient_notice"

    id: int = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="rights_request.id", index=True)
    entity_id: int = Field(foreign_key="entity.id")
    owed_since: datetime = Field(sa_type=UtcDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    acknowledged_by: str | None = Field(default=None, sa_type=String(80))
    note: str | None = Field(default=None, sa_type=Text)


class PackageKind(StrEnum):
    ACCESS = "access"
    PORTABILITY = "portability"
    ARRANGEMENT = "arrangement"
    DISCLOSURE = "disclosure"


class Package(Base, table=True):
    """A file handed out: an access or portability answer, or a disclosure to an authority.

    It may hold decrypted audio, so it is sealed like a recording, under its own data key
    (AAD = package ID), and downloaded only through an audited route.
    """

    __tablename__ = "package"

    id: str = Field(primary_key=True, sa_type=String(36))
    kind: PackageKind = Field(sa_type=enum_column(PackageKind))
    rights_request_id: int | None = Field(default=None, foreign_key="rights_request.id", index=True)
    authority_request_id: int | None = Field(
        default=None, foreign_key="authority_request.id", index=True
    )
    file_name: str = Field(sa_type=String(120))
    media_type: str = Field(sa_type=String(80))
    built_at: datetime = Field(sa_type=UtcDateTime)
    built_by: str = Field(sa_type=String(80))
    expires_at: datetime = Field(index=True, sa_type=UtcDateTime)
    key_id: str | None = Field(default=None, sa_type=String(64))
    wrapped_key: bytes | None = Field(default=None, sa_type=LargeBinary)
    blob_key: str = Field(sa_type=String(100))
    size: int = Field(default=0)
    downloads: int = Field(default=0)
