"""Fixtures for disclosures to authorities: consented recordings whose audio is known, and
the privacy officers who record, review and release a request, each a different person
(four eyes, R-ACC-5)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import pytest
import pytest_asyncio

from registry.access import service as access
from registry.access.policy import Role
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import transaction
from tests.conftest import NOW, OFFICER, Api
from tests.recordings.conftest import Scene, Sessions, scene

__all__ = ["Desk", "Recorder", "audio_of", "desk", "recorder", "scene"]

# The privacy officer of the ``api`` fixture records requests; two colleagues do the rest.
RECORDER = "test-privacy-officer"
REVIEWER = "test-privacy-reviewer"
RELEASER = "test-privacy-releaser"


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
            audio = audio_of(number)
            made[await self.scene.recorded(self.ring, self.blobs, audio)] = audio
        return made


@pytest.fixture
def recorder(scene: Scene, ring: KeyRing, blobs: LocalBlobStore) -> Recorder:
    return Recorder(scene, ring, blobs)


@dataclass(frozen=True)
class Desk:
    """The privacy team at work on authorities' requests: a client for each officer."""

    recorder: Api
    reviewer: Api
    releaser: Api


async def colleague(sessions: Sessions, api: Api, handle: str) -> Api:
    """``api`` as another privacy officer, cleared and trained as every real user must be."""
    async with transaction(sessions) as session:
        await access.create_principal(
            session=session,
            actor=OFFICER,
            handle=handle,
            display_name=handle,
            roles=[Role.PRIVACY_OFFICER],
            confidentiality_committed_on=NOW.date() - timedelta(days=30),
            trained_on=NOW.date() - timedelta(days=20),
        )
        token, _ = await access.issue_token(
            session=session, actor=OFFICER, handle=handle, label="test"
        )
    return replace(api, tokens={**api.tokens, Role.PRIVACY_OFFICER: token})


@pytest_asyncio.fixture
async def desk(api: Api, seeded: Sessions) -> Desk:
    return Desk(
        recorder=api,
        reviewer=await colleague(seeded, api, REVIEWER),
        releaser=await colleague(seeded, api, RELEASER),
    )
