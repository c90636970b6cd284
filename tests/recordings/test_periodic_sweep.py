"""The sweep the server runs by itself (REGISTRY_SWEEP_INTERVAL_SECONDS): the same as
`registry sweep`, audited the same way (R-RET-1)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import anyio

from registry import clock
from registry.audit.models import AuditEvent
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.recordings.models import RecordingStatus
from tests.conftest import AppFactory
from tests.recordings.conftest import SYSTEM, Scene, status_of

AUDIO = b"a call kept for thirty days " * 100


async def within(seconds: float, done: Callable[[], Awaitable[bool]]) -> None:
    """Returns once ``done()`` holds; fails after ``seconds``. The server's sweep runs on its
    own schedule, so the test looks until it has happened rather than for a fixed time."""
    with anyio.fail_after(seconds):
        while True:
            if await done():
                return
            await anyio.sleep(0.02)


async def sweeps(audit_log: AuditLog, action: str) -> list[AuditEvent]:
    return list(await audit_log.events(actor=SYSTEM, after_seq=0, limit=100, action=action))


async def test_r_ret_1_the_server_sweeps_expired_recordings_by_itself_and_audits_it(
    make_app: AppFactory,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
    frozen_clock: clock.FrozenClock,
) -> None:
    """R-RET-1: the server sweeps expired recordings by itself and audits it."""
    expired = await scene.recorded(ring, blobs, AUDIO)
    frozen_clock.advance(timedelta(days=30))
    kept = await scene.recorded(ring, blobs, AUDIO)
    app = make_app(sweep_interval_seconds=0.05)

    async def erased() -> bool:
        return await status_of(scene.sessions, expired) is RecordingStatus.ERASED

    async def summed_up() -> bool:
        return any((e.detail or {}).get("shredded") == 1 for e in await sweeps(audit_log, "sweep"))

    async with app.router.lifespan_context(app):
        await within(20, erased)
        # The shredding was audited before it committed, not only in the sweep's summary at
        # its end, which a server stopping meanwhile would cut off (R-ACC-6).
        (batch,) = await sweeps(audit_log, "sweep.shred")
        await within(20, summed_up)

    assert (batch.principal, batch.detail) == (
        "system:sweep",
        {"reason": "expired", "recordings": [expired]},
    )
    assert await status_of(scene.sessions, kept) is RecordingStatus.ACTIVE
    assert not await blobs.exists(f"{expired}.sealed")
    (summary, *_) = await sweeps(audit_log, "sweep")
    assert summary.principal == "system:sweep"
