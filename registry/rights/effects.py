"""What a completed request does to the subject's data, each rule enforced here.

Erasure crypto-shreds the subject's recordings and identifiers, except what a hold for
legal claims keeps (R-ERA-1); restriction and objection are recorded and then enforced
by ``guards`` wherever recordings are used (a customer's objection takes the effect of a
withdrawal of consent); withdrawal of consent stops all recording and monitoring of the
customer and erases their consented recordings; rectification re-seals and re-indexes
the identifiers. Art. 19: rectification, erasure and restriction leave a notice owed to
every recipient, tracked until acknowledged.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry._text import TEXT_LIMIT, stated
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.crypto import KeyRing, open_field
from registry.errors import InvalidInput, NotFound, RuleBroken
from registry.record import graph
from registry.record.inventory.models import Entity
from registry.recordings import calls, erasure
from registry.recordings.models import (
    Call,
    Consent,
    ErasureReason,
    Recording,
    SeparateConsent,
    Subject,
    SubjectKind,
)
from registry.rights.models import (
    Objection,
    Package,
    RecipientNotice,
    Restriction,
    RightsRequest,
)
from registry.rights.service import details_aad, guarded
from registry.rights.steps import Step


def recordings_of_subject(subject_id: int) -> Select[str]:
    """The ids of every recording of a call the subject took part in, as customer or agent."""
    return (
        select(col(Recording.id))
        .join(Call, col(Call.id) == col(Recording.call_id))
        .where(or_(col(Call.customer_id) == subject_id, col(Call.agent_id) == subject_id))
    )


async def erase_subject(*, session: AsyncSession, actor: Actor, subject: Subject) -> dict[str, Any]:
    """Crypto-shreds the subject's recordings and identifiers, keeping what legal claims need.

    Recordings under a hold for legal claims are kept, each with its ground (R-ERA-1); the
    identifiers are kept with them, for the claim needs to know whose they are. However
    many recordings the subject has, the same few statements (``erasure.shred_every``).
    """
    shredded = await erasure.shred_every(
        session=session,
        actor=actor,
        recording_ids=recordings_of_subject(subject.id),
        reason=ErasureReason.ERASURE_REQUEST,
    )
    kept = [
        {
            "recording": recording_id,
            "ground": hold.ground.value,
            "justification": hold.justification,
            "hold_ends_on": hold.ends_on.isoformat(),
        }
        for recording_id, hold in shredded.refused
    ]
    if not kept:
        await calls.erase_identifiers(
            session=session, actor=actor, subject=subject, reason=ErasureReason.ERASURE_REQUEST
        )
    return {
        "packages_erased": await shred_packages(session, subject.id),
        "recordings_erased": len(shredded.done),
        "kept_for_legal_claims": kept,
        "identifiers_erased": not kept,
    }


async def shred_packages(session: AsyncSession, subject_id: int) -> int:
    """Destroys the data keys of the answers built for the subject: they are copies of
    their data (identifiers, audio), so they go with it. The number destroyed."""
    requests = select(col(RightsRequest.id)).where(col(RightsRequest.subject_id) == subject_id)
    packages = (
        await session.scalars(
            select(Package).where(
                col(Package.rights_request_id).in_(requests), col(Package.wrapped_key).is_not(None)
            )
        )
    ).all()
    for package in packages:
        package.key_id = package.wrapped_key = None
    await session.flush()
    return len(packages)


async def restrict(
    *,
    session: AsyncSession,
    actor: Actor,
    subject: Subject,
    request: RightsRequest | None,
    ends_on: date,
    reason: str,
) -> Restriction:
    """Restricts processing of the subject's data until ``ends_on`` (Art. 18)."""
    authorize(actor, Action.RIGHTS_MANAGE)
    now = clock.now()
    if ends_on <= now.date():
        raise InvalidInput("a restriction lasts for a limited time, ending later", field="ends_on")
    reason = stated(reason, "reason", missing="a restriction states why (e.g. accuracy contested)")
    restriction = Restriction(
        subject_id=subject.id,
        request_id=request.id if request else None,
        reason=reason,
        starts_at=now,
        ends_on=ends_on,
    )
    session.add(restriction)
    await session.flush()
    return restriction


async def lift_restriction(
    *, session: AsyncSession, actor: Actor, restriction_id: int
) -> Restriction:
    authorize(actor, Action.RIGHTS_MANAGE)
    restriction = await session.get(Restriction, restriction_id)
    if restriction is None or restriction.lifted_at is not None:
        raise NotFound(f"no restriction {restriction_id} in force")
    if restriction.request_id is not None:
        await guarded(session, actor, restriction.request_id, Step.LIFT_RESTRICTION)
    restriction.lifted_at, restriction.lifted_by = clock.now(), actor.handle
    await session.flush()
    return restriction


async def object_to_processing(
    *, session: AsyncSession, actor: Actor, subject: Subject, request: RightsRequest | None
) -> dict[str, Any]:
    """An objection (Art. 21, R-DSR-1), recorded as one whoever makes it.

    An employee, processed on legitimate interests: evaluation of their calls stops until
    compelling legitimate grounds are recorded. A customer, recorded on consent, may object
    at any time too (the notice says so at the start of the call): the objection takes the
    effect of a withdrawal of consent, carried out by the same service.
    """
    objection = Objection(
        subject_id=subject.id, request_id=request.id if request else None, lodged_at=clock.now()
    )
    session.add(objection)
    await session.flush()
    if subject.kind is SubjectKind.AGENT:
        return {"objection": objection.id, "evaluation_stopped": True}
    withdrawn = await withdraw_all_consent(session=session, actor=actor, subject=subject)
    return {"objection": objection.id, "consent_withdrawn": True, **withdrawn}


async def record_compelling_grounds(
    *, session: AsyncSession, actor: Actor, objection_id: int, grounds: str
) -> Objection:
    """Compelling legitimate grounds (or legal claims) that let an employee's evaluation go on."""
    authorize(actor, Action.RIGHTS_MANAGE)
    objection = await session.get(Objection, objection_id)
    if objection is None:
        raise NotFound(f"no objection {objection_id}")
    if objection.request_id is not None:
        await guarded(session, actor, objection.request_id, Step.RECORD_GROUNDS)
    objector = await session.get_one(Subject, objection.subject_id)
    if objector.kind is not SubjectKind.AGENT:
        # Consent withdrawn is withdrawn: no interest of the controller outweighs it.
        raise RuleBroken(
            "R-DSR-1",
            "a customer's objection withdrew their consent: no grounds let processing go on",
            field="objection",
        )
    if objection.compelling_grounds is not None:
        raise InvalidInput("grounds are recorded already", field="objection")
    grounds = stated(grounds, "grounds", missing="the compelling grounds are stated")
    objection.compelling_grounds = grounds
    objection.grounds_recorded_by, objection.grounds_recorded_at = actor.handle, clock.now()
    await session.flush()
    return objection


async def withdraw_all_consent(
    *, session: AsyncSession, actor: Actor, subject: Subject
) -> dict[str, Any]:
    """No further recording or monitoring of the customer; their consented audio erased."""
    if subject.kind is not SubjectKind.CUSTOMER:
        raise InvalidInput("only customers are recorded on consent", field="request")
    now = clock.now()
    subject.consent_withdrawn_at = subject.consent_withdrawn_at or now
    consented = (
        await session.scalars(
            select(Call)
            .where(col(Call.customer_id) == subject.id, col(Call.consent) == Consent.GIVEN)
            .order_by(col(Call.id))
        )
    ).all()
    for call in consented:
        await calls.withdraw_consent(session=session, actor=actor, call_id=call.id)
    separate = (
        await session.scalars(
            select(SeparateConsent).where(
                col(SeparateConsent.subject_id) == subject.id,
                col(SeparateConsent.withdrawn_at).is_(None),
            )
        )
    ).all()
    for consent in separate:
        consent.withdrawn_at = now
    await session.flush()
    return {"calls_withdrawn": len(consented), "separate_consents_withdrawn": len(separate)}


async def rectify(
    *, session: AsyncSession, ring: KeyRing, subject: Subject, request: RightsRequest
) -> dict[str, Any]:
    """Replaces the identifiers the request corrects: re-sealed and re-indexed."""
    if subject.identifiers_erased_at is not None:
        raise InvalidInput("the subject's identifiers were erased", field="request")
    if request.details_sealed is None:
        raise InvalidInput("the request says nothing to correct", field="request")
    corrections = json.loads(open_field(ring, request.details_sealed, details_aad(request.id)))
    current = {
        name: open_field(ring, sealed, f"subject:{subject.id}:{name}") if sealed else None
        for name, sealed in (
            ("name", subject.name_sealed),
            ("phone", subject.phone_sealed),
            ("email", subject.email_sealed),
        )
    }
    merged = {name: corrections.get(name) or current[name] for name in current}
    calls.seal_identifiers(ring, subject, calls.Identifiers(**merged))
    await session.flush()
    return {"corrected": sorted(name for name, value in corrections.items() if value)}


async def recipients(session: AsyncSession) -> list[Entity]:
    """Everyone the data was disclosed to (Art. 19): the joint controllers, the processors
    and their sub-processors, as the record of processing stands today (the flow graph's
    answer to who takes part)."""
    rows = await session.scalars(
        select(Entity)
        .where(col(Entity.id).in_(graph.participants(clock.today())))
        .order_by(col(Entity.kind), col(Entity.slug))
    )
    return list(rows.all())


async def owe_notices(session: AsyncSession, request: RightsRequest) -> list[RecipientNotice]:
    """A notice to every recipient, owed until each acknowledges it (Art. 19)."""
    now = clock.now()
    notices = [
        RecipientNotice(request_id=request.id, entity_id=entity.id, owed_since=now)
        for entity in await recipients(session)
    ]
    session.add_all(notices)
    await session.flush()
    return notices


async def acknowledge(
    *, session: AsyncSession, actor: Actor, notice_id: int, note: str | None = None
) -> RecipientNotice:
    authorize(actor, Action.RIGHTS_MANAGE)
    notice = await session.get(RecipientNotice, notice_id)
    if notice is None:
        raise NotFound(f"no recipient notice {notice_id}")
    await guarded(session, actor, notice.request_id, Step.ACKNOWLEDGE_RECIPIENT)
    if notice.acknowledged_at is not None:
        raise InvalidInput("the recipient acknowledged already", field="notice")
    if note is not None and len(note) > TEXT_LIMIT:
        raise InvalidInput(f"note is longer than {TEXT_LIMIT} characters", field="note")
    notice.acknowledged_at, notice.acknowledged_by, notice.note = clock.now(), actor.handle, note
    await session.flush()
    return notice
