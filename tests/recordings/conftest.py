"""Fixtures for the recordings: a caller, an agent and a call of each direction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.access.service import Actor
from registry.audit.service import AuditLog
from registry.blobs import BlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from registry.recordings import calls, storage
from registry.recordings.models import (
    Direction,
    Recording,
    RecordingStatus,
    Segment,
    SubjectKind,
)

SYSTEM = Actor.system("test")
Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class Scene:
    sessions: Sessions
    customer_id: int
    agent_id: int
    # Where the sweep and the services' callers write what they did (R-ACC-6).
    audit_log: AuditLog

    async def call(self, direction: Direction = Direction.INBOUND, country: str = "GB") -> str:
        async with transaction(self.sessions) as session:
            call = await calls.register_call(
                session=session,
                actor=SYSTEM,
                direction=direction,
                company_slug="mood-media-uk",
                customer_id=self.customer_id,
                agent_id=self.agent_id,
                customer_country_code=country,
            )
        return call.id

    async def recorded(
        self, ring: KeyRing, blobs: BlobStore, audio: bytes, *, country: str = "US"
    ) -> str:
        """The ID of the audio of a new inbound call whose caller pressed 1."""
        call_id = await self.call(country=country)
        async with transaction(self.sessions) as session:
            await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call_id, digit="1")
            recording = await storage.store(
                session=session,
                actor=SYSTEM,
                ring=ring,
                blobs=blobs,
                call_id=call_id,
                segment=Segment.FULL,
                audio=chunks(audio),
            )
        return recording.id


async def listen(
    sessions: Sessions,
    ring: KeyRing,
    blobs: BlobStore,
    recording_id: str,
    purpose: str = "quality-control",
) -> bytes:
    """The audio of a recording, opened as a QA specialist would, for ``purpose``."""
    async with sessions() as session:
        _, audio = await storage.open_for_listening(
            session=session,
            actor=SYSTEM,
            ring=ring,
            blobs=blobs,
            recording_id=recording_id,
            purpose=purpose,
        )
        return b"".join([piece async for piece in audio])


async def status_of(sessions: Sessions, recording_id: str) -> RecordingStatus:
    async with sessions() as session:
        return (await session.get_one(Recording, recording_id)).status


async def chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@pytest_asyncio.fixture
async def scene(seeded: Sessions, ring: KeyRing, audit_log: AuditLog) -> Scene:
    async with transaction(seeded) as session:
        customer = await calls.register_subject(
            session=session,
            actor=SYSTEM,
            ring=ring,
            kind=SubjectKind.CUSTOMER,
            identifiers=calls.Identifiers("Ana Caller", "+44 20 7946 0000", "ana@example.test"),
            country_code="GB",
        )
        agent = await calls.register_subject(
            session=session,
            actor=SYSTEM,
            ring=ring,
            kind=SubjectKind.AGENT,
            identifiers=calls.Identifiers("Bo Agent", None, "bo@example.test"),
            principal_handle="test-agent",
        )
    return Scene(seeded, customer.id, agent.id, audit_log)
