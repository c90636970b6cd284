"""GraphQL types of calls, recordings, holds and monitoring. No identifier is ever shown."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from registry.access.policy import Action
from registry.graphql.context import Info
from registry.recordings.models import (
    Call,
    Consent,
    ConsentEvent,
    ConsentStep,
    Direction,
    ErasureReason,
    HoldGround,
    IdentifierTombstone,
    LegalHold,
    MonitoringReason,
    MonitoringSession,
    Recording,
    RecordingStatus,
    Segment,
    Subject,
    SubjectKind,
    SweepRun,
    Tombstone,
)

for enum in (
    Consent,
    ConsentStep,
    Direction,
    ErasureReason,
    HoldGround,
    MonitoringReason,
    RecordingStatus,
    Segment,
    SubjectKind,
):
    strawberry.enum(enum)


@strawberry.type(name="Subject", description="A data subject; identifiers stay sealed.")
class SubjectType:
    id: int
    kind: SubjectKind
    country_code: str | None
    under_16: bool

    @classmethod
    def of(cls, row: Subject) -> SubjectType:
        return cls(id=row.id, kind=row.kind, country_code=row.country_code, under_16=row.under_16)


@strawberry.type(name="LegalHold")
class LegalHoldType:
    id: int
    recording_id: str
    ground: HoldGround
    justification: str
    ends_on: date
    placed_by: str
    placed_at: datetime
    released_at: datetime | None

    @classmethod
    def of(cls, row: LegalHold) -> LegalHoldType:
        return cls(
            id=row.id,
            recording_id=row.recording_id,
            ground=row.ground,
            justification=row.justification,
            ends_on=row.ends_on,
            placed_by=row.placed_by,
            placed_at=row.placed_at,
            released_at=row.released_at,
        )


@strawberry.type(name="Recording")
class RecordingType:
    id: str
    call_id: str
    segment: Segment
    made_at: datetime
    expires_at: datetime
    status: RecordingStatus
    size: int

    @classmethod
    def of(cls, row: Recording) -> RecordingType:
        return cls(
            id=row.id,
            call_id=row.call_id,
            segment=row.segment,
            made_at=row.made_at,
            expires_at=row.expires_at,
            status=row.status,
            size=row.size,
        )


@strawberry.type(name="ConsentEvent")
class ConsentEventType:
    step: ConsentStep
    at: datetime
    actor: str

    @classmethod
    def of(cls, row: ConsentEvent) -> ConsentEventType:
        return cls(step=row.step, at=row.at, actor=row.actor)


# A call's history and recordings are shown only to those who read calls, wherever the call
# appears: its own query, a list, or the payload of a mutation its caller may make.
def _steps(root: CallType, info: Info) -> list[ConsentEventType] | None:
    info.context.require(Action.CALLS_READ)
    return [ConsentEventType.of(step) for step in root.loaded_steps]


def _recordings(root: CallType, info: Info) -> list[RecordingType] | None:
    info.context.require(Action.CALLS_READ)
    return [RecordingType.of(recording) for recording in root.loaded_recordings]


@strawberry.type(name="Call")
class CallType:
    """A call as any caller who may name it sees it; its history and recordings only for
    those who read calls, wherever the call appears (a query or a mutation's payload)."""

    id: str
    direction: Direction
    customer_country_code: str
    started_at: datetime
    ended_at: datetime | None
    consent: Consent
    monitoring_consent: bool
    recording_stopped_at: datetime | None
    start_audio_deleted_at: datetime | None
    loaded_steps: strawberry.Private[list[ConsentEvent]]
    loaded_recordings: strawberry.Private[list[Recording]]

    steps: list[ConsentEventType] | None = strawberry.field(
        resolver=_steps,
        description="Each consent step, who took it and when (calls.read).",
    )
    recordings: list[RecordingType] | None = strawberry.field(
        resolver=_recordings,
        description="The call's recordings (calls.read).",
    )

    @classmethod
    def of(cls, row: Call, steps: list[ConsentEvent], recordings: list[Recording]) -> CallType:
        return cls(
            id=row.id,
            direction=row.direction,
            customer_country_code=row.customer_country_code,
            started_at=row.started_at,
            ended_at=row.ended_at,
            consent=row.consent,
            monitoring_consent=row.monitoring_consent,
            recording_stopped_at=row.recording_stopped_at,
            start_audio_deleted_at=row.start_audio_deleted_at,
            loaded_steps=steps,
            loaded_recordings=recordings,
        )


@strawberry.type(name="MonitoringSession")
class MonitoringSessionType:
    id: int
    call_id: str
    monitor: str
    reason: MonitoringReason
    started_at: datetime
    ended_at: datetime | None

    @classmethod
    def of(cls, row: MonitoringSession) -> MonitoringSessionType:
        return cls(
            id=row.id,
            call_id=row.call_id,
            monitor=row.monitor,
            reason=row.reason,
            started_at=row.started_at,
            ended_at=row.ended_at,
        )


@strawberry.type(name="DeletionOwed", description="Start-of-call audio management must delete.")
class DeletionOwedType:
    call: CallType
    refused_at: datetime
    age_hours: float
    management_notified: bool
    it_notified: bool


@strawberry.type(name="SweepRun")
class SweepRunType:
    finished_at: datetime
    shredded: int
    blobs_deleted: int
    identifiers_erased: int
    expired_packages_erased: int
    unfinished_uploads_removed: int
    kept_by_holds: int = strawberry.field(
        description="Recordings past their period that holds in force kept from this sweep."
    )

    @classmethod
    def of(cls, row: SweepRun) -> SweepRunType:
        return cls(
            finished_at=row.finished_at,
            shredded=row.shredded,
            blobs_deleted=row.blobs_deleted,
            identifiers_erased=row.identifiers_erased,
            expired_packages_erased=row.expired_packages_erased,
            unfinished_uploads_removed=row.unfinished_uploads_removed,
            kept_by_holds=row.kept_by_holds,
        )


@strawberry.type(name="Tombstone")
class TombstoneType:
    """What is left of an erased recording: its ID, when, why and by whom."""

    recording_id: str
    erased_at: datetime
    reason: ErasureReason
    erased_by: str

    @classmethod
    def of(cls, row: Tombstone) -> TombstoneType:
        return cls(
            recording_id=row.recording_id,
            erased_at=row.erased_at,
            reason=row.reason,
            erased_by=row.erased_by,
        )


@strawberry.type(name="IdentifierTombstone")
class IdentifierTombstoneType:
    """What is left of a subject's erased identifiers: the subject's ID, when, why, by whom."""

    subject_id: int
    erased_at: datetime
    reason: ErasureReason
    erased_by: str

    @classmethod
    def of(cls, row: IdentifierTombstone) -> IdentifierTombstoneType:
        return cls(
            subject_id=row.subject_id,
            erased_at=row.erased_at,
            reason=row.reason,
            erased_by=row.erased_by,
        )


@strawberry.type(name="RetentionEvidence")
class RetentionEvidenceType:
    holds_in_force: list[LegalHoldType] = strawberry.field(
        description="Holds in force today, the nearest end first."
    )
    ending_soon_by: date = strawberry.field(
        description="A hold ending on this day or before is ending soon."
    )
    sweeps: list[SweepRunType] = strawberry.field(description="The last sweeps, newest first.")
    tombstones: list[TombstoneType] = strawberry.field(
        description="The last erasures of recordings, newest first."
    )
    identifier_tombstones: list[IdentifierTombstoneType] = strawberry.field(
        description="The last erasures of subjects' identifiers, newest first."
    )
