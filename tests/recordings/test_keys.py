"""`registry keys rotate` and `registry sweep`, run as an operator runs them."""

from __future__ import annotations

import asyncio
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from registry import clock
from registry.audit.models import Outcome
from registry.audit.service import AuditLog
from registry.blobs import LocalBlobStore
from registry.cli import app
from registry.crypto import KeyRing
from registry.db import transaction
from registry.recordings import erasure
from registry.recordings.models import Recording, RecordingStatus
from tests.recordings.conftest import SYSTEM, Scene, Sessions
from tests.recordings.test_retention import AUDIO, erased_by_sweep, listen, recorded, state

DAY = timedelta(days=1)


@pytest.fixture
def cli(database_url: str, audit_url: str, tmp_path: Path) -> CliRunner:
    """The `registry` command on the test's databases, its var folder the test's own: so its
    key ring is the ``ring`` fixture's file and its blobs the ``blobs`` fixture's folder."""
    return CliRunner(
        env={
            "REGISTRY_DATABASE_URL": database_url,
            "REGISTRY_AUDIT_DATABASE_URL": audit_url,
            "REGISTRY_VAR_DIR": str(tmp_path),
        }
    )


async def run(runner: CliRunner, *arguments: str) -> Result:
    # The command runs its own event loop: give it a thread of its own.
    result = await asyncio.to_thread(runner.invoke, app, list(arguments))
    assert result.exit_code == 0, result.output
    return result


async def wrapped_keys(sessions: Sessions) -> dict[str, tuple[str | None, bytes | None]]:
    async with sessions() as session:
        rows = await session.execute(select(Recording.id, Recording.key_id, Recording.wrapped_key))
        return {recording_id: (key_id, wrapped) for recording_id, key_id, wrapped in rows.all()}


def blob_files(blobs: LocalBlobStore) -> dict[str, tuple[bytes, int]]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in blobs.root.iterdir()}


async def test_r_enc_1_rotation_rewraps_every_data_key_and_never_touches_the_audio(
    cli: CliRunner,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
    tmp_path: Path,
) -> None:
    live = await recorded(scene, ring, blobs, count=3)
    (shredded,) = await recorded(scene, ring, blobs)
    async with transaction(scene.sessions) as session:
        await erasure.erase_recording(session=session, actor=SYSTEM, recording_id=shredded)
    first = ring.primary_id
    before, files = await wrapped_keys(scene.sessions), blob_files(blobs)

    result = await run(cli, "keys", "rotate")

    ring_file = tmp_path / "keyring.json"
    on_disk = KeyRing.load_or_create(ring_file)
    second = on_disk.primary_id
    assert second != first and on_disk.get(first)
    assert stat.S_IMODE(ring_file.stat().st_mode) == 0o600
    assert result.stdout == f"registry: primary key is now {second}; 3 data keys re-wrapped\n"
    after = await wrapped_keys(scene.sessions)
    for recording_id in live:
        assert before[recording_id][0] == first and after[recording_id][0] == second
        assert after[recording_id][1] != before[recording_id][1]
    # A shredded recording stays shredded: rotation has no key of it to wrap again.
    assert after[shredded] == before[shredded] == (None, None)
    assert blob_files(blobs) == files
    for reader in (on_disk, ring):
        for recording_id in live:
            assert await listen(scene.sessions, reader, blobs, recording_id) == AUDIO
    (audited,) = await audit_log.events(actor=SYSTEM, after_seq=0, limit=10, action="keys.rotate")
    assert (audited.principal, audited.outcome) == ("system:cli", Outcome.ALLOWED)
    assert audited.detail == {"primary": second, "rewrapped": 3}

    # Again: the first two keys both stay in the ring, and nothing left is under either.
    await run(cli, "keys", "rotate")
    third = KeyRing.load_or_create(ring_file)
    assert third.primary_id not in (first, second) and third.get(first) and third.get(second)
    assert {k for k, _ in (await wrapped_keys(scene.sessions)).values()} == {third.primary_id, None}
    assert blob_files(blobs) == files
    for recording_id in live:
        assert await listen(scene.sessions, third, blobs, recording_id) == AUDIO


async def test_r_ret_1_the_sweep_command_erases_the_expired_and_says_how_many(
    cli: CliRunner,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    audit_log: AuditLog,
    frozen_clock: clock.FrozenClock,
) -> None:
    expired = await recorded(scene, ring, blobs, count=2)
    frozen_clock.advance(20 * DAY)
    (kept,) = await recorded(scene, ring, blobs)
    frozen_clock.advance(11 * DAY)

    result = await run(cli, "sweep", "--batch", "1")

    assert result.stdout == "registry: 2 recordings shredded, 2 blobs deleted\n"
    for recording_id in expired:
        assert await state(scene.sessions, blobs, recording_id) == erased_by_sweep(recording_id)
    assert (await state(scene.sessions, blobs, kept)).status is RecordingStatus.ACTIVE
    assert await listen(scene.sessions, ring, blobs, kept) == AUDIO
    (audited,) = await audit_log.events(actor=SYSTEM, after_seq=0, limit=10, action="sweep")
    assert (audited.principal, audited.outcome) == ("system:sweep", Outcome.ALLOWED)
    assert audited.detail == {"shredded": 2, "blobs_deleted": 2}

    again = await run(cli, "sweep")
    assert again.stdout == "registry: 0 recordings shredded, 0 blobs deleted\n"
