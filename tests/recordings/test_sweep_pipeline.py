"""The sweep's batches: a hold that comes in after a batch is claimed, and blobs deleted
while the next batch is erased, or left pending for the next sweep (R-RET-1, R-RET-2)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlalchemy import false, func, select

from registry import clock
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import create_engine, session_factory
from registry.errors import NotFound
from registry.recordings import retention
from registry.recordings.models import (
    ErasureReason,
    PendingBlobDeletion,
    Recording,
    RecordingStatus,
    Tombstone,
)
from tests.conftest import NOW
from tests.recordings.conftest import Scene, listen
from tests.recordings.test_retention import (
    AUDIO,
    DAY,
    BlobStoreDown,
    State,
    erased_by_sweep,
    hold,
    pending_blob_keys,
    recorded,
    state,
    sweep,
)


async def test_r_ret_2_a_hold_the_claim_did_not_see_keeps_the_recording(
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    frozen_clock: clock.FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """R-RET-2: a hold committed after the claim read the holds, before it locked the row,
    still keeps the recording: the shred reads the holds again, after the lock."""
    held_id, other_id = await recorded(scene, ring, blobs, count=2)
    frozen_clock.advance(31 * DAY)
    await hold(scene, held_id, (NOW + 90 * DAY).date())
    # The claim's view of the holds, as it was before this one committed: none.
    monkeypatch.setattr(retention, "held_now", lambda _today: false())
    assert await sweep(scene, blobs) == (1, 1)
    assert await state(scene.sessions, blobs, held_id) == State(
        RecordingStatus.ACTIVE, key_gone=False, blob_kept=True, tombstones=[]
    )
    assert await listen(scene.sessions, ring, blobs, held_id) == AUDIO
    assert await state(scene.sessions, blobs, other_id) == erased_by_sweep(other_id)


async def test_r_ret_1_a_blob_store_down_stops_no_shredding_and_the_next_sweep_finishes(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-1: with the blob store down, every expired recording's key is destroyed all the
    same (its tombstone left); the sweep then fails, and the next one deletes the blobs."""
    recording_ids = await recorded(scene, ring, blobs, count=5)
    frozen_clock.advance(31 * DAY)
    with pytest.raises(OSError, match="unreachable"):
        await sweep(scene, BlobStoreDown(blobs.root, failures=3), batch=2)
    async with scene.sessions() as session:
        statuses = (await session.scalars(select(Recording.status))).all()
        tombstones = await session.scalar(select(func.count()).select_from(Tombstone))
        pending = await session.scalar(select(func.count()).select_from(PendingBlobDeletion))
    # Three batches, each deletion failed: every key gone and every row erased, each
    # batch's blobs kept pending, none deleted.
    assert sorted(statuses) == [RecordingStatus.ERASED] * 5
    assert tombstones == 5
    assert pending == 3
    assert await pending_blob_keys(scene.sessions) == sorted(f"{r}.sealed" for r in recording_ids)
    assert len(list(blobs.root.iterdir())) == 5
    assert await sweep(scene, blobs, batch=2) == (0, 5)
    for recording_id in recording_ids:
        assert await state(scene.sessions, blobs, recording_id) == erased_by_sweep(recording_id)
    assert await pending_blob_keys(scene.sessions) == []


async def test_r_ret_1_a_batchs_blobs_are_marked_erased_once_gone_whatever_the_batches(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-1: batch after batch, each batch's blobs deleted and its rows marked erased,
    the last batch's too; nothing left for a second sweep."""
    recording_ids = await recorded(scene, ring, blobs, count=7)
    frozen_clock.advance(31 * DAY)
    assert await sweep(scene, blobs, batch=3) == (7, 7)
    for recording_id in recording_ids:
        assert await state(scene.sessions, blobs, recording_id) == erased_by_sweep(recording_id)
    assert list(blobs.root.iterdir()) == []
    assert await pending_blob_keys(scene.sessions) == []
    assert await sweep(scene, blobs, batch=3) == (0, 0)


class BlobStoreStuck(LocalBlobStore):
    """The local store, whose deletions never end: the sweep is killed while they run."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.deleting = asyncio.Event()

    async def delete_many(self, keys: Sequence[str]) -> None:
        self.deleting.set()
        await asyncio.Event().wait()


async def test_r_ret_1_a_sweep_killed_before_its_blobs_went_leaves_them_to_the_next(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-1: a sweep killed once its batch committed, before the blobs were deleted,
    leaves the recordings erased (unreadable, tombstoned) and their blob keys pending; the
    next sweep deletes the blobs first, and nothing stays pending."""
    recording_ids = await recorded(scene, ring, blobs, count=3)
    frozen_clock.advance(31 * DAY)
    stuck = BlobStoreStuck(blobs.root)
    killed = asyncio.create_task(sweep(scene, stuck))
    # The deletion starts only once the batch has committed.
    await stuck.deleting.wait()
    killed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await killed
    for recording_id in recording_ids:
        assert await state(scene.sessions, blobs, recording_id) == State(
            RecordingStatus.ERASED,
            key_gone=True,
            blob_kept=True,
            tombstones=[(recording_id, ErasureReason.EXPIRED, retention.SWEEPER.handle)],
        )
        with pytest.raises(NotFound):
            await listen(scene.sessions, ring, blobs, recording_id)
    assert await pending_blob_keys(scene.sessions) == sorted(f"{r}.sealed" for r in recording_ids)
    assert await sweep(scene, blobs) == (0, 3)
    for recording_id in recording_ids:
        assert await state(scene.sessions, blobs, recording_id) == erased_by_sweep(recording_id)
    assert list(blobs.root.iterdir()) == []
    assert await pending_blob_keys(scene.sessions) == []


async def test_r_ret_1_two_sweepers_finish_the_pending_blobs_and_count_each_once(
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    database_url: str,
    frozen_clock: clock.FrozenClock,
) -> None:
    """R-RET-1: blobs left pending by a sweep whose store was down are deleted by the next
    sweepers, two at once, each blob counted by one of them; nothing stays pending."""
    recording_ids = await recorded(scene, ring, blobs, count=9)
    frozen_clock.advance(31 * DAY)
    with pytest.raises(OSError, match="unreachable"):
        await sweep(scene, BlobStoreDown(blobs.root, failures=5), batch=2)
    assert len(await pending_blob_keys(scene.sessions)) == 9
    engines = [create_engine(database_url, serial_writes=True) for _ in range(2)]
    try:
        reports = await asyncio.gather(
            *(
                retention.sweep(
                    sessions=session_factory(e), blobs=blobs, audit_log=scene.audit_log, batch=2
                )
                for e in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(r.shredded for r in reports) == 0
    assert sum(r.blobs_deleted for r in reports) == 9
    for recording_id in recording_ids:
        assert await state(scene.sessions, blobs, recording_id) == erased_by_sweep(recording_id)
    assert list(blobs.root.iterdir()) == []
    assert await pending_blob_keys(scene.sessions) == []
