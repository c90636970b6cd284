"""Consent (R-CON-1..4), children's data (R-MIN-1) and what they do to the audio."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from registry import clock
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.errors import InvalidInput, RuleBroken
from registry.recordings import calls, monitoring, storage
from registry.recordings.models import (
    Call,
    Consent,
    ConsentStep,
    Direction,
    MonitoringSession,
    Recording,
    RecordingStatus,
    Segment,
    SeparateConsent,
    Subject,
    Tombstone,
)
from tests.recordings.conftest import SYSTEM, Scene, chunks

AUDIO = b"hello, this is a recorded call " * 1000


async def upload(
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    call_id: str,
    segment: Segment = Segment.FULL,
) -> Recording:
    async with transaction(scene.sessions) as session:
        return await storage.store(
            session=session,
            actor=SYSTEM,
            ring=ring,
            blobs=blobs,
            call_id=call_id,
            segment=segment,
            audio=chunks(AUDIO),
        )


async def statuses(scene: Scene, call_id: str) -> list[RecordingStatus]:
    async with scene.sessions() as session:
        rows = await session.scalars(select(Recording.status).where(Recording.call_id == call_id))
        return list(rows.all())


async def test_r_con_1_pressing_1_consents_to_recording_and_monitoring(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-CON-1: pressing 1 consents to recording and monitoring."""
    call_id = await scene.call()
    async with transaction(scene.sessions) as session:
        call = await calls.record_ivr_choice(
            session=session, actor=SYSTEM, call_id=call_id, digit="1"
        )
    assert (call.consent, call.monitoring_consent) == (Consent.GIVEN, True)
    await upload(scene, ring, blobs, call_id)
    assert await statuses(scene, call_id) == [RecordingStatus.ACTIVE]


async def test_r_con_1_pressing_2_stops_everything_and_destroys_audio_received(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-CON-1: pressing 2 stops everything and destroys audio received."""
    inbound = await scene.call()
    async with transaction(scene.sessions) as session:
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=inbound, digit="2")
    async with scene.sessions() as session:
        call = await session.get_one(Call, inbound)
    assert call.consent is Consent.REFUSED and not call.monitoring_consent
    assert call.recording_stopped_at == clock.now()
    with pytest.raises(RuleBroken) as raised:
        await upload(scene, ring, blobs, inbound)
    assert raised.value.rule_id == "R-CON-3"


async def test_r_con_1_audio_received_before_a_refusal_is_destroyed(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-CON-1: audio received before a refusal is destroyed."""
    call_id = await scene.call()
    async with transaction(scene.sessions) as session:
        call = await session.get_one(Call, call_id)
        # The platform had begun recording when the caller pressed 2.
        call.consent = Consent.GIVEN
    recording = await upload(scene, ring, blobs, call_id)
    async with transaction(scene.sessions) as session:
        (await session.get_one(Call, call_id)).consent = Consent.PENDING
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call_id, digit="2")
    async with scene.sessions() as session:
        shredded = await session.get_one(Recording, recording.id)
        tombstone = await session.scalar(
            select(Tombstone).where(Tombstone.recording_id == recording.id)
        )
    assert shredded.status is RecordingStatus.SHREDDED and shredded.wrapped_key is None
    assert tombstone is not None and tombstone.reason.value == "consent_refused"


async def test_the_welcome_message_takes_only_1_or_2(scene: Scene) -> None:
    call_id = await scene.call()
    with pytest.raises(InvalidInput):
        async with transaction(scene.sessions) as session:
            await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call_id, digit="3")


async def test_r_con_2_a_refused_outbound_call_owes_a_deletion_until_management_does_it(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-CON-2: a refused outbound call owes a deletion until management does it."""
    call_id = await scene.call(Direction.OUTBOUND)
    start = await upload(scene, ring, blobs, call_id, Segment.START)
    async with transaction(scene.sessions) as session:
        await calls.record_agent_answer(
            session=session, actor=SYSTEM, call_id=call_id, approved=False
        )
    with pytest.raises(RuleBroken):
        await upload(scene, ring, blobs, call_id, Segment.FULL)
    frozen_clock.advance(timedelta(hours=3))
    async with transaction(scene.sessions) as session:
        await calls.notify_refusal(session=session, actor=SYSTEM, call_id=call_id)
        (owed,) = await calls.deletions_owed(session=session, actor=SYSTEM)
    assert owed.call.id == call_id and owed.age == timedelta(hours=3)
    assert owed.management_notified and owed.it_notified
    async with transaction(scene.sessions) as session:
        await calls.delete_start_audio(session=session, actor=SYSTEM, call_id=call_id)
        assert await calls.deletions_owed(session=session, actor=SYSTEM) == []
    async with scene.sessions() as session:
        steps = [
            e.step
            for e in (
                await session.scalars(
                    select(calls.ConsentEvent).where(calls.ConsentEvent.call_id == call_id)
                )
            ).all()
        ]
        assert (await session.get_one(Recording, start.id)).status is RecordingStatus.SHREDDED
    assert steps == [
        ConsentStep.AGENT_RECORDED_NO,
        ConsentStep.RECORDING_STOPPED,
        ConsentStep.MANAGEMENT_NOTIFIED,
        ConsentStep.IT_NOTIFIED,
        ConsentStep.START_AUDIO_DELETED,
    ]


async def test_r_con_3_no_customer_audio_is_stored_without_consent(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    call_id = await scene.call()
    with pytest.raises(RuleBroken) as raised:
        await upload(scene, ring, blobs, call_id)
    assert raised.value.rule_id == "R-CON-3"
    assert await statuses(scene, call_id) == []


async def test_r_con_3_withdrawal_stops_processing_and_erases_the_audio(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-CON-3: withdrawal stops processing and erases the audio."""
    call_id = await scene.call()
    async with transaction(scene.sessions) as session:
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call_id, digit="1")
    await upload(scene, ring, blobs, call_id)
    async with transaction(scene.sessions) as session:
        call = await calls.withdraw_consent(session=session, actor=SYSTEM, call_id=call_id)
    assert call.consent is Consent.WITHDRAWN and not call.monitoring_consent
    assert await statuses(scene, call_id) == [RecordingStatus.SHREDDED]
    with pytest.raises(RuleBroken):
        await upload(scene, ring, blobs, call_id)


async def test_r_con_4_a_purpose_outside_the_activity_needs_separate_consent(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    call_id = await scene.call()
    async with transaction(scene.sessions) as session:
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call_id, digit="1")
    recording = await upload(scene, ring, blobs, call_id)
    async with scene.sessions() as session:
        _, audio = await storage.open_for_listening(
            session=session,
            actor=SYSTEM,
            ring=ring,
            blobs=blobs,
            recording_id=recording.id,
            purpose="training",
        )
        assert b"".join([piece async for piece in audio]) == AUDIO
        with pytest.raises(RuleBroken) as raised:
            await storage.open_for_listening(
                session=session,
                actor=SYSTEM,
                ring=ring,
                blobs=blobs,
                recording_id=recording.id,
                purpose="marketing",
            )
        assert raised.value.rule_id == "R-CON-4"
    async with transaction(scene.sessions) as session:
        session.add(
            SeparateConsent(subject_id=scene.customer_id, purpose="marketing", given_at=clock.now())
        )
    async with scene.sessions() as session:
        _, audio = await storage.open_for_listening(
            session=session,
            actor=SYSTEM,
            ring=ring,
            blobs=blobs,
            recording_id=recording.id,
            purpose="marketing",
        )
        assert b"".join([piece async for piece in audio]) == AUDIO


async def test_r_min_1_a_childs_calls_are_erased_and_no_more_audio_taken(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    call_id = await scene.call()
    async with transaction(scene.sessions) as session:
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call_id, digit="1")
    await upload(scene, ring, blobs, call_id)
    async with transaction(scene.sessions) as session:
        await calls.mark_under_16(session=session, actor=SYSTEM, subject_id=scene.customer_id)
    async with scene.sessions() as session:
        subject = await session.get_one(Subject, scene.customer_id)
    assert subject.under_16 and subject.phone_sealed is None and subject.phone_index is None
    assert await statuses(scene, call_id) == [RecordingStatus.SHREDDED]
    with pytest.raises(RuleBroken) as raised:
        await upload(scene, ring, blobs, call_id)
    assert raised.value.rule_id == "R-MIN-1"


async def test_r_con_3_withdrawal_ends_live_monitoring_at_once(scene: Scene) -> None:
    """R-CON-3: withdrawal ends live monitoring at once."""
    call_id = await scene.call()
    async with transaction(scene.sessions) as session:
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call_id, digit="1")
        live = await monitoring.start_monitoring(
            session=session, actor=SYSTEM, call_id=call_id, reason="service_quality"
        )
    async with transaction(scene.sessions) as session:
        await calls.withdraw_consent(session=session, actor=SYSTEM, call_id=call_id)
    async with scene.sessions() as session:
        ended = await session.get_one(MonitoringSession, live.id)
    assert ended.ended_at == clock.now()


async def test_r_con_2_the_start_of_a_call_is_not_taken_again_once_management_deleted_it(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-CON-2: the start of a call is not taken again once management deleted it."""
    call_id = await scene.call(Direction.OUTBOUND)
    await upload(scene, ring, blobs, call_id, Segment.START)
    async with transaction(scene.sessions) as session:
        await calls.record_agent_answer(
            session=session, actor=SYSTEM, call_id=call_id, approved=False
        )
    # A second piece of the start, sent before management acted, is owed as well.
    await upload(scene, ring, blobs, call_id, Segment.START)
    async with transaction(scene.sessions) as session:
        await calls.delete_start_audio(session=session, actor=SYSTEM, call_id=call_id)
        assert await calls.deletions_owed(session=session, actor=SYSTEM) == []
    assert await statuses(scene, call_id) == [RecordingStatus.SHREDDED] * 2
    with pytest.raises(RuleBroken) as raised:
        await upload(scene, ring, blobs, call_id, Segment.START)
    assert raised.value.rule_id == "R-CON-3"
    assert await statuses(scene, call_id) == [RecordingStatus.SHREDDED] * 2
    async with scene.sessions() as session:
        assert await calls.deletions_owed(session=session, actor=SYSTEM) == []


async def test_r_con_2_a_start_deleted_before_its_audio_arrived_refuses_the_audio(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-CON-2: a start deleted before its audio arrived refuses the audio."""
    call_id = await scene.call(Direction.OUTBOUND)
    async with transaction(scene.sessions) as session:
        await calls.record_agent_answer(
            session=session, actor=SYSTEM, call_id=call_id, approved=False
        )
        await calls.delete_start_audio(session=session, actor=SYSTEM, call_id=call_id)
    # Late audio would be a deletion owed that nobody sees: it is never stored.
    with pytest.raises(RuleBroken) as raised:
        await upload(scene, ring, blobs, call_id, Segment.START)
    assert raised.value.rule_id == "R-CON-3"
    assert await statuses(scene, call_id) == []
    async with scene.sessions() as session:
        assert await calls.deletions_owed(session=session, actor=SYSTEM) == []
