"""GraphQL types of data-subject requests. Requesters' contact details are never shown."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from registry import clock
from registry.recordings.types import CallType
from registry.rights.deadlines import deadline
from registry.rights.models import (
    FeeGround,
    Objection,
    Package,
    PackageKind,
    RecipientNotice,
    RefusalGround,
    RequestKind,
    RequestStatus,
    RequestStep,
    Restriction,
    RightsRequest,
)
from registry.rights.steps import OPEN, Step

for enum in (FeeGround, PackageKind, RefusalGround, RequestKind, RequestStatus):
    strawberry.enum(enum)
strawberry.enum(Step, name="RightsStep")


@strawberry.type(name="RequestStep", description="A step of a request: who, when, what.")
class RequestStepType:
    status: RequestStatus
    action: str
    at: datetime
    actor: str
    detail: dict[str, Any] | None = strawberry.field(graphql_type=JSON | None)

    @classmethod
    def of(cls, row: RequestStep) -> RequestStepType:
        return cls(
            status=row.status, action=row.action, at=row.at, actor=row.actor, detail=row.detail
        )


@strawberry.type(name="RecipientNotice", description="Art. 19: a recipient to be told.")
class RecipientNoticeType:
    id: int
    recipient: str
    owed_since: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    note: str | None

    @classmethod
    def of(cls, row: RecipientNotice, recipient: str) -> RecipientNoticeType:
        return cls(
            id=row.id,
            recipient=recipient,
            owed_since=row.owed_since,
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
            note=row.note,
        )


@strawberry.type(name="Package", description="A sealed answer, downloaded at `downloadPath`.")
class PackageType:
    id: str
    kind: PackageKind
    file_name: str
    media_type: str
    built_at: datetime
    expires_at: datetime
    size: int
    downloads: int
    download_path: str = strawberry.field(
        description="GET it with a bearer token; each download is audited."
    )

    @classmethod
    def of(cls, row: Package) -> PackageType:
        return cls(
            id=row.id,
            kind=row.kind,
            file_name=row.file_name,
            media_type=row.media_type,
            built_at=row.built_at,
            expires_at=row.expires_at,
            size=row.size,
            downloads=row.downloads,
            download_path=f"/packages/{row.id}",
        )


@strawberry.type(name="Restriction")
class RestrictionType:
    id: int
    subject_id: int
    reason: str
    starts_at: datetime
    ends_on: date
    lifted_at: datetime | None

    @classmethod
    def of(cls, row: Restriction) -> RestrictionType:
        return cls(
            id=row.id,
            subject_id=row.subject_id,
            reason=row.reason,
            starts_at=row.starts_at,
            ends_on=row.ends_on,
            lifted_at=row.lifted_at,
        )


@strawberry.type(name="Objection")
class ObjectionType:
    id: int
    subject_id: int
    lodged_at: datetime
    compelling_grounds: str | None
    grounds_recorded_by: str | None
    grounds_recorded_at: datetime | None

    @classmethod
    def of(cls, row: Objection) -> ObjectionType:
        return cls(
            id=row.id,
            subject_id=row.subject_id,
            lodged_at=row.lodged_at,
            compelling_grounds=row.compelling_grounds,
            grounds_recorded_by=row.grounds_recorded_by,
            grounds_recorded_at=row.grounds_recorded_at,
        )


@strawberry.type(name="RightsRequest")
class RightsRequestType:
    id: int
    kind: RequestKind
    status: RequestStatus
    controller: str
    subject_id: int | None
    by_guardian: bool
    received_at: datetime
    received_by: str
    due_at: datetime = strawberry.field(
        description="30 days or one month after receipt, whichever is first (R-DSR-2)."
    )
    extended_to: datetime | None
    deadline: datetime = strawberry.field(description="The deadline in force.")
    overdue: bool
    extension_reason: str | None
    extension_notified_at: datetime | None
    identity_requested_at: datetime | None
    identity_established_at: datetime | None
    identity_evidence: str | None
    confirmed_at: datetime | None = strawberry.field(
        description="When the requester was told the request is registered (R-DSR-2)."
    )
    answerable: bool = strawberry.field(
        description="False while identity is not established: no answer can be given (R-DSR-3)."
    )
    fee_cents: int | None
    fee_ground: FeeGround | None
    fee_reason: str | None
    refusal_ground: RefusalGround | None
    refusal_reason: str | None
    closed_at: datetime | None
    outcome: dict[str, Any] | None = strawberry.field(graphql_type=JSON | None)
    earlier_requests: list[int] = strawberry.field(
        description="Requests of the same kind by the same person in the year before (R-DSR-4)."
    )
    steps: list[RequestStepType]
    next_actions: list[Step] = strawberry.field(
        description="The steps the caller may take on the request now (the service's table)."
    )
    recipient_notices: list[RecipientNoticeType]
    packages: list[PackageType]

    @classmethod
    def of(
        cls,
        row: RightsRequest,
        *,
        controller: str,
        earlier: list[int],
        steps: list[RequestStepType],
        next_actions: list[Step],
        notices: list[RecipientNoticeType],
        packages: list[PackageType],
    ) -> RightsRequestType:
        due = deadline(row)
        return cls(
            id=row.id,
            kind=row.kind,
            status=row.status,
            controller=controller,
            subject_id=row.subject_id,
            by_guardian=row.by_guardian,
            received_at=row.received_at,
            received_by=row.received_by,
            due_at=row.due_at,
            extended_to=row.extended_to,
            deadline=due,
            overdue=row.status in OPEN and due < clock.now(),
            extension_reason=row.extension_reason,
            extension_notified_at=row.extension_notified_at,
            identity_requested_at=row.identity_requested_at,
            identity_established_at=row.identity_established_at,
            identity_evidence=row.identity_evidence,
            confirmed_at=row.confirmed_at,
            answerable=row.identity_established_at is not None,
            fee_cents=row.fee_cents,
            fee_ground=row.fee_ground,
            fee_reason=row.fee_reason,
            refusal_ground=row.refusal_ground,
            refusal_reason=row.refusal_reason,
            closed_at=row.closed_at,
            outcome=row.outcome,
            earlier_requests=earlier,
            steps=steps,
            next_actions=next_actions,
            recipient_notices=notices,
            packages=packages,
        )


@strawberry.type(name="SubjectMatch", description="A subject found by phone or e-mail.")
class SubjectMatchType:
    subject_id: int
    kind: str
    calls_as_customer: int
    calls_as_agent: int
    recordings: int = strawberry.field(description="Recordings of their calls still held.")
    calls: list[CallType] = strawberry.field(
        description="Every call they took part in, as customer or agent, with its recordings."
    )
