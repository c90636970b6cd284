"""Calls, their subjects and consent (R-CON-1..3), and children's data (R-MIN-1)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.countries import Country
from registry.crypto import KeyRing, blind_index, seal_field
from registry.errors import InvalidInput, NotFound, RuleBroken
from registry.record.inventory.models import Entity, EntityKind
from registry.recordings import erasure
from registry.recordings.models import (
    Call,
    Consent,
    ConsentEvent,
    ConsentStep,
    Direction,
    ErasureReason,
    IdentifierTombstone,
    MonitoringSession,
    Recording,
    RecordingStatus,
    Segment,
    Subject,
    SubjectKind,
)


@dataclass(frozen=True)
class Identifiers:
    name: str | None = None
    phone: str | None = None
    email: str | None = None


async def register_subject(
    *,
    session: AsyncSession,
    actor: Actor,
    ring: KeyRing,
    kind: SubjectKind,
    identifiers: Identifiers,
    country_code: str | None = None,
    principal_handle: str | None = None,
) -> Subject:
    """A customer or agent; identifiers sealed, phone and e-mail blind-indexed."""
    authorize(actor, Action.CALL_REGISTER)
    if country_code is not None and await session.get(Country, country_code.upper()) is None:
        raise InvalidInput(f"unknown country {country_code!r}", field="country_code")
    subject = Subject(
        kind=kind,
        country_code=country_code.upper() if country_code else None,
        principal_handle=principal_handle,
        created_at=clock.now(),
    )
    session.add(subject)
    await session.flush()
    seal_identifiers(ring, subject, identifiers)
    await session.flush()
    return subject


def seal_identifiers(ring: KeyRing, subject: Subject, identifiers: Identifiers) -> None:
    """(Re)writes a subject's sealed identifiers and their indexes, bound to its row."""
    for name, value in (
        ("name", identifiers.name),
        ("phone", identifiers.phone),
        ("email", identifiers.email),
    ):
        sealed = seal_field(ring, value, f"subject:{subject.id}:{name}") if value else None
        setattr(subject, f"{name}_sealed", sealed)
    # Read once: a rotation may make a new index secret current meanwhile, and the version
    # recorded must be the one both indexes were made under.
    version = ring.index_version
    try:
        subject.phone_index = (
            blind_index(ring, "phone", identifiers.phone, version=version)
            if identifiers.phone
            else None
        )
        subject.email_index = (
            blind_index(ring, "email", identifiers.email, version=version)
            if identifiers.email
            else None
        )
        subject.index_secret_version = version
    except ValueError as error:
        raise InvalidInput(str(error)) from error


async def register_call(
    *,
    session: AsyncSession,
    actor: Actor,
    direction: Direction,
    company_slug: str,
    customer_id: int,
    agent_id: int | None,
    customer_country_code: str,
    started_at: datetime | None = None,
) -> Call:
    authorize(actor, Action.CALL_REGISTER)
    company = await session.scalar(select(Entity).where(col(Entity.slug) == company_slug))
    if company is None or company.kind is not EntityKind.GROUP_COMPANY or company.retired_on:
        raise InvalidInput(f"{company_slug!r} is no active group company", field="company")
    customer = await session.get(Subject, customer_id)
    if customer is None or customer.kind is not SubjectKind.CUSTOMER:
        raise InvalidInput("the customer must be a registered customer", field="customer")
    if agent_id is not None:
        agent = await session.get(Subject, agent_id)
        if agent is None or agent.kind is not SubjectKind.AGENT:
            raise InvalidInput("the agent must be a registered agent", field="agent")
    country = customer_country_code.upper()
    if await session.get(Country, country) is None:
        raise InvalidInput(f"unknown country {customer_country_code!r}", field="customer_country")
    call = Call(
        id=str(uuid.uuid4()),
        direction=direction,
        company_id=company.id,
        agent_id=agent_id,
        customer_id=customer_id,
        customer_country_code=country,
        started_at=started_at or clock.now(),
    )
    session.add(call)
    await session.flush()
    return call


async def call_by_id(session: AsyncSession, call_id: str, *, lock: bool = False) -> Call:
    """The call; with ``lock``, as committed now and locked until the transaction ends.

    Every change of consent and the commit of an upload lock the call, so that an upload
    never commits a recording beside a refusal or withdrawal it did not see (R-CON-3). On
    SQLite every transaction of the server holds the write lock, which does the same.
    """
    if not lock:
        call = await session.get(Call, call_id)
    else:
        # This transaction's own changes first: the row read afresh must not undo them.
        await session.flush()
        query = (
            select(Call).where(col(Call.id) == call_id).execution_options(populate_existing=True)
        )
        if session.get_bind().dialect.name == "postgresql":
            # NO KEY: rows that merely refer to the call (a pending upload) still go in.
            query = query.with_for_update(key_share=True)
        call = await session.scalar(query)
    if call is None:
        raise NotFound(f"no call {call_id!r}")
    return call


async def _step(
    session: AsyncSession,
    actor: Actor,
    call: Call,
    step: ConsentStep,
    shredded: erasure.Shredded | None = None,
) -> None:
    """Records a step; one that erased audio records what a hold kept from it (R-ERA-1)."""
    kept = shredded.kept() if shredded is not None else []
    detail = {"kept_by_hold": kept} if kept else None
    session.add(
        ConsentEvent(call_id=call.id, step=step, at=clock.now(), actor=actor.handle, detail=detail)
    )
    await session.flush()


async def _steps(session: AsyncSession, call: Call) -> set[ConsentStep]:
    rows = await session.scalars(
        select(col(ConsentEvent.step)).where(col(ConsentEvent.call_id) == call.id)
    )
    return set(rows.all())


async def record_ivr_choice(
    *, session: AsyncSession, actor: Actor, call_id: str, digit: str
) -> Call:
    """An inbound caller's answer to the welcome message (R-CON-1).

    1 consents to recording and live monitoring. 2 refuses: recording and monitoring
    stop at once and any audio already received for the call is destroyed.
    """
    authorize(actor, Action.CONSENT_RECORD)
    call = await call_by_id(session, call_id, lock=True)
    if call.direction is not Direction.INBOUND:
        raise InvalidInput("only inbound calls answer the welcome message", field="call")
    if call.consent is not Consent.PENDING:
        raise InvalidInput(f"the caller already answered ({call.consent.value})", field="call")
    if digit == "1":
        call.consent, call.monitoring_consent = Consent.GIVEN, True
        await _step(session, actor, call, ConsentStep.IVR_DIGIT_1)
    elif digit == "2":
        await _refuse(session, actor, call, ConsentStep.IVR_DIGIT_2, ErasureReason.CONSENT_REFUSED)
    else:
        raise InvalidInput("the welcome message offers 1 (consent) or 2 (refuse)", field="digit")
    return call


async def _refuse(
    session: AsyncSession, actor: Actor, call: Call, step: ConsentStep, reason: ErasureReason
) -> None:
    call.consent, call.monitoring_consent = Consent.REFUSED, False
    call.recording_stopped_at = clock.now()
    await _end_monitoring(session, call)
    shredded = await erasure.shred(
        session=session, actor=actor, recordings=await recordings_of(session, call), reason=reason
    )
    await _step(session, actor, call, step, shredded)
    await _step(session, actor, call, ConsentStep.RECORDING_STOPPED)


async def _end_monitoring(session: AsyncSession, call: Call) -> None:
    """Without consent nobody listens live any longer: open sessions end now."""
    live = await session.scalars(
        select(MonitoringSession).where(
            col(MonitoringSession.call_id) == call.id, col(MonitoringSession.ended_at).is_(None)
        )
    )
    for monitoring in live.all():
        monitoring.ended_at = clock.now()


async def recordings_of(
    session: AsyncSession, call: Call, segment: Segment | None = None
) -> list[Recording]:
    query = select(Recording).where(col(Recording.call_id) == call.id)
    if segment is not None:
        query = query.where(col(Recording.segment) == segment)
    return list((await session.scalars(query)).all())


async def record_agent_answer(
    *, session: AsyncSession, actor: Actor, call_id: str, approved: bool
) -> Call:
    """The customer's answer on an outbound call, as the agent records it (R-CON-2).

    On refusal the agent stops the recording and carries on with the call; the audio of
    the call's start becomes a deletion owed by management, listed until it is done.
    """
    authorize(actor, Action.CONSENT_RECORD)
    call = await call_by_id(session, call_id, lock=True)
    if call.direction is not Direction.OUTBOUND:
        raise InvalidInput("only outbound calls ask the customer", field="call")
    if call.consent is not Consent.PENDING:
        raise InvalidInput(f"the customer already answered ({call.consent.value})", field="call")
    if approved:
        call.consent = Consent.GIVEN
        await _step(session, actor, call, ConsentStep.AGENT_RECORDED_YES)
        return call
    call.consent = Consent.REFUSED
    call.recording_stopped_at = clock.now()
    await _step(session, actor, call, ConsentStep.AGENT_RECORDED_NO)
    await _step(session, actor, call, ConsentStep.RECORDING_STOPPED)
    return call


async def notify_refusal(*, session: AsyncSession, actor: Actor, call_id: str) -> Call:
    """At the end of a refused outbound call, the agent tells management and IT (R-CON-2)."""
    authorize(actor, Action.REFUSAL_NOTIFY)
    call = await call_by_id(session, call_id)
    steps = await _steps(session, call)
    if ConsentStep.AGENT_RECORDED_NO not in steps:
        raise InvalidInput("only a refused outbound call has deletions to notify", field="call")
    for step in (ConsentStep.MANAGEMENT_NOTIFIED, ConsentStep.IT_NOTIFIED):
        if step not in steps:
            await _step(session, actor, call, step)
    return call


async def delete_start_audio(*, session: AsyncSession, actor: Actor, call_id: str) -> Call:
    """Management deletes the audio of a refused outbound call's start (R-CON-2).

    From then on no start audio of the call is taken again. Audio a hold for legal claims
    keeps stays, recorded with its ground, and the deletion stays owed until it is done.
    """
    authorize(actor, Action.START_AUDIO_DELETE)
    call = await call_by_id(session, call_id, lock=True)
    steps = await _steps(session, call)
    if ConsentStep.AGENT_RECORDED_NO not in steps:
        raise InvalidInput("only a refused outbound call owes a deletion", field="call")
    start = [
        r
        for r in await recordings_of(session, call, Segment.START)
        if r.status is RecordingStatus.ACTIVE
    ]
    if ConsentStep.START_AUDIO_DELETED in steps and not start:
        raise InvalidInput("the start of this call was deleted already", field="call")
    shredded = await erasure.shred(
        session=session, actor=actor, recordings=start, reason=ErasureReason.START_OF_CALL
    )
    call.start_audio_deleted_at = call.start_audio_deleted_at or clock.now()
    await _step(session, actor, call, ConsentStep.START_AUDIO_DELETED, shredded)
    return call


@dataclass(frozen=True)
class DeletionOwed:
    call: Call
    refused_at: datetime
    age: timedelta
    management_notified: bool
    it_notified: bool


async def deletions_owed(*, session: AsyncSession, actor: Actor) -> list[DeletionOwed]:
    """Refused outbound calls whose start audio is not deleted yet, oldest first: management
    has not acted, or audio of the start is still there (a hold keeps it)."""
    authorize(actor, Action.DELETIONS_OWED_READ)
    events = (
        await session.execute(
            select(
                col(ConsentEvent.call_id), col(ConsentEvent.step), col(ConsentEvent.at)
            ).order_by(col(ConsentEvent.at))
        )
    ).all()
    steps: dict[str, dict[ConsentStep, datetime]] = {}
    for call_id, step, at in events:
        steps.setdefault(call_id, {})[step] = at
    refused = [call_id for call_id, done in steps.items() if ConsentStep.AGENT_RECORDED_NO in done]
    still_there = set(
        (
            await session.scalars(
                select(col(Recording.call_id)).where(
                    col(Recording.call_id).in_(refused),
                    col(Recording.segment) == Segment.START,
                    col(Recording.status) == RecordingStatus.ACTIVE,
                )
            )
        ).all()
    )
    open_ids = [
        call_id
        for call_id in refused
        if ConsentStep.START_AUDIO_DELETED not in steps[call_id] or call_id in still_there
    ]
    calls = {
        c.id: c for c in (await session.scalars(select(Call).where(col(Call.id).in_(open_ids))))
    }
    now = clock.now()
    owed = [
        DeletionOwed(
            call=calls[call_id],
            refused_at=steps[call_id][ConsentStep.AGENT_RECORDED_NO],
            age=now - steps[call_id][ConsentStep.AGENT_RECORDED_NO],
            management_notified=ConsentStep.MANAGEMENT_NOTIFIED in steps[call_id],
            it_notified=ConsentStep.IT_NOTIFIED in steps[call_id],
        )
        for call_id in open_ids
    ]
    return sorted(owed, key=lambda d: d.refused_at)


async def withdraw_consent(*, session: AsyncSession, actor: Actor, call_id: str) -> Call:
    """The customer withdraws consent: no further processing, and the call's audio is erased.

    Earlier processing stays lawful (R-CON-3); what was done is not undone, only stopped.
    """
    authorize(actor, Action.CONSENT_WITHDRAW)
    call = await call_by_id(session, call_id, lock=True)
    if call.consent is not Consent.GIVEN:
        raise InvalidInput("only given consent can be withdrawn", field="call")
    call.consent, call.monitoring_consent = Consent.WITHDRAWN, False
    call.recording_stopped_at = call.recording_stopped_at or clock.now()
    await _end_monitoring(session, call)
    shredded = await erasure.shred(
        session=session,
        actor=actor,
        recordings=await recordings_of(session, call),
        reason=ErasureReason.CONSENT_WITHDRAWN,
    )
    await _step(session, actor, call, ConsentStep.WITHDRAWN, shredded)
    return call


def require_consent_to_record(call: Call, segment: Segment) -> None:
    """Audio of a customer's call is stored only with consent (R-CON-3).

    The one exception is an outbound call's start, recorded before the question could be
    asked; it is deleted by management if the customer refuses (R-CON-2), and once deleted
    it is never taken again.
    """
    if call.consent is Consent.GIVEN and call.recording_stopped_at is None:
        return
    before_the_question = segment is Segment.START and call.direction is Direction.OUTBOUND
    if (
        before_the_question
        and call.consent in (Consent.PENDING, Consent.REFUSED)
        and call.start_audio_deleted_at is None
    ):
        return
    raise RuleBroken("R-CON-3", f"no consent to record call {call.id} ({call.consent.value})")


async def mark_under_16(*, session: AsyncSession, actor: Actor, subject_id: int) -> Subject:
    """The subject is known to be under 16: their calls' audio and identifiers go (R-MIN-1).

    Audio a hold for legal claims keeps stays, and so do the identifiers with it: the
    claim needs to know whose it is (R-ERA-1).
    """
    authorize(actor, Action.SUBJECT_MINOR)
    subject = await session.get(Subject, subject_id)
    if subject is None:
        raise NotFound(f"no subject {subject_id}")
    subject.under_16 = True
    calls = (
        await session.scalars(
            select(Call).where(
                (col(Call.customer_id) == subject.id) | (col(Call.agent_id) == subject.id)
            )
        )
    ).all()
    recordings = [r for call in calls for r in await recordings_of(session, call)]
    shredded = await erasure.shred(
        session=session, actor=actor, recordings=recordings, reason=ErasureReason.MINOR
    )
    if not shredded.refused:
        await erase_identifiers(
            session=session, actor=actor, subject=subject, reason=ErasureReason.MINOR
        )
    await session.flush()
    return subject


async def erase_identifiers(
    *, session: AsyncSession, actor: Actor, subject: Subject, reason: ErasureReason
) -> None:
    """Erases the subject's sealed identifiers and their indexes, leaving a tombstone (R-RET-3).

    Identifiers erased already are left as they are, with their first tombstone.
    """
    if subject.identifiers_erased_at is not None:
        return
    now = clock.now()
    subject.name_sealed = subject.phone_sealed = subject.email_sealed = None
    subject.phone_index = subject.email_index = None
    subject.identifiers_erased_at = now
    session.add(
        IdentifierTombstone(
            subject_id=subject.id, erased_at=now, reason=reason, erased_by=actor.handle
        )
    )
    await session.flush()
