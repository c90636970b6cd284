"""Erasure on request (R-ERA-1), and of a child's data (R-MIN-1)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from registry import clock
from registry.access.policy import Role
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.errors import NotFound, RuleBroken
from registry.recordings import erasure, retention, storage
from registry.recordings.models import (
    ErasureReason,
    HoldGround,
    RecordingStatus,
    Segment,
    Subject,
    Tombstone,
)
from tests.conftest import NOW, Api, Databases
from tests.recordings.conftest import SYSTEM, Scene, chunks, listen
from tests.recordings.test_retention import (
    AUDIO,
    DAY,
    PLACE,
    State,
    recorded,
    state,
    sweep,
    sweeper_midway,
    until_one_waits_for_a_lock,
)

ERASE = "mutation($recording: String!) { eraseRecording(recording: $recording) { recording { id status } errors { __typename message ... on RuleBrokenError { ruleId } } } }"
MINOR = "mutation($subject: Int!) { markUnder16(subject: $subject) { subject { id under16 } errors { __typename message } } }"
CLAIM = "Claim 2026-114 before the labour court: the call is evidence"


async def erase(api: Api, recording_id: str, role: Role = Role.PRIVACY_OFFICER) -> dict[str, Any]:
    payload: dict[str, Any] = (await api.data(ERASE, {"recording": recording_id}, role=role))[
        "eraseRecording"
    ]
    return payload


async def place(api: Api, recording_id: str, ground: str) -> None:
    variables = {
        "recording": recording_id,
        "ground": ground,
        "justification": CLAIM,
        "endsOn": "2027-06-30",
    }
    assert (await api.data(PLACE, variables))["placeLegalHold"]["errors"] == []


async def test_r_era_1_an_erasure_request_shreds_the_recording_at_once(
    api: Api, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-ERA-1: an erasure request shreds the recording at once."""
    recording_id, other = await recorded(scene, ring, blobs, count=2)
    for role in set(Role) - {Role.PRIVACY_OFFICER}:
        refused = await erase(api, recording_id, role)
        assert [e["__typename"] for e in refused["errors"]] == ["ForbiddenError"], role
    assert await listen(scene.sessions, ring, blobs, recording_id) == AUDIO
    done = await erase(api, recording_id)
    assert done == {"recording": {"id": recording_id, "status": "SHREDDED"}, "errors": []}
    # The data key is gone at once: every copy of the audio is unreadable from now on.
    assert await state(scene.sessions, blobs, recording_id) == State(
        RecordingStatus.SHREDDED,
        key_gone=True,
        blob_kept=True,
        tombstones=[(recording_id, ErasureReason.ERASURE_REQUEST, "test-privacy-officer")],
    )
    with pytest.raises(NotFound):
        await listen(scene.sessions, ring, blobs, recording_id)
    # The next sweep deletes the blob; the other recording of the call is not touched.
    assert await sweep(scene, blobs) == (0, 1)
    assert (await state(scene.sessions, blobs, recording_id)).status is RecordingStatus.ERASED
    assert await listen(scene.sessions, ring, blobs, other) == AUDIO
    again = await erase(api, recording_id)
    assert [e["__typename"] for e in again["errors"]] == ["NotFoundError"]


async def test_r_era_1_the_tombstone_holds_no_personal_data(
    api: Api, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-ERA-1: the tombstone holds no personal data."""
    (recording_id,) = await recorded(scene, ring, blobs)
    await erase(api, recording_id)
    assert set(Tombstone.__table__.columns.keys()) == {
        "id",
        "recording_id",
        "erased_at",
        "reason",
        "erased_by",
    }
    async with scene.sessions() as session:
        (tombstone,) = (await session.scalars(select(Tombstone))).all()
    assert (
        tombstone.recording_id,
        tombstone.erased_at,
        tombstone.reason,
        tombstone.erased_by,
    ) == (recording_id, NOW, ErasureReason.ERASURE_REQUEST, "test-privacy-officer")


async def test_r_era_1_a_hold_for_legal_claims_refuses_the_request_and_names_its_ground(
    api: Api, scene: Scene, ring: KeyRing, blobs: LocalBlobStore, audit_log: AuditLog
) -> None:
    (recording_id,) = await recorded(scene, ring, blobs)
    await place(api, recording_id, "LEGAL_CLAIMS")
    refused = await erase(api, recording_id)
    assert refused["recording"] is None
    (error,) = refused["errors"]
    assert (error["__typename"], error["ruleId"]) == ("RuleBrokenError", "R-ERA-1")
    assert CLAIM in error["message"]
    assert await state(scene.sessions, blobs, recording_id) == State(
        RecordingStatus.ACTIVE, key_gone=False, blob_kept=True, tombstones=[]
    )
    assert await listen(scene.sessions, ring, blobs, recording_id) == AUDIO
    (audited,) = await audit_log.events(
        actor=SYSTEM, after_seq=0, limit=10, action="eraseRecording"
    )
    assert (audited.principal, audited.outcome, audited.target) == (
        "test-privacy-officer",
        Outcome.DENIED,
        f"recording={recording_id}",
    )
    assert audited.detail == {"code": "RULE_BROKEN", "ruleId": "R-ERA-1"}


async def test_r_era_1_a_hold_on_another_legitimate_interest_does_not_stop_a_request(
    api: Api, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    """R-ERA-1: a hold on another legitimate interest does not stop a request."""
    (recording_id,) = await recorded(scene, ring, blobs)
    await place(api, recording_id, "OTHER_LEGITIMATE_INTEREST")
    done = await erase(api, recording_id)
    assert done == {"recording": {"id": recording_id, "status": "SHREDDED"}, "errors": []}
    assert (await state(scene.sessions, blobs, recording_id)).key_gone


async def test_r_era_1_a_released_hold_for_legal_claims_no_longer_refuses(
    api: Api, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    (recording_id,) = await recorded(scene, ring, blobs)
    async with transaction(scene.sessions) as session:
        placed = await retention.place_hold(
            session=session,
            actor=SYSTEM,
            recording_id=recording_id,
            ground=HoldGround.LEGAL_CLAIMS,
            justification=CLAIM,
            ends_on=NOW.date().replace(year=2027),
        )
    with pytest.raises(RuleBroken) as raised:
        async with transaction(scene.sessions) as session:
            await erasure.erase_recording(session=session, actor=SYSTEM, recording_id=recording_id)
    assert raised.value.rule_id == "R-ERA-1"
    async with transaction(scene.sessions) as session:
        await retention.release_hold(session=session, actor=SYSTEM, hold_id=placed.id)
    done = await erase(api, recording_id)
    assert done["errors"] == [] and done["recording"]["status"] == "SHREDDED"


async def test_r_min_1_a_subject_marked_under_16_loses_their_audio_and_identifiers(
    api: Api, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    first, second = await recorded(scene, ring, blobs, count=2)
    (later,) = await recorded(scene, ring, blobs)
    for role in set(Role) - {Role.PRIVACY_OFFICER}:
        refused = (await api.data(MINOR, {"subject": scene.customer_id}, role=role))["markUnder16"]
        assert [e["__typename"] for e in refused["errors"]] == ["ForbiddenError"], role
    marked = (await api.data(MINOR, {"subject": scene.customer_id}))["markUnder16"]
    assert marked == {"subject": {"id": scene.customer_id, "under16": True}, "errors": []}
    for recording_id in (first, second, later):
        assert await state(scene.sessions, blobs, recording_id) == State(
            RecordingStatus.SHREDDED,
            key_gone=True,
            blob_kept=True,
            tombstones=[(recording_id, ErasureReason.MINOR, "test-privacy-officer")],
        )
    async with scene.sessions() as session:
        child = await session.get_one(Subject, scene.customer_id)
    assert child.identifiers_erased_at == NOW
    assert (child.name_sealed, child.phone_sealed, child.email_sealed) == (None, None, None)
    assert (child.phone_index, child.email_index) == (None, None)
    call_id = await scene.call()
    with pytest.raises(RuleBroken) as raised:
        async with transaction(scene.sessions) as session:
            await storage.store(
                session=session,
                actor=SYSTEM,
                ring=ring,
                blobs=blobs,
                call_id=call_id,
                segment=Segment.FULL,
                audio=chunks(AUDIO),
            )
    assert raised.value.rule_id == "R-MIN-1"
    assert await sweep(scene, blobs) == (0, 3)
    assert list(blobs.root.iterdir()) == []


async def test_r_era_1_a_request_while_the_sweeper_erases_the_recording_erases_it_once(
    databases: Databases,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    frozen_clock: clock.FrozenClock,
) -> None:
    """R-ERA-1: a request while the sweeper erases the recording erases it once."""
    if databases.backend == "sqlite":
        pytest.skip("row locks: SQLite's writers never overlap (the later one fails)")
    (recording_id,) = await recorded(scene, ring, blobs)
    frozen_clock.advance(31 * DAY)

    async def request() -> None:
        async with transaction(scene.sessions) as session:
            await erasure.erase_recording(session=session, actor=SYSTEM, recording_id=recording_id)

    async with sweeper_midway(scene, recording_id):
        erasing = asyncio.create_task(request())
        await until_one_waits_for_a_lock(scene.sessions)
    # The request is honoured by the erasure under way, which it waited for: nothing twice.
    await erasing
    assert await state(scene.sessions, blobs, recording_id) == State(
        RecordingStatus.SHREDDED,
        key_gone=True,
        blob_kept=True,
        tombstones=[(recording_id, ErasureReason.EXPIRED, retention.SWEEPER.handle)],
    )
