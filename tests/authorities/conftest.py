"""Fixtures for disclosures to authorities: consented recordings whose audio is known."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from tests.recordings.conftest import Scene, scene

__all__ = ["Recorder", "audio_of", "recorder", "scene"]


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
