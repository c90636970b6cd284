"""The sweep's batches: a hold that comes in after a batch is claimed, and blobs deleted
while the next batch is shredded (R-RET-1, R-RET-2)."""

from __future__ import annotations

import pytest
from sqlalchemy import false, func, select

from registry import clock
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.recordings import retention
from registry.recordings.models import Recording, RecordingStatus, Tombstone
from tests.conftest import NOW
from tests.recordings.conftest import Scene, listen
from tests.recordings.test_retention import (
    AUDIO,
    DAY,
    BlobStoreDown,
    State,
    erased_by_sweep,
    hold,
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
    # Three batches, each deletion failed: every key gone, no blob, no row marked erased.
    assert sorted(statuses) == [RecordingStatus.SHREDDED] * 5
    assert tombstones == 5
    assert len(list(blobs.root.iterdir())) == 5
    assert await sweep(scene, blobs, batch=2) == (0, 5)
    for recording_id in recording_ids:
        assert await state(scene.sessions, blobs, recording_id) == erased_by_sweep(recording_id)


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
    assert await sweep(scene, blobs, batch=3) == (0, 0)
