"""What is never served, whatever the purpose: audio past its period (R-RET-1), unless a
hold keeps it (R-RET-2), and audio of a call whose consent does not stand (R-CON-3)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from registry import clock
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.errors import RuleBroken
from registry.recordings import calls, storage
from registry.recordings.models import Direction, Segment
from tests.conftest import NOW
from tests.recordings.conftest import SYSTEM, Scene, chunks, listen
from tests.recordings.test_retention import AUDIO, hold, recorded

DAYS = timedelta(days=1)
PURPOSES = ("quality-control", "training", "employee-evaluation")


async def refused_for(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, recording_id: str, purpose: str
) -> str:
    with pytest.raises(RuleBroken) as raised:
        await listen(scene.sessions, ring, blobs, recording_id, purpose)
    return raised.value.rule_id


async def test_r_ret_1_a_recording_past_its_period_is_not_served_before_the_sweep(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    expired, held = await recorded(scene, ring, blobs, count=2)
    await hold(scene, held, (NOW + 60 * DAYS).date())
    frozen_clock.current = NOW + 30 * DAYS - timedelta(seconds=1)
    assert await listen(scene.sessions, ring, blobs, expired) == AUDIO
    # The sweep has not run: the period has ended all the same.
    frozen_clock.current = NOW + 30 * DAYS
    assert await refused_for(scene, ring, blobs, expired, "quality-control") == "R-RET-1"
    # A hold keeps a recording past its period (R-RET-2), until the hold ends.
    assert await listen(scene.sessions, ring, blobs, held) == AUDIO
    frozen_clock.current = NOW + 61 * DAYS
    assert await refused_for(scene, ring, blobs, held, "quality-control") == "R-RET-1"


async def test_r_con_3_audio_of_a_call_whose_consent_is_pending_is_not_listened_to(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
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
    for purpose in PURPOSES:
        assert await refused_for(scene, ring, blobs, start.id, purpose) == "R-CON-3"
    # Refused: the start is kept only until management deletes it; nobody listens meanwhile.
    async with transaction(scene.sessions) as session:
        await calls.record_agent_answer(
            session=session, actor=SYSTEM, call_id=call_id, approved=False
        )
    for purpose in PURPOSES:
        assert await refused_for(scene, ring, blobs, start.id, purpose) == "R-CON-3"


async def test_r_con_3_audio_a_hold_keeps_after_a_withdrawal_is_not_listened_to(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    (held,) = await recorded(scene, ring, blobs)
    await hold(scene, held, (NOW + 60 * DAYS).date())
    assert await listen(scene.sessions, ring, blobs, held) == AUDIO
    async with scene.sessions() as session:
        call_id = (await session.get_one(calls.Recording, held)).call_id
    async with transaction(scene.sessions) as session:
        await calls.withdraw_consent(session=session, actor=SYSTEM, call_id=call_id)
    # Kept for the claim (R-ERA-1), but no longer used for any purpose of the activity.
    for purpose in PURPOSES:
        assert await refused_for(scene, ring, blobs, held, purpose) == "R-CON-3"
