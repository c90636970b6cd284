"""The data-subject request workflow: receipt, identity, registration, deadlines, answer.

received → identity_pending → registered (R-DSR-2's confirmation) → in_progress →
completed | refused, with one extension of the deadline on the way (status ``extended``).
Every step is kept with who took it and when; a step out of turn is refused and changes
nothing: which step each status allows is the one table of ``steps``. Completing a request
carries out what it asks (``completion``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry._text import stated
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.crypto import KeyRing, seal_field
from registry.errors import InvalidInput, NotFound, RuleBroken
from registry.record.inventory.models import Entity, EntityKind
from registry.recordings.calls import Identifiers
from registry.recordings.models import Subject
from registry.rights.deadlines import MAX_EXTENSION_MONTHS, add_months, deadline, first_deadline
from registry.rights.lookup import contact_indexes, subjects_by_indexes
from registry.rights.models import (
    FeeGround,
    RefusalGround,
    RequestKind,
    RequestStatus,
    RequestStep,
    RightsRequest,
)
from registry.rights.steps import BEFORE_REGISTRATION, OPEN, Step, why_not

# A request like an earlier one of the same subject within this time is shown as a repeat.
REPEAT_WINDOW = timedelta(days=365)
# How far ahead the queue looks for deadlines: none lies further than a few months away.
MAX_DUE_WITHIN_DAYS = 366


@dataclass(frozen=True)
class Received:
    kind: RequestKind
    controller: str
    phone: str | None = None
    email: str | None = None
    by_guardian: bool = False
    # A rectification's corrected identifiers.
    corrections: Identifiers | None = None


def details_aad(request_id: int) -> str:
    return f"rights_request:{request_id}:details"


async def receive(
    *, session: AsyncSession, actor: Actor, ring: KeyRing, received: Received
) -> RightsRequest:
    """Records a request as it arrives; its deadline runs from now (R-DSR-2)."""
    authorize(actor, Action.RIGHTS_MANAGE)
    controller = await session.scalar(select(Entity).where(col(Entity.slug) == received.controller))
    if controller is None or controller.kind is not EntityKind.GROUP_COMPANY:
        raise InvalidInput(f"{received.controller!r} is no joint controller", field="controller")
    if received.by_guardian and received.kind is not RequestKind.CHILD_DELETION:
        raise InvalidInput(
            "a parent or guardian requests the deletion of a child's data", field="by_guardian"
        )
    corrections = received.corrections
    if received.kind is RequestKind.RECTIFICATION:
        if corrections is None or not any((corrections.name, corrections.phone, corrections.email)):
            raise InvalidInput("a rectification says what to correct", field="corrections")
    elif corrections is not None:
        raise InvalidInput("only a rectification carries corrections", field="corrections")
    given = contact_indexes(ring, received.phone, received.email)
    matches = await subjects_by_indexes(session, given)
    now = clock.now()
    request = RightsRequest(
        kind=received.kind,
        status=RequestStatus.RECEIVED,
        controller_id=controller.id,
        # Only an unambiguous match is linked; otherwise the privacy team picks the subject.
        subject_id=matches[0].id if len(matches) == 1 else None,
        phone_index=given.phone_index,
        email_index=given.email_index,
        index_secret_version=given.version,
        by_guardian=received.by_guardian,
        received_at=now,
        received_by=actor.handle,
        due_at=first_deadline(now),
    )
    session.add(request)
    await session.flush()
    if corrections is not None:
        document = json.dumps(
            {"name": corrections.name, "phone": corrections.phone, "email": corrections.email}
        )
        request.details_sealed = seal_field(ring, document, details_aad(request.id))
    await _step(session, actor, request, "received", {"matches": len(matches)})
    return request


async def request_identity_proof(
    *, session: AsyncSession, actor: Actor, request_id: int
) -> RightsRequest:
    """The requester is asked for proof of identity (R-DSR-3)."""
    request = await guarded(session, actor, request_id, Step.ASK_FOR_PROOF)
    request.status = RequestStatus.IDENTITY_PENDING
    request.identity_requested_at = clock.now()
    await _step(session, actor, request, "identity_proof_requested")
    return request


async def establish_identity(
    *,
    session: AsyncSession,
    actor: Actor,
    request_id: int,
    evidence: str,
    subject_id: int | None = None,
) -> RightsRequest:
    """Identity is established, on the evidence named; the subject may be picked here."""
    request = await guarded(session, actor, request_id, Step.ESTABLISH_IDENTITY)
    evidence = stated(evidence, "evidence", missing="the evidence of identity is recorded")
    if subject_id is not None:
        if await session.get(Subject, subject_id) is None:
            raise InvalidInput(f"no subject {subject_id}", field="subject")
        request.subject_id = subject_id
    request.identity_established_at = clock.now()
    request.identity_evidence = evidence
    await _step(session, actor, request, "identity_established", {"subject": request.subject_id})
    return request


async def register(*, session: AsyncSession, actor: Actor, request_id: int) -> RightsRequest:
    """After review, the requester is told the request is registered (R-DSR-2)."""
    request = await guarded(session, actor, request_id, Step.REGISTER)
    request.status = RequestStatus.REGISTERED
    request.confirmed_at = clock.now()
    await _step(session, actor, request, "registered_and_confirmed")
    return request


async def start(*, session: AsyncSession, actor: Actor, request_id: int) -> RightsRequest:
    request = await guarded(session, actor, request_id, Step.START)
    request.status = RequestStatus.IN_PROGRESS
    await _step(session, actor, request, "started")
    return request


async def extend(
    *, session: AsyncSession, actor: Actor, request_id: int, months: int, reason: str
) -> RightsRequest:
    """Extends the deadline once, by one or two months, before it passes (R-DSR-2).

    The reason is recorded, and so is the requester's notification, which goes with it.
    """
    request = await guarded(session, actor, request_id, Step.EXTEND)
    reason = stated(reason, "reason", missing="an extension states its reason")
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise RuleBroken("R-DSR-2", "an extension adds one or two months, no more", field="months")
    now = clock.now()
    request.extended_to = add_months(request.due_at, months)
    request.extension_reason = reason
    request.extension_notified_at = now
    # Identity may still be awaited: the status then keeps saying so.
    if request.status is not RequestStatus.IDENTITY_PENDING:
        request.status = RequestStatus.EXTENDED
    await _step(
        session,
        actor,
        request,
        "extended_and_requester_notified",
        {"months": months, "reason": reason, "until": request.extended_to.isoformat()},
    )
    return request


async def charge_fee(
    *,
    session: AsyncSession,
    actor: Actor,
    request_id: int,
    amount_cents: int,
    ground: FeeGround,
    reason: str,
) -> RightsRequest:
    """A reasonable fee, only for a manifestly unfounded, repetitive or excessive request."""
    request = await guarded(session, actor, request_id, Step.CHARGE_FEE)
    reason = stated(reason, "reason", missing="R-DSR-4: a fee states why the request is not free")
    if amount_cents <= 0:
        raise InvalidInput("a fee is a positive amount", field="amount_cents")
    if ground is FeeGround.REPETITIVE:
        await _require_repeats(session, request)
    request.fee_cents, request.fee_ground, request.fee_reason = amount_cents, ground, reason
    await _step(
        session, actor, request, "fee_charged", {"cents": amount_cents, "ground": ground.value}
    )
    return request


async def refuse(
    *,
    session: AsyncSession,
    actor: Actor,
    request_id: int,
    ground: RefusalGround,
    reason: str,
) -> RightsRequest:
    """Refuses the whole request, on one of the grounds the rules allow, with the reason."""
    request = await guarded(session, actor, request_id, Step.REFUSE)
    reason = stated(reason, "reason", missing="a refusal states its reason")
    if ground is RefusalGround.IDENTITY_NOT_ESTABLISHED:
        if request.identity_established_at is not None:
            raise InvalidInput("the requester's identity is established", field="ground")
        if request.identity_requested_at is None:
            raise RuleBroken("R-DSR-3", "ask for proof of identity before refusing for want of it")
    elif ground is RefusalGround.LEGAL_CLAIMS:
        if request.kind is not RequestKind.ERASURE:
            raise InvalidInput("legal claims refuse an erasure only", field="ground")
    elif request.status in BEFORE_REGISTRATION:
        # R-DSR-4's grounds are a judgement on the request: made once it has been reviewed.
        raise InvalidInput("register the request before judging it", field="ground")
    elif ground is RefusalGround.REPETITIVE:
        await _require_repeats(session, request)
    request.status = RequestStatus.REFUSED
    request.refusal_ground, request.refusal_reason = ground, reason
    request.closed_at = clock.now()
    await _step(session, actor, request, "refused", {"ground": ground.value})
    return request


async def finish(
    session: AsyncSession, actor: Actor, request: RightsRequest, outcome: dict[str, Any]
) -> RightsRequest:
    """Marks an answered request completed, with what was done (``completion`` calls it)."""
    request.status = RequestStatus.COMPLETED
    request.outcome = outcome
    request.closed_at = clock.now()
    await _step(session, actor, request, "completed", outcome)
    return request


async def get_request(session: AsyncSession, request_id: int) -> RightsRequest:
    request = await session.get(RightsRequest, request_id)
    if request is None:
        raise NotFound(f"no rights request {request_id}")
    return request


# What tells the same person: the subject found, or the same phone or e-mail given.
_PERSON = ("subject_id", "phone_index", "email_index")


async def earlier_requests(
    session: AsyncSession, requests: Sequence[RightsRequest]
) -> dict[int, list[RightsRequest]]:
    """For each request, those of the same kind by the same person (subject, phone or
    e-mail) in the year before it, oldest first (R-DSR-4). One query for them all."""
    people = {name: {getattr(r, name) for r in requests} - {None} for name in _PERSON}
    if not requests or not any(people.values()):
        return {r.id: [] for r in requests}
    candidates = (
        await session.scalars(
            select(RightsRequest)
            .where(
                or_(
                    *(
                        col(getattr(RightsRequest, name)).in_(values)
                        for name, values in people.items()
                        if values
                    )
                ),
                col(RightsRequest.kind).in_({r.kind for r in requests}),
                col(RightsRequest.received_at)
                >= min(r.received_at for r in requests) - REPEAT_WINDOW,
                col(RightsRequest.received_at) <= max(r.received_at for r in requests),
            )
            .order_by(col(RightsRequest.received_at), col(RightsRequest.id))
        )
    ).all()
    return {r.id: [c for c in candidates if _repeats(c, r)] for r in requests}


def _repeats(earlier: RightsRequest, request: RightsRequest) -> bool:
    same_person = any(
        getattr(request, name) is not None and getattr(request, name) == getattr(earlier, name)
        for name in _PERSON
    )
    return (
        same_person
        and earlier.id != request.id
        and earlier.kind is request.kind
        and request.received_at - REPEAT_WINDOW <= earlier.received_at <= request.received_at
    )


@dataclass(frozen=True)
class Queue:
    """Which requests to list."""

    statuses: Collection[RequestStatus] = ()
    kinds: Collection[RequestKind] = ()
    controller: str | None = None
    due_before: datetime | None = None
    # Requests due within this many days from now; only open ones unless statuses are given.
    due_within_days: int | None = None
    # Only requests still open whose deadline has passed.
    overdue: bool = False


def deadline_before(moment: datetime) -> ColumnElement[bool]:
    """Requests whose deadline in force falls before ``moment``."""
    return or_(
        col(RightsRequest.extended_to).is_(None) & (col(RightsRequest.due_at) < moment),
        col(RightsRequest.extended_to) < moment,
    )


def queue_query(actor: Actor, queue: Queue) -> Select[RightsRequest]:
    """The requests to list (ordering is the caller's)."""
    authorize(actor, Action.RIGHTS_READ)
    query = select(RightsRequest)
    statuses = queue.statuses
    if queue.due_within_days is not None:
        query = query.where(deadline_before(_days_ahead(queue.due_within_days)))
        statuses = statuses or OPEN
    if statuses:
        query = query.where(col(RightsRequest.status).in_(list(statuses)))
    if queue.kinds:
        query = query.where(col(RightsRequest.kind).in_(list(queue.kinds)))
    if queue.controller is not None:
        query = query.join(Entity, col(Entity.id) == col(RightsRequest.controller_id)).where(
            col(Entity.slug) == queue.controller
        )
    if queue.due_before is not None:
        query = query.where(deadline_before(queue.due_before))
    if queue.overdue:
        query = query.where(col(RightsRequest.status).in_(list(OPEN)), deadline_before(clock.now()))
    return query


def _days_ahead(days: int) -> datetime:
    # Checked before adding: a huge count would overflow the date, a negative one look back.
    if not 0 <= days <= MAX_DUE_WITHIN_DAYS:
        raise InvalidInput(
            f"due within 0 to {MAX_DUE_WITHIN_DAYS} days: no deadline lies further",
            field="due_within_days",
        )
    return clock.now() + timedelta(days=days)


async def overdue(session: AsyncSession, actor: Actor) -> Sequence[RightsRequest]:
    """Open requests past their deadline, oldest deadline first: the daily check."""
    query = queue_query(actor, Queue(overdue=True))
    rows = (await session.scalars(query)).all()
    return sorted(rows, key=deadline)


async def guarded(
    session: AsyncSession,
    actor: Actor,
    request_id: int,
    step: Step,
) -> RightsRequest:
    """The request, if ``actor`` may take ``step`` on it now (``steps``' table), else the
    error that says why not; nothing is changed either way."""
    authorize(actor, Action.RIGHTS_MANAGE)
    request = await get_request(session, request_id)
    refusal = why_not(request, step)
    if refusal is not None:
        raise refusal
    return request


async def _require_repeats(session: AsyncSession, request: RightsRequest) -> None:
    if not (await earlier_requests(session, [request]))[request.id]:
        raise RuleBroken(
            "R-DSR-4",
            "no earlier request of this kind by this person in the past year: it is no repeat",
            field="ground",
        )


async def _step(
    session: AsyncSession,
    actor: Actor,
    request: RightsRequest,
    action: str,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        RequestStep(
            request_id=request.id,
            status=request.status,
            action=action,
            at=clock.now(),
            actor=actor.handle,
            detail=detail,
        )
    )
    await session.flush()
