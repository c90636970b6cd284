"""Tables of the recordings: subjects, calls, consent, encrypted audio, holds and erasure."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, Index, Integer, LargeBinary, String, Text, text
from sqlmodel import Field

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


class Subject(Base, table=True):
    """A data subject. Identifiers are sealed; blind indexes find them without clear text."""

    __tablename__ = "subject"

    id: int = Field(default=None, primary_key=True)
    kind: SubjectKind = Field(sa_type=enum_column(SubjectKind))
    name_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    phone_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    email_sealed: bytes | None = Field(default=None, sa_type=LargeBinary)
    phone_index: str | None = Field(default=None, index=True, sa_type=String(64))
    email_index: str | None = Field(default=None, index=True, sa_type=String(64))
    # The index secret the two indexes are under; none before the secret could be rotated,
    # which means its first version (registry.upkeep.index_rotation).
    index_secret_version: int | None = Field(default=None, sa_type=Integer)
    country_code: str | None = Field(default=None, foreign_key="country.code", sa_type=String(2))
    principal_handle: str | None = Field(default=None, sa_type=String(80))
    under_16: bool = Field(default=False)
    created_at: datetime = Field(sa_type=UtcDateTime)
    identifiers_erased_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # The customer withdrew consent as a whole: nothing of theirs is recorded or monitored again.
    consent_withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Call(Base, table=True):
    __tablename__ = "call"

    id: str = Field(primary_key=True, sa_type=String(36))
    direction: Direction = Field(sa_type=enum_column(Direction))
    company_id: int = Field(foreign_key="entity.id", index=True)
    agent_id: int | None = Field(default=None, foreign_key="subject.id", index=True)
    customer_id: int = Field(foreign_key="subject.id", index=True)
    customer_country_code: str = Field(foreign_key="country.code", sa_type=String(2))
    started_at: datetime = Field(sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    consent: Consent = Field(default=Consent.PENDING, sa_type=enum_column(Consent))
    monitoring_consent: bool = Field(default=False)
    recording_stopped_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    # Management deleted the start of a refused outbound call: none of it is taken again (R-CON-2).
    start_audio_deleted_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ConsentEvent(Base, table=True):
    """Each step of a call's consent, who took it and when (R-CON-1, R-CON-2)."""

    __tablename__ = "consent_event"

    id: int = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", sa_type=String(36), index=True)
    step: ConsentStep = Field(sa_type=enum_column(ConsentStep))
    at: datetime = Field(sa_type=UtcDateTime)
    actor: str = Field(sa_type=String(80))
    detail: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class Recording(Base, table=True):
    """Sealed audio of a call. ``wrapped_key`` gone means the audio is unreadable everywhere."""

    __tablename__ = "recording"
    # Partial indexes, of the rows their queries ask for alone: a row the sweep erases
    # leaves both, and is written into no index but its key's and its call's (0021).
    __table_args__ = (
        # What the sweep claims, oldest first, without stepping over the erased (0019); every
        # query of the expiry asks for active recordings.
        Index(
            "ix_recording_active_expires_at",
            "expires_at",
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        # The shredded, whose blobs the sweep deletes after an erasure other than its own.
        Index(
            "ix_recording_shredded",
            "id",
            postgresql_where=text("status = 'shredded'"),
            sqlite_where=text("status = 'shredded'"),
        ),
    )

    id: str = Field(primary_key=True, sa_type=String(36))
    call_id: str = Field(foreign_key="call.id", sa_type=String(36), index=True)
    segment: Segment = Field(sa_type=enum_column(Segment))
    made_at: datetime = Field(sa_type=UtcDateTime)
    expires_at: datetime = Field(sa_type=UtcDateTime)
    status: RecordingStatus = Field(
        default=RecordingStatus.ACTIVE, sa_type=enum_column(RecordingStatus)
    )
    key_id: str | None = Field(default=None, sa_type=String(64))
    wrapped_key: bytes | None = Field(default=None, sa_type=LargeBinary)
    blob_key: str = Field(sa_type=String(100))
    size: int = Field(default=0)


class PendingUpload(Base, table=True):
    """An upload under way: its blob may exist, its recording does not yet.

    Committed before the first byte is written and deleted in the transaction that adds the
    recording, so that a blob is never left without a row that accounts for it: an upload
    that died (a crash, kill -9) leaves this row, and the sweep removes its blob once
    ``deadline`` has passed, after which the upload could no longer finish.
    """

    __tablename__ = "pending_upload"

    recording_id: str = Field(primary_key=True, sa_type=String(36))
    call_id: str = Field(foreign_key="call.id", sa_type=String(36), index=True)
    blob_key: str = Field(sa_type=String(100))
    deadline: datetime = Field(index=True, sa_type=UtcDateTime)


class PendingBlobDeletion(Base, table=True):
    """The blobs of a batch of recordings the sweep erased, still to delete.

    Written in the transaction that destroys the batch's keys and marks its recordings
    erased, deleted once the blobs are gone: a sweep killed in between, or a blob store
    down, leaves it, and the next sweep deletes the blobs first. The audio is unreadable
    from the first commit on (its key is gone); only the sealed bytes wait.
    """

    __tablename__ = "pending_blob_deletion"

    id: int = Field(default=None, primary_key=True)
    blob_keys: list[str] = Field(sa_type=JSON)
    erased_at: datetime = Field(sa_type=UtcDateTime)


class Tombstone(Base, table=True):
    """What is left of an erased recording: no personal data, only that it was and why it went."""

    __tablename__ = "tombstone"

    id: int = Field(default=None, primary_key=True)
    recording_id: str = Field(unique=True, sa_type=String(36))
    erased_at: datetime = Field(sa_type=UtcDateTime)
    reason: ErasureReason = Field(sa_type=enum_column(ErasureReason))
    erased_by: str = Field(sa_type=String(80))


class IdentifierTombstone(Base, table=True):
    """What is left of a subject's erased identifiers: when, why and by whom (R-RET-3)."""

    __tablename__ = "identifier_tombstone"

    id: int = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", unique=True)
    erased_at: datetime = Field(sa_type=UtcDateTime)
    reason: ErasureReason = Field(sa_type=enum_column(ErasureReason))
    erased_by: str = Field(sa_type=String(80))


class KeptFromErasure(Base, table=True):
    """An erasure a hold stood against: the recording, the hold, what was asked, by whom and
    when (R-ERA-1, R-RET-2). The recording is kept; this is the record of why."""

    __tablename__ = "kept_from_erasure"

    id: int = Field(default=None, primary_key=True)
    recording_id: str = Field(foreign_key="recording.id", sa_type=String(36), index=True)
    hold_id: int = Field(foreign_key="legal_hold.id")
    reason: ErasureReason = Field(sa_type=enum_column(ErasureReason))
    asked_at: datetime = Field(sa_type=UtcDateTime)
    asked_by: str = Field(sa_type=String(80))


class LegalHold(Base, table=True):
    """Keeps a recording past its retention, on a recorded ground, until an end (R-RET-2)."""

    __tablename__ = "legal_hold"

    id: int = Field(default=None, primary_key=True)
    recording_id: str = Field(foreign_key="recording.id", sa_type=String(36), index=True)
    ground: HoldGround = Field(sa_type=enum_column(HoldGround))
    justification: str = Field(sa_type=Text)
    ends_on: date = Field(sa_type=Date)
    placed_by: str = Field(sa_type=String(80))
    placed_at: datetime = Field(sa_type=UtcDateTime)
    released_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class MonitoringSession(Base, table=True):
    """A live-monitoring session: who listened to which call, why, and when (R-MON-1..3)."""

    __tablename__ = "monitoring_session"

    id: int = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="call.id", sa_type=String(36), index=True)
    monitor: str = Field(sa_type=String(80))
    reason: MonitoringReason = Field(sa_type=enum_column(MonitoringReason))
    started_at: datetime = Field(sa_type=UtcDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SeparateConsent(Base, table=True):
    """A subject's consent to a purpose outside the activity's own (R-CON-4)."""

    __tablename__ = "separate_consent"

    id: int = Field(default=None, primary_key=True)
    subject_id: int = Field(foreign_key="subject.id", index=True)
    purpose: str = Field(sa_type=String(200))
    given_at: datetime = Field(sa_type=UtcDateTime)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class SweepRun(Base, table=True):
    """One sweep that ran to its end, with what it erased and what holds kept from it: the
    evidence of retention the privacy team reads (R-RET-1, R-RET-2), without the audit log,
    which is the security team's alone (R-ACC-6). Counts only, no one's data."""

    __tablename__ = "sweep_run"

    id: int = Field(default=None, primary_key=True)
    finished_at: datetime = Field(index=True, sa_type=UtcDateTime)
    shredded: int = Field(default=0)
    blobs_deleted: int = Field(default=0)
    identifiers_erased: int = Field(default=0)
    expired_packages_erased: int = Field(default=0)
    unfinished_uploads_removed: int = Field(default=0)
    # Recordings past their period that a hold in force kept when the sweep ended.
    kept_by_holds: int = Field(default=0)
