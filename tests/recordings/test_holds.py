"""A hold stops every erasure of a recording, whatever asks for it (R-ERA-1, R-RET-2).

One gate decides: a hold for legal claims keeps a recording from a withdrawal, a refusal,
a child's erasure, the deletion of a call's start, an erasure request or a subject's
erasure; any hold keeps it past its period. What a hold kept is recorded.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from registry import clock
from registry.access.policy import Role
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.recordings import calls, retention, storage
from registry.recordings.models import (
    Call,
    ConsentEvent,
    ConsentStep,
    Direction,
    ErasureReason,
    HoldGround,
    KeptFromErasure,
    LegalHold,
    RecordingStatus,
    Segment,
    Subject,
)
from registry.rights import effects
from tests.conftest import NOW, Api
from tests.recordings.conftest import SYSTEM, Scene, chunks
from tests.recordings.test_retention import AUDIO, State, hold, recorded, state, sweep

CLAIM = "Claim 2026-114 before the labour court: the call is evidence"
ENDS = (NOW + timedelta(days=90)).date()
WITHDRAW = "mutation($call: String!) { withdrawConsent(call: $call) { call { id consent } errors { __typename message } } }"
KEPT = State(RecordingStatus.ACTIVE, key_gone=False, blob_kept=True, tombstones=[])


async def kept_records(scene: Scene) -> list[tuple[str, int, ErasureReason, str]]:
    async with scene.sessions() as session:
        rows = (await session.scalars(select(KeptFromErasure).order_by(KeptFromErasure.id))).all()
    return [(k.recording_id, k.hold_id, k.reason, k.asked_by) for k in rows]


async def call_of(scene: Scene, recording_id: str) -> Call:
    async with scene.sessions() as session:
        recording = await session.get_one(calls.Recording, recording_id)
        return await session.get_one(Call, recording.call_id)


async def step_detail(scene: Scene, call_id: str, step: ConsentStep) -> dict[str, Any] | None:
    async with scene.sessions() as session:
        event = await session.scalar(
            select(ConsentEvent).where(ConsentEvent.call_id == call_id, ConsentEvent.step == step)
        )
    assert event is not None
    return event.detail


def kept_by(placed: LegalHold, recording_id: str) -> dict[str, Any]:
    return {
        "kept_by_hold": [
            {
                "recording": recording_id,
                "ground": "legal_claims",
                "justification": placed.justification,
                "hold_ends_on": ENDS.isoformat(),
            }
        ]
    }


async def test_r_era_1_an_agents_withdrawal_leaves_a_recording_held_for_legal_claims(
    api: Api, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-ERA-1: an agents withdrawal leaves a recording held for legal claims."""
    held, free = await recorded(scene, ring, blobs, count=2)
    placed = await hold(scene, held, ENDS, CLAIM)
    call = await call_of(scene, held)
    done = (await api.data(WITHDRAW, {"call": call.id}, role=Role.AGENT))["withdrawConsent"]
    assert done == {"call": {"id": call.id, "consent": "WITHDRAWN"}, "errors": []}
    assert await state(scene.sessions, blobs, held) == KEPT
    assert (await state(scene.sessions, blobs, free)).key_gone
    # The outcome says what the hold kept, on what ground, and who asked for the erasure.
    assert await step_detail(scene, call.id, ConsentStep.WITHDRAWN) == kept_by(placed, held)
    assert await kept_records(scene) == [
        (held, placed.id, ErasureReason.CONSENT_WITHDRAWN, "test-agent")
    ]


async def test_r_era_1_a_refusal_leaves_audio_held_for_legal_claims(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-ERA-1: a refusal leaves audio held for legal claims."""
    (held,) = await recorded(scene, ring, blobs)
    placed = await hold(scene, held, ENDS, CLAIM)
    call = await call_of(scene, held)
    async with transaction(scene.sessions) as session:
        (await session.get_one(Call, call.id)).consent = calls.Consent.PENDING
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call.id, digit="2")
    assert await state(scene.sessions, blobs, held) == KEPT
    assert await step_detail(scene, call.id, ConsentStep.IVR_DIGIT_2) == kept_by(placed, held)
    assert await kept_records(scene) == [
        (held, placed.id, ErasureReason.CONSENT_REFUSED, SYSTEM.handle)
    ]


async def test_r_era_1_marking_a_child_leaves_audio_held_for_legal_claims_and_whose_it_is(
    api: Api, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-ERA-1: marking a child leaves audio held for legal claims and whose it is."""
    held, free = await recorded(scene, ring, blobs, count=2)
    placed = await hold(scene, held, ENDS, CLAIM)
    minor = "mutation($subject: Int!) { markUnder16(subject: $subject) { subject { under16 } errors { __typename } } }"
    marked = (await api.data(minor, {"subject": scene.customer_id}))["markUnder16"]
    assert marked == {"subject": {"under16": True}, "errors": []}
    assert await state(scene.sessions, blobs, held) == KEPT
    assert (await state(scene.sessions, blobs, free)).key_gone
    # The claim needs to know whose the audio is: the identifiers stay with it.
    async with scene.sessions() as session:
        child = await session.get_one(Subject, scene.customer_id)
    assert child.under_16 and child.name_sealed is not None and child.identifiers_erased_at is None
    assert await kept_records(scene) == [
        (held, placed.id, ErasureReason.MINOR, "test-privacy-officer")
    ]


async def test_r_era_1_deleting_a_calls_start_leaves_audio_held_and_the_deletion_owed(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-ERA-1: deleting a calls start leaves audio held and the deletion owed."""
    call_id = await scene.call(Direction.OUTBOUND)
    async with transaction(scene.sessions) as session:
        start = await storage.store(
            session=session,
            actor=SYSTEM,
            ring=ring,
            blobs=blobs,
            call_id=call_id,
            segment=Segment.START,
            audio=chunks(AUDIO),
        )
        await calls.record_agent_answer(
            session=session, actor=SYSTEM, call_id=call_id, approved=False
        )
    placed = await hold(scene, start.id, ENDS, CLAIM)
    async with transaction(scene.sessions) as session:
        await calls.delete_start_audio(session=session, actor=SYSTEM, call_id=call_id)
    assert await state(scene.sessions, blobs, start.id) == KEPT
    detail = await step_detail(scene, call_id, ConsentStep.START_AUDIO_DELETED)
    assert detail == kept_by(placed, start.id)
    assert await kept_records(scene) == [
        (start.id, placed.id, ErasureReason.START_OF_CALL, SYSTEM.handle)
    ]
    # Still owed (R-CON-2): the audio is there. Once the hold is released it can be done.
    async with transaction(scene.sessions) as session:
        (owed,) = await calls.deletions_owed(session=session, actor=SYSTEM)
        assert owed.call.id == call_id
        await retention.release_hold(session=session, actor=SYSTEM, hold_id=placed.id)
    async with transaction(scene.sessions) as session:
        await calls.delete_start_audio(session=session, actor=SYSTEM, call_id=call_id)
        assert await calls.deletions_owed(session=session, actor=SYSTEM) == []
    assert (await state(scene.sessions, blobs, start.id)).key_gone


async def test_r_era_1_a_subjects_erasure_leaves_what_a_hold_for_legal_claims_keeps(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-ERA-1: a subjects erasure leaves what a hold for legal claims keeps."""
    held, free = await recorded(scene, ring, blobs, count=2)
    placed = await hold(scene, held, ENDS, CLAIM)
    async with transaction(scene.sessions) as session:
        subject = await session.get_one(Subject, scene.customer_id)
        outcome = await effects.erase_subject(session=session, actor=SYSTEM, subject=subject)
    assert outcome["recordings_erased"] == 1
    assert [k["recording"] for k in outcome["kept_for_legal_claims"]] == [held]
    assert await state(scene.sessions, blobs, held) == KEPT
    assert (await state(scene.sessions, blobs, free)).key_gone
    assert await kept_records(scene) == [
        (held, placed.id, ErasureReason.ERASURE_REQUEST, SYSTEM.handle)
    ]


async def test_r_ret_2_a_hold_on_another_interest_keeps_a_recording_past_its_period_only(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-2: a hold on another interest keeps a recording past its period only."""
    (held,) = await recorded(scene, ring, blobs)
    async with transaction(scene.sessions) as session:
        await retention.place_hold(
            session=session,
            actor=SYSTEM,
            recording_id=held,
            ground=HoldGround.OTHER_LEGITIMATE_INTEREST,
            justification="Training set for new staff, agreed with the works council",
            ends_on=ENDS,
        )
    # Past its period the sweep keeps it, and records nothing: no erasure was asked for.
    frozen_clock.advance(timedelta(days=31))
    assert await sweep(scene, blobs) == (0, 0)
    assert await state(scene.sessions, blobs, held) == KEPT
    # The customer withdraws: a hold on another interest does not stand against that.
    call = await call_of(scene, held)
    async with transaction(scene.sessions) as session:
        await calls.withdraw_consent(session=session, actor=SYSTEM, call_id=call.id)
    assert (await state(scene.sessions, blobs, held)).key_gone
    assert await kept_records(scene) == []
