"""Fixtures for disclosures to authorities: consented recordings whose audio is known."""

from __future__ import annotations

from dataclasses import dataclass

import pytest_asyncio

from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.recordings import calls, storage
from registry.recordings.models import Direction, Segment, SubjectKind
from tests.recordings.conftest import SYSTEM, Scene, Sessions, chunks


def audio_of(number: int) -> bytes:
    """Audio that tells one recording from another, over more than one sealed chunk."""
    return b"recorded call %03d|" % number * 2000


@dataclass(frozen=True)
class Recorder:
    scene: Scene
    ring: KeyRing
    blobs: LocalBlobStore

    async def record(self, count: int) -> dict[str, bytes]:
        """``count`` recordings of new inbound calls whose callers consented: ID -> audio."""
        made: dict[str, bytes] = {}
        for number in range(count):
            call_id = await self.scene.call(Direction.INBOUND)
            audio = audio_of(number)
            async with transaction(self.scene.sessions) as session:
                await calls.record_ivr_choice(
                    session=session, actor=SYSTEM, call_id=call_id, digit="1"
                )
                recording = await storage.store(
                    session=session,
                    actor=SYSTEM,
                    ring=self.ring,
                    blobs=self.blobs,
                    call_id=call_id,
                    segment=Segment.FULL,
                    audio=chunks(audio),
                )
            made[recording.id] = audio
        return made


@pytest_asyncio.fixture
async def recorder(seeded: Sessions, ring: KeyRing, blobs: LocalBlobStore) -> Recorder:
    async with transaction(seeded) as session:
        customer = await calls.register_subject(
            session=session,
            actor=SYSTEM,
            ring=ring,
            kind=SubjectKind.CUSTOMER,
            identifiers=calls.Identifiers("Cy Caller", "+44 20 7946 0999", "cy@example.test"),
            country_code="GB",
        )
        agent = await calls.register_subject(
            session=session,
            actor=SYSTEM,
            ring=ring,
            kind=SubjectKind.AGENT,
            identifiers=calls.Identifiers("Di Agent", None, "di@example.test"),
            principal_handle="test-agent",
        )
    return Recorder(Scene(seeded, customer.id, agent.id), ring, blobs)
