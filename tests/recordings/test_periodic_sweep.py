"""The sweep the server runs by itself (REGISTRY_SWEEP_INTERVAL_SECONDS): the same as
`registry sweep`, audited the same way (R-RET-1)."""

from __future__ import annotations

from datetime import timedelta

import anyio

from registry import clock
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.recordings.models import RecordingStatus
from tests.conftest import AppFactory
from tests.recordings.conftest import SYSTEM, Scene, status_of

AUDIO = b"a call kept for thirty days " * 100


async def test_r_ret_1_the_server_sweeps_expired_recordings_by_itself_and_audits_it(
    make_app: AppFactory,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
    frozen_clock: clock.FrozenClock,
) -> None:
    expired = await scene.recorded(ring, blobs, AUDIO)
    frozen_clock.advance(timedelta(days=30))
    kept = await scene.recorded(ring, blobs, AUDIO)
    app = make_app(sweep_interval_seconds=0.05)

    async with app.router.lifespan_context(app):
        # The sweep runs on the server's own schedule: look until it has been, or give up.
        for _ in range(400):
            if await status_of(scene.sessions, expired) is RecordingStatus.ERASED:
                break
            await anyio.sleep(0.05)
        else:
            raise AssertionError("the server did not sweep within 20 s")

    assert await status_of(scene.sessions, kept) is RecordingStatus.ACTIVE
    assert not await blobs.exists(f"{expired}.sealed")
    swept = await audit_log.events(actor=SYSTEM, after_seq=0, limit=100, action="sweep")
    assert swept and swept[0].principal == "system:sweep"
    assert swept[0].detail is not None and swept[0].detail["shredded"] == 1
