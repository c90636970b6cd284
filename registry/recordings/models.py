"""Tables of the recordings: subjects, calls, consent, encrypted audio, holds and erasure."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry._columns import UtcDateTime, enum_column
from registry.db import Base


class SubjectKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Consent(StrEnum):
    PENDING = "pending"
    GIVEN = "given"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class ConsentStep(StrEnum):
    IVR_DIGIT_1 = "ivr_digit_1"
    IVR_DIGIT_2 = "ivr_digit_2"
    AGENT_RECORDED_YES = "agent_recorded_yes"
    AGENT_RECORDED_NO = "agent_recorded_no"
    RECORDING_STOPPED = "recording_stopped"
    MANAGEMENT_NOTIFIED = "management_notified"
    IT_NOTIFIED = "it_notified"
    START_AUDIO_DELETED = "start_audio_deleted"
    WITHDRAWN = "withdrawn"


class Segment(StrEnum):
    FULL = "full"
    # Outbound calls: audio recorded before the customer answered the consent question.
    START = "start"


class RecordingStatus(StrEnum):
    ACTIVE = "active"
    # The data key is destroyed; the blob may still await deletion.
    SHREDDED = "shredded"
    ERASED = "erased"


class ErasureReason(StrEnum):
    EXPIRED = "expired"
    CONSENT_REFUSED = "consent_refused"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    ERASURE_REQUEST = "erasure_request"
    MINOR = "minor"
    START_OF_CALL = "start_of_call"


class MonitoringReason(StrEnum):
    SERVICE_QUALITY = "service_quality"
    PROBATION = "probation"
    EMPLOYMENT_CONTRACT = "employment_contract"


class HoldGround(StrEnum):
    LEGAL_CLAIMS = "legal_claims"
    OTHER_LEGITIMATE_INTEREST = "other_legitimate_interest"


class Subject(Base):
    """A data subject. Identifiers are sealed; blind indexes find them without clear text."""

    __tablename__ = "subject"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[SubjectKind] = mapped_column(enum_column(SubjectKind))
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[str | None] = mapped_column(String(64), index=True)
    email_index: Mapped[str | None] = mapped_column(String(64), index=True)
    country_code: Mapped[str | None] = mapped_column(ForeignKey("country.code"))
    principal_handle: Mapped[str | None] = mapped_column(String(80))
    under_16: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    identifiers_erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The customer withdrew consent as a whole: nothing of theirs is recorded or monitored again.
    consent_withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Call(Base):
    __tablename__ = "call"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    direction: Mapped[Direction] = mapped_column(enum_column(Direction))
    company_id: Mapped[int] = mapped_column(ForeignKey("entity.id"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    customer_country_code: Mapped[str] = mapped_column(ForeignKey("country.code"))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    consent: Mapped[Consent] = mapped_column(enum_column(Consent), default=Consent.PENDING)
    monitoring_consent: Mapped[bool] = mapped_column(default=False)
    recording_stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Management deleted the start of a refused outbound call: none of it is taken again (R-CON-2).
    start_audio_deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ConsentEvent(Base):
    """Each step of a call's consent, who took it and when (R-CON-1, R-CON-2)."""

    __tablename__ = "consent_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("call.id"), index=True)
    step: Mapped[ConsentStep] = mapped_column(enum_column(ConsentStep))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(80))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Recording(Base):
    """Sealed audio of a call. ``wrapped_key`` gone means the audio is unreadable everywhere."""

    __tablename__ = "recording"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("call.id"), index=True)
    segment: Mapped[Segment] = mapped_column(enum_column(Segment))
    made_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    status: Mapped[RecordingStatus] = mapped_column(
        enum_column(RecordingStatus), default=RecordingStatus.ACTIVE, index=True
    )
    key_id: Mapped[str | None] = mapped_column(String(64))
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    blob_key: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(default=0)


class PendingUpload(Base):
    """An upload under way: its blob may exist, its recording does not yet.

    Committed before the first byte is written and deleted in the transaction that adds the
    recording, so that a blob is never left without a row that accounts for it: an upload
    that died (a crash, kill -9) leaves this row, and the sweep removes its blob once
    ``deadline`` has passed, after which the upload could no longer finish.
    """

    __tablename__ = "pending_upload"

    recording_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("call.id"), index=True)
    blob_key: Mapped[str] = mapped_column(String(100))
    deadline: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class Tombstone(Base):
    """What is left of an erased recording: no personal data, only that it was and why it went."""

    __tablename__ = "tombstone"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[str] = mapped_column(String(36), unique=True)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[ErasureReason] = mapped_column(enum_column(ErasureReason))
    erased_by: Mapped[str] = mapped_column(String(80))


class IdentifierTombstone(Base):
    """What is left of a subject's erased identifiers: when, why and by whom (R-RET-3)."""

    __tablename__ = "identifier_tombstone"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), unique=True)
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[ErasureReason] = mapped_column(enum_column(ErasureReason))
    erased_by: Mapped[str] = mapped_column(String(80))


class KeptFromErasure(Base):
    """An erasure a hold stood against: the recording, the hold, what was asked, by whom and
    when (R-ERA-1, R-RET-2). The recording is kept; this is the record of why."""

    __tablename__ = "kept_from_erasure"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recording.id"), index=True)
    hold_id: Mapped[int] = mapped_column(ForeignKey("legal_hold.id"))
    reason: Mapped[ErasureReason] = mapped_column(enum_column(ErasureReason))
    asked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    asked_by: Mapped[str] = mapped_column(String(80))


class LegalHold(Base):
    """Keeps a recording past its retention, on a recorded ground, until an end (R-RET-2)."""

    __tablename__ = "legal_hold"

    id: Mapped[int] = mapped_column(primary_key=True)
    recording_id: Mapped[str] = mapped_column(ForeignKey("recording.id"), index=True)
    ground: Mapped[HoldGround] = mapped_column(enum_column(HoldGround))
    justification: Mapped[str] = mapped_column(Text)
    ends_on: Mapped[date] = mapped_column(Date)
    placed_by: Mapped[str] = mapped_column(String(80))
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class MonitoringSession(Base):
    """A live-monitoring session: who listened to which call, why, and when (R-MON-1..3)."""

    __tablename__ = "monitoring_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("call.id"), index=True)
    monitor: Mapped[str] = mapped_column(String(80))
    reason: Mapped[MonitoringReason] = mapped_column(enum_column(MonitoringReason))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SeparateConsent(Base):
    """A subject's consent to a purpose outside the activity's own (R-CON-4)."""

    __tablename__ = "separate_consent"

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(200))
    given_at: Mapped[datetime] = mapped_column(UtcDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
