"""GraphQL of data-subject requests: thin wiring over ``service``, ``effects``, ``completion``.

Answers that are files (access, portability, the arrangement's essence) are downloaded
from the ``/packages/{id}`` route, never through GraphQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import strawberry
from sqlalchemy import select
from sqlmodel import col

from registry.access.policy import Action
from registry.audit.models import Outcome
from registry.graphql.context import Info
from registry.graphql.errors import ErrorType
from registry.graphql.loading import grouped
from registry.graphql.mutations import run
from registry.graphql.relay import Connection, connection, page
from registry.record.inventory.models import Entity
from registry.recordings.calls import Identifiers
from registry.recordings.graphql import call_objects
from registry.rights import completion, effects, lookup, service
from registry.rights.models import (
    FeeGround,
    Package,
    RecipientNotice,
    RefusalGround,
    RequestKind,
    RequestStatus,
    RequestStep,
    RightsRequest,
)
from registry.rights.steps import allowed_actions
from registry.rights.types import (
    ObjectionType,
    PackageType,
    RecipientNoticeType,
    RequestStepType,
    RestrictionType,
    RightsRequestType,
    SubjectMatchType,
)


async def request_objects(info: Info, rows: Sequence[RightsRequest]) -> list[RightsRequestType]:
    """Requests with their steps, notices and packages, in a few queries whatever their number."""
    session = info.context.session
    ids = [row.id for row in rows]
    steps = grouped(
        (step.request_id, RequestStepType.of(step))
        for step in await session.scalars(
            select(RequestStep)
            .where(col(RequestStep.request_id).in_(ids))
            .order_by(col(RequestStep.id))
        )
    )
    notices = grouped(
        (notice.request_id, RecipientNoticeType.of(notice, slug))
        for notice, slug in await session.execute(
            select(RecipientNotice, col(Entity.slug))
            .join(Entity, col(Entity.id) == col(RecipientNotice.entity_id))
            .where(col(RecipientNotice.request_id).in_(ids))
            .order_by(col(RecipientNotice.id))
        )
    )
    packages = grouped(
        (package.rights_request_id, PackageType.of(package))
        for package in await session.scalars(
            select(Package)
            .where(col(Package.rights_request_id).in_(ids))
            .order_by(col(Package.built_at))
        )
    )
    controllers = dict(
        (
            await session.execute(
                select(col(Entity.id), col(Entity.slug)).where(
                    col(Entity.id).in_({row.controller_id for row in rows})
                )
            )
        ).all()
    )
    earlier = await service.earlier_requests(session, rows)
    return [
        RightsRequestType.of(
            row,
            controller=controllers[row.controller_id],
            earlier=[e.id for e in earlier[row.id]],
            steps=steps.get(row.id, []),
            next_actions=allowed_actions(row, info.context.actor),
            notices=notices.get(row.id, []),
            packages=packages.get(row.id, []),
        )
        for row in rows
    ]


@strawberry.input
class CorrectionsInput:
    name: str | None = None
    phone: str | None = None
    email: str | None = None


@strawberry.input
class RightsRequestInput:
    kind: RequestKind
    controller: str = strawberry.field(description="The joint controller it was made to.")
    phone: str | None = None
    email: str | None = None
    by_guardian: bool = False
    corrections: CorrectionsInput | None = None


@strawberry.type
class RightsRequestPayload:
    request: RightsRequestType | None
    errors: list[ErrorType]


@strawberry.type
class CompletionPayload:
    request: RightsRequestType | None
    package: PackageType | None
    errors: list[ErrorType]


@strawberry.type
class RestrictionPayload:
    restriction: RestrictionType | None
    errors: list[ErrorType]


@strawberry.type
class ObjectionPayload:
    objection: ObjectionType | None
    errors: list[ErrorType]


@strawberry.type
class NoticePayload:
    notice: RecipientNoticeType | None
    errors: list[ErrorType]


async def _payload(
    info: Info, request: RightsRequest | None, errors: list[ErrorType]
) -> RightsRequestPayload:
    if request is None:
        return RightsRequestPayload(request=None, errors=errors)
    return RightsRequestPayload(request=(await request_objects(info, [request]))[0], errors=errors)


@strawberry.type
class RightsQuery:
    @strawberry.field(
        description="The queue of data-subject requests: by status, kind, controller, "
        "deadline. `dueWithinDays` lists open requests due soon; `overdue` those past due."
    )
    async def rights_requests(
        self,
        info: Info,
        status: list[RequestStatus] | None = None,
        kind: list[RequestKind] | None = None,
        controller: str | None = None,
        due_before: datetime | None = None,
        due_within_days: int | None = None,
        overdue: bool = False,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[RightsRequestType]:
        ctx = info.context
        window = page(first, after, limit=ctx.settings.max_page_size)
        query = service.queue_query(
            ctx.actor,
            service.Queue(
                statuses=status or [],
                kinds=kind or [],
                controller=controller,
                due_before=due_before,
                due_within_days=due_within_days,
                overdue=overdue,
            ),
        )
        rows = (
            await ctx.session.scalars(
                query.where(col(RightsRequest.id) > window.after)
                .order_by(col(RightsRequest.id))
                .limit(window.fetch)
            )
        ).all()
        shown, more = window.split(rows)
        ctx.audit("rightsRequests", Outcome.ALLOWED, detail={"requests": len(shown)})
        return connection(
            await request_objects(info, shown), [row.id for row in shown], has_next_page=more
        )

    @strawberry.field
    async def rights_request(self, info: Info, id: int) -> RightsRequestType | None:
        ctx = info.context
        ctx.require(Action.RIGHTS_READ)
        row = await ctx.session.get(RightsRequest, id)
        if row is None:
            return None
        ctx.audit("rightsRequest", Outcome.ALLOWED, target=f"rights_request:{id}")
        return (await request_objects(info, [row]))[0]

    @strawberry.field(description="Subjects by phone or e-mail, through their blind indexes.")
    async def find_subjects(
        self, info: Info, phone: str | None = None, email: str | None = None
    ) -> list[SubjectMatchType]:
        ctx = info.context
        found = await lookup.find_subjects(
            session=ctx.session, actor=ctx.actor, ring=ctx.ring, phone=phone, email=email
        )
        ctx.audit("findSubjects", Outcome.ALLOWED, detail={"subjects": len(found)})
        return [
            SubjectMatchType(
                subject_id=f.subject.id,
                kind=f.subject.kind.value,
                calls_as_customer=f.calls_as_customer,
                calls_as_agent=f.calls_as_agent,
                recordings=f.live_recordings,
                calls=await call_objects(info, f.calls),
            )
            for f in found
        ]


@strawberry.type
class RightsMutation:
    @strawberry.mutation(
        description="Records a request as it arrives; 30 days to answer (R-DSR-2)."
    )
    async def receive_rights_request(
        self, info: Info, input: RightsRequestInput
    ) -> RightsRequestPayload:
        ctx = info.context
        fix = input.corrections
        received = service.Received(
            kind=input.kind,
            controller=input.controller,
            phone=input.phone,
            email=input.email,
            by_guardian=input.by_guardian,
            corrections=Identifiers(fix.name, fix.phone, fix.email) if fix else None,
        )
        found, errors = await run(
            info,
            lambda s: service.receive(session=s, actor=ctx.actor, ring=ctx.ring, received=received),
        )
        return await _payload(info, found, errors)

    @strawberry.mutation(description="Asks the requester for proof of identity (R-DSR-3).")
    async def request_identity_proof(self, info: Info, request: int) -> RightsRequestPayload:
        found, errors = await run(
            info,
            lambda s: service.request_identity_proof(
                session=s, actor=info.context.actor, request_id=request
            ),
        )
        return await _payload(info, found, errors)

    @strawberry.mutation(description="Identity established, on the named evidence.")
    async def establish_identity(
        self, info: Info, request: int, evidence: str, subject: int | None = None
    ) -> RightsRequestPayload:
        found, errors = await run(
            info,
            lambda s: service.establish_identity(
                session=s,
                actor=info.context.actor,
                request_id=request,
                evidence=evidence,
                subject_id=subject,
            ),
        )
        return await _payload(info, found, errors)

    @strawberry.mutation(description="Registered; the requester's confirmation sent (R-DSR-2).")
    async def register_rights_request(self, info: Info, request: int) -> RightsRequestPayload:
        found, errors = await run(
            info,
            lambda s: service.register(session=s, actor=info.context.actor, request_id=request),
        )
        return await _payload(info, found, errors)

    @strawberry.mutation
    async def start_rights_request(self, info: Info, request: int) -> RightsRequestPayload:
        found, errors = await run(
            info,
            lambda s: service.start(session=s, actor=info.context.actor, request_id=request),
        )
        return await _payload(info, found, errors)

    @strawberry.mutation(description="One extension of one or two months, with its reason.")
    async def extend_rights_request(
        self, info: Info, request: int, months: int, reason: str
    ) -> RightsRequestPayload:
        found, errors = await run(
            info,
            lambda s: service.extend(
                session=s,
                actor=info.context.actor,
                request_id=request,
                months=months,
                reason=reason,
            ),
        )
        return await _payload(info, found, errors)

    @strawberry.mutation(description="A reasonable fee, on an R-DSR-4 ground, with the reason.")
    async def charge_fee(
        self, info: Info, request: int, amount_cents: int, ground: FeeGround, reason: str
    ) -> RightsRequestPayload:
        found, errors = await run(
            info,
            lambda s: service.charge_fee(
                session=s,
                actor=info.context.actor,
                request_id=request,
                amount_cents=amount_cents,
                ground=ground,
                reason=reason,
            ),
        )
        return await _payload(info, found, errors)

    @strawberry.mutation(description="Refuses the request on an allowed ground, with the reason.")
    async def refuse_rights_request(
        self, info: Info, request: int, ground: RefusalGround, reason: str
    ) -> RightsRequestPayload:
        found, errors = await run(
            info,
            lambda s: service.refuse(
                session=s,
                actor=info.context.actor,
                request_id=request,
                ground=ground,
                reason=reason,
            ),
        )
        return await _payload(info, found, errors)

    @strawberry.mutation(description="Carries out the request and closes it with what was done.")
    async def complete_rights_request(
        self,
        info: Info,
        request: int,
        restricted_until: date | None = None,
        restriction_reason: str | None = None,
    ) -> CompletionPayload:
        ctx = info.context
        terms = completion.Terms(
            restricted_until, restriction_reason, ctx.settings.configured_privacy_contact
        )
        answered, errors = await run(
            info,
            lambda s: completion.complete(
                session=s,
                actor=ctx.actor,
                ring=ctx.ring,
                blobs=ctx.blobs,
                request_id=request,
                terms=terms,
            ),
        )
        if answered is None:
            return CompletionPayload(request=None, package=None, errors=errors)
        return CompletionPayload(
            request=(await request_objects(info, [answered.request]))[0],
            package=PackageType.of(answered.package) if answered.package else None,
            errors=errors,
        )

    @strawberry.mutation(description="Compelling grounds that let an objector's evaluation go on.")
    async def record_compelling_grounds(
        self, info: Info, objection: int, grounds: str
    ) -> ObjectionPayload:
        found, errors = await run(
            info,
            lambda s: effects.record_compelling_grounds(
                session=s, actor=info.context.actor, objection_id=objection, grounds=grounds
            ),
        )
        return ObjectionPayload(objection=ObjectionType.of(found) if found else None, errors=errors)

    @strawberry.mutation
    async def lift_restriction(self, info: Info, restriction: int) -> RestrictionPayload:
        found, errors = await run(
            info,
            lambda s: effects.lift_restriction(
                session=s, actor=info.context.actor, restriction_id=restriction
            ),
        )
        return RestrictionPayload(
            restriction=RestrictionType.of(found) if found else None, errors=errors
        )

    @strawberry.mutation(description="A recipient acknowledged the Art. 19 notice.")
    async def acknowledge_recipient(
        self, info: Info, notice: int, note: str | None = None
    ) -> NoticePayload:
        found, errors = await run(
            info,
            lambda s: effects.acknowledge(
                session=s, actor=info.context.actor, notice_id=notice, note=note
            ),
        )
        if found is None:
            return NoticePayload(notice=None, errors=errors)
        recipient = await info.context.session.get_one(Entity, found.entity_id)
        return NoticePayload(notice=RecipientNoticeType.of(found, recipient.slug), errors=errors)
