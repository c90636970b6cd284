"""GraphQL of calls, consent, monitoring, holds and erasure: thin wiring over the services.

Audio itself moves over the HTTP routes in ``http.py``, never through GraphQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import strawberry
from sqlalchemy import select
from sqlmodel import col

from registry.access.policy import Action
from registry.audit.models import Outcome
from registry.graphql.context import Info
from registry.graphql.errors import ErrorType
from registry.graphql.loading import grouped
from registry.graphql.mutations import run
from registry.recordings import calls, erasure, evidence, monitoring, retention
from registry.recordings.models import (
    Call,
    ConsentEvent,
    Direction,
    HoldGround,
    MonitoringReason,
    Recording,
    SubjectKind,
)
from registry.recordings.types import (
    CallType,
    DeletionOwedType,
    IdentifierTombstoneType,
    LegalHoldType,
    MonitoringSessionType,
    RecordingType,
    RetentionEvidenceType,
    SubjectType,
    SweepRunType,
    TombstoneType,
)
from registry.rights import minors


async def call_objects(info: Info, rows: Sequence[Call]) -> list[CallType]:
    """Calls with their consent steps and recordings, in two queries whatever their number.

    Steps and recordings are loaded only for a caller who may read them (``CallType``).
    """
    session = info.context.session
    if not info.context.actor.may(Action.CALLS_READ):
        return [CallType.of(row, [], []) for row in rows]
    ids = [row.id for row in rows]
    steps = grouped(
        (e.call_id, e)
        for e in (
            await session.scalars(
                select(ConsentEvent)
                .where(col(ConsentEvent.call_id).in_(ids))
                .order_by(col(ConsentEvent.id))
            )
        ).all()
    )
    recordings = grouped(
        (r.call_id, r)
        for r in (
            await session.scalars(
                select(Recording)
                .where(col(Recording.call_id).in_(ids))
                .order_by(col(Recording.made_at))
            )
        ).all()
    )
    return [CallType.of(row, steps.get(row.id, []), recordings.get(row.id, [])) for row in rows]


@strawberry.input
class SubjectInput:
    kind: SubjectKind
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    country_code: str | None = None
    principal_handle: str | None = None


@strawberry.input
class CallInput:
    direction: Direction
    company: str
    customer: int
    agent: int | None = None
    customer_country: str


@strawberry.type
class SubjectPayload:
    subject: SubjectType | None
    errors: list[ErrorType]


@strawberry.type
class CallPayload:
    call: CallType | None
    errors: list[ErrorType]


@strawberry.type
class RecordingPayload:
    recording: RecordingType | None
    errors: list[ErrorType]


@strawberry.type
class MonitoringPayload:
    session: MonitoringSessionType | None
    errors: list[ErrorType]


@strawberry.type
class HoldPayload:
    hold: LegalHoldType | None
    errors: list[ErrorType]


@strawberry.type
class RecordingsQuery:
    @strawberry.field(description="A call with its consent steps and recordings.")
    async def call(self, info: Info, id: str) -> CallType | None:
        ctx = info.context
        ctx.require(Action.CALLS_READ)
        row = await ctx.session.get(Call, id)
        if row is None:
            return None
        ctx.audit("call", Outcome.ALLOWED, target=f"call:{id}")
        return (await call_objects(info, [row]))[0]

    @strawberry.field(
        description="Start-of-call audio still to be deleted, oldest first (R-CON-2)."
    )
    async def deletions_owed(self, info: Info) -> list[DeletionOwedType]:
        ctx = info.context
        owed = await calls.deletions_owed(session=ctx.session, actor=ctx.actor)
        ctx.audit("deletionsOwed", Outcome.ALLOWED, detail={"calls": [d.call.id for d in owed]})
        objects = await call_objects(info, [d.call for d in owed])
        return [
            DeletionOwedType(
                call=obj,
                refused_at=d.refused_at,
                age_hours=d.age.total_seconds() / 3600,
                management_notified=d.management_notified,
                it_notified=d.it_notified,
            )
            for d, obj in zip(owed, objects, strict=True)
        ]

    @strawberry.field(
        description="Holds in force, the last sweeps and the tombstones of erasures: the "
        "evidence of retention (R-RET-1, R-RET-2)."
    )
    async def retention_evidence(self, info: Info) -> RetentionEvidenceType:
        ctx = info.context
        found = await evidence.retention_evidence(session=ctx.session, actor=ctx.actor)
        ctx.audit("retentionEvidence", Outcome.ALLOWED, detail=evidence.shown(found))
        return RetentionEvidenceType(
            holds_in_force=[LegalHoldType.of(hold) for hold in found.holds],
            ending_soon_by=found.ending_soon_by,
            sweeps=[SweepRunType.of(run) for run in found.sweeps],
            tombstones=[TombstoneType.of(row) for row in found.tombstones],
            identifier_tombstones=[
                IdentifierTombstoneType.of(row) for row in found.identifier_tombstones
            ],
        )


async def _call_payload(info: Info, call: Call | None, errors: list[ErrorType]) -> CallPayload:
    if call is None:
        return CallPayload(call=None, errors=errors)
    return CallPayload(call=(await call_objects(info, [call]))[0], errors=errors)


@strawberry.type
class RecordingsMutation:
    @strawberry.mutation(description="Registers a customer or agent; identifiers are sealed.")
    async def register_subject(self, info: Info, input: SubjectInput) -> SubjectPayload:
        ctx = info.context
        subject, errors = await run(
            info,
            lambda s: calls.register_subject(
                session=s,
                actor=ctx.actor,
                ring=ctx.ring,
                kind=input.kind,
                identifiers=calls.Identifiers(input.name, input.phone, input.email),
                country_code=input.country_code,
                principal_handle=input.principal_handle,
            ),
        )
        return SubjectPayload(subject=SubjectType.of(subject) if subject else None, errors=errors)

    @strawberry.mutation
    async def register_call(self, info: Info, input: CallInput) -> CallPayload:
        ctx = info.context
        call, errors = await run(
            info,
            lambda s: calls.register_call(
                session=s,
                actor=ctx.actor,
                direction=input.direction,
                company_slug=input.company,
                customer_id=input.customer,
                agent_id=input.agent,
                customer_country_code=input.customer_country,
            ),
        )
        return await _call_payload(info, call, errors)

    @strawberry.mutation(description="The caller's key press: 1 consents, 2 refuses (R-CON-1).")
    async def record_ivr_choice(self, info: Info, call: str, digit: str) -> CallPayload:
        found, errors = await run(
            info,
            lambda s: calls.record_ivr_choice(
                session=s, actor=info.context.actor, call_id=call, digit=digit
            ),
        )
        return await _call_payload(info, found, errors)

    @strawberry.mutation(description="The customer's answer on an outbound call (R-CON-2).")
    async def record_agent_answer(self, info: Info, call: str, approved: bool) -> CallPayload:
        found, errors = await run(
            info,
            lambda s: calls.record_agent_answer(
                session=s, actor=info.context.actor, call_id=call, approved=approved
            ),
        )
        return await _call_payload(info, found, errors)

    @strawberry.mutation(description="After a refused outbound call: management and IT told.")
    async def notify_refusal(self, info: Info, call: str) -> CallPayload:
        found, errors = await run(
            info,
            lambda s: calls.notify_refusal(session=s, actor=info.context.actor, call_id=call),
        )
        return await _call_payload(info, found, errors)

    @strawberry.mutation(description="Management deletes a refused outbound call's start.")
    async def delete_start_audio(self, info: Info, call: str) -> CallPayload:
        found, errors = await run(
            info,
            lambda s: calls.delete_start_audio(session=s, actor=info.context.actor, call_id=call),
        )
        return await _call_payload(info, found, errors)

    @strawberry.mutation(description="Withdrawal of consent: processing stops, audio erased.")
    async def withdraw_consent(self, info: Info, call: str) -> CallPayload:
        found, errors = await run(
            info,
            lambda s: calls.withdraw_consent(session=s, actor=info.context.actor, call_id=call),
        )
        return await _call_payload(info, found, errors)

    @strawberry.mutation(description="The subject is under 16: their data is erased (R-MIN-1).")
    async def mark_under_16(self, info: Info, subject: int) -> SubjectPayload:
        # Rights erases the answers built for the child too, as a guardian's request does.
        erased, errors = await run(
            info,
            lambda s: minors.erase_child(session=s, actor=info.context.actor, subject_id=subject),
        )
        return SubjectPayload(
            subject=SubjectType.of(erased.subject) if erased else None, errors=errors
        )

    @strawberry.mutation(description="Live monitoring, for a stated reason (R-MON-1..3).")
    async def start_monitoring(
        self, info: Info, call: str, reason: MonitoringReason
    ) -> MonitoringPayload:
        found, errors = await run(
            info,
            lambda s: monitoring.start_monitoring(
                session=s, actor=info.context.actor, call_id=call, reason=reason.value
            ),
        )
        return MonitoringPayload(
            session=MonitoringSessionType.of(found) if found else None, errors=errors
        )

    @strawberry.mutation
    async def end_monitoring(self, info: Info, session: int) -> MonitoringPayload:
        found, errors = await run(
            info,
            lambda s: monitoring.end_monitoring(
                session=s, actor=info.context.actor, session_id=session
            ),
        )
        return MonitoringPayload(
            session=MonitoringSessionType.of(found) if found else None, errors=errors
        )

    @strawberry.mutation(description="Keeps a recording past its period, until an end (R-RET-2).")
    async def place_legal_hold(
        self,
        info: Info,
        recording: str,
        ground: HoldGround,
        justification: str,
        ends_on: date,
    ) -> HoldPayload:
        found, errors = await run(
            info,
            lambda s: retention.place_hold(
                session=s,
                actor=info.context.actor,
                recording_id=recording,
                ground=ground,
                justification=justification,
                ends_on=ends_on,
            ),
        )
        return HoldPayload(hold=LegalHoldType.of(found) if found else None, errors=errors)

    @strawberry.mutation
    async def release_legal_hold(self, info: Info, hold: int) -> HoldPayload:
        found, errors = await run(
            info,
            lambda s: retention.release_hold(session=s, actor=info.context.actor, hold_id=hold),
        )
        return HoldPayload(hold=LegalHoldType.of(found) if found else None, errors=errors)

    @strawberry.mutation(description="Erases a recording now, unless held for legal claims.")
    async def erase_recording(self, info: Info, recording: str) -> RecordingPayload:
        found, errors = await run(
            info,
            lambda s: erasure.erase_recording(
                session=s, actor=info.context.actor, recording_id=recording
            ),
        )
        return RecordingPayload(recording=RecordingType.of(found) if found else None, errors=errors)
