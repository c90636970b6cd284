"""Retention (R-RET-1), holds that keep recordings longer (R-RET-2), and the sweep."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from registry import clock
from registry.access.policy import Role
from registry.blobs import LocalBlobStore
from registry.crypto import KeyRing
from registry.db import create_engine, session_factory, transaction
from registry.errors import InvalidInput, RuleBroken
from registry.record.inventory.models import (
    Activity,
    ActivityDataCategory,
    ActivityParty,
    DataCategory,
    Entity,
)
from registry.recordings import calls, erasure, retention, storage
from registry.recordings.models import (
    ErasureReason,
    HoldGround,
    LegalHold,
    PendingBlobDeletion,
    Recording,
    RecordingStatus,
    Segment,
    Tombstone,
)
from tests.conftest import NOW, Api, Databases
from tests.recordings.conftest import SYSTEM, Scene, Sessions, chunks, listen

AUDIO = b"a short recorded call " * 200
DAY = timedelta(days=1)
PLACE = "mutation($recording: String!, $ground: HoldGround!, $justification: String!, $endsOn: Date!) { placeLegalHold(recording: $recording, ground: $ground, justification: $justification, endsOn: $endsOn) { hold { recordingId ground justification endsOn placedBy } errors { __typename message ... on RuleBrokenError { ruleId } } } }"


async def recorded(scene: Scene, ring: KeyRing, blobs: LocalBlobStore, count: int = 1) -> list[str]:
    """IDs of ``count`` recordings of a new call, made now, whose caller consented."""
    call_id = await scene.call()
    async with transaction(scene.sessions) as session:
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call_id, digit="1")
        return [
            (
                await storage.store(
                    session=session,
                    actor=SYSTEM,
                    ring=ring,
                    blobs=blobs,
                    call_id=call_id,
                    segment=Segment.FULL,
                    audio=chunks(AUDIO),
                )
            ).id
            for _ in range(count)
        ]


@dataclass(frozen=True)
class State:
    status: RecordingStatus
    key_gone: bool
    blob_kept: bool
    tombstones: list[tuple[str, ErasureReason, str]]


async def state(sessions: Sessions, blobs: LocalBlobStore, recording_id: str) -> State:
    async with sessions() as session:
        recording = await session.get_one(Recording, recording_id)
        tombstones = (
            await session.scalars(select(Tombstone).where(Tombstone.recording_id == recording_id))
        ).all()
    return State(
        status=recording.status,
        key_gone=recording.wrapped_key is None and recording.key_id is None,
        blob_kept=await blobs.exists(recording.blob_key),
        tombstones=[(t.recording_id, t.reason, t.erased_by) for t in tombstones],
    )


async def pending_blob_keys(sessions: Sessions) -> list[str]:
    """The blob keys the sweep has yet to delete, of every pending row, sorted."""
    async with sessions() as session:
        rows = (await session.scalars(select(PendingBlobDeletion.blob_keys))).all()
    return sorted(key for keys in rows for key in keys)


def erased_by_sweep(recording_id: str) -> State:
    return State(
        RecordingStatus.ERASED,
        key_gone=True,
        blob_kept=False,
        tombstones=[(recording_id, ErasureReason.EXPIRED, retention.SWEEPER.handle)],
    )


async def set_retention(sessions: Sessions, days: int | None) -> None:
    """The activity's period for voice recordings, as the privacy team keeps it."""
    async with transaction(sessions) as session:
        (link,) = (
            await session.scalars(
                select(ActivityDataCategory)
                .join(DataCategory, DataCategory.id == ActivityDataCategory.data_category_id)
                .where(DataCategory.key == retention.VOICE)
            )
        ).all()
        link.retention_days = days


async def sweep(scene: Scene, blobs: LocalBlobStore, batch: int = 500) -> tuple[int, int]:
    report = await retention.sweep(
        sessions=scene.sessions, blobs=blobs, audit_log=scene.audit_log, batch=batch
    )
    return report.shredded, report.blobs_deleted


async def hold(
    scene: Scene, recording_id: str, ends_on: date, justification: str = "Claim 2026-114 filed"
) -> LegalHold:
    async with transaction(scene.sessions) as session:
        return await retention.place_hold(
            session=session,
            actor=SYSTEM,
            recording_id=recording_id,
            ground=HoldGround.LEGAL_CLAIMS,
            justification=justification,
            ends_on=ends_on,
        )


class BlobStoreDown(LocalBlobStore):
    """The local store, whose first deletions fail as an unreachable object store's would."""

    def __init__(self, root: Path, failures: int) -> None:
        super().__init__(root)
        self.failures = failures

    async def delete_many(self, keys: Sequence[str]) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("the blob store is unreachable")
        await super().delete_many(keys)


async def test_r_ret_1_a_recording_expires_after_the_activitys_period_not_a_constant(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-1: a recording expires after the activitys period not a constant."""
    (seeded,) = await recorded(scene, ring, blobs)
    await set_retention(scene.sessions, 10)
    # Uploaded an hour after the call began: retention runs from when it was made.
    frozen_clock.advance(timedelta(hours=1))
    call_id = await scene.call()
    frozen_clock.advance(timedelta(hours=1))
    async with transaction(scene.sessions) as session:
        await calls.record_ivr_choice(session=session, actor=SYSTEM, call_id=call_id, digit="1")
        shorter = await storage.store(
            session=session,
            actor=SYSTEM,
            ring=ring,
            blobs=blobs,
            call_id=call_id,
            segment=Segment.FULL,
            audio=chunks(AUDIO),
        )
    async with scene.sessions() as session:
        thirty = await session.get_one(Recording, seeded)
    assert thirty.expires_at == NOW + 30 * DAY
    started = NOW + timedelta(hours=1)
    assert (shorter.made_at, shorter.expires_at) == (started, started + 10 * DAY)
    frozen_clock.current = started + 10 * DAY - timedelta(seconds=1)
    assert await sweep(scene, blobs) == (0, 0)
    frozen_clock.current = started + 10 * DAY
    assert await sweep(scene, blobs) == (1, 1)
    assert await state(scene.sessions, blobs, shorter.id) == erased_by_sweep(shorter.id)
    assert (await state(scene.sessions, blobs, seeded)).status is RecordingStatus.ACTIVE


async def test_r_ret_1_without_a_period_on_record_no_audio_is_stored(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    await set_retention(scene.sessions, None)
    with pytest.raises(RuleBroken) as raised:
        await recorded(scene, ring, blobs)
    assert raised.value.rule_id == "R-RET-1"
    assert list(blobs.root.iterdir()) == []


async def test_r_ret_1_another_activity_without_a_number_of_days_hides_no_period(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    # The company is party to a second activity whose recordings are kept by a criterion
    # only: the period the first one sets still applies, on every backend.
    """R-RET-1: another activity without a number of days hides no period."""
    async with transaction(scene.sessions) as session:
        first = await session.scalar(select(Activity))
        assert first is not None
        party = await session.scalar(
            select(ActivityParty)
            .join(Entity, Entity.id == ActivityParty.entity_id)
            .where(ActivityParty.activity_id == first.id, Entity.slug == "mood-media-uk")
        )
        voice = await session.scalar(
            select(DataCategory).where(DataCategory.key == retention.VOICE)
        )
        assert party is not None and voice is not None
        second = Activity(
            slug="complaint-handling",
            name="Complaint handling",
            description="Complaints made by phone",
            source="The complainant",
            automated_decisions="None",
            arrangement_summary="As for the calls",
            transfer_summary="None",
        )
        session.add(second)
        await session.flush()
        session.add(
            ActivityParty(activity_id=second.id, entity_id=party.entity_id, role=party.role)
        )
        session.add(
            ActivityDataCategory(
                activity_id=second.id,
                data_category_id=voice.id,
                retention_days=None,
                retention_criterion="Until the complaint is closed",
            )
        )
    (recording_id,) = await recorded(scene, ring, blobs)
    async with scene.sessions() as session:
        recording = await session.get_one(Recording, recording_id)
    assert recording.expires_at == recording.made_at + 30 * DAY


async def test_r_ret_1_the_sweep_erases_the_expired_and_leaves_the_rest(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-1: the sweep erases the expired and leaves the rest."""
    (old,) = await recorded(scene, ring, blobs)
    frozen_clock.advance(20 * DAY)
    (young,) = await recorded(scene, ring, blobs)
    frozen_clock.current = NOW + 30 * DAY - timedelta(seconds=1)
    assert await sweep(scene, blobs) == (0, 0)
    frozen_clock.current = NOW + 30 * DAY
    assert await sweep(scene, blobs) == (1, 1)
    assert await state(scene.sessions, blobs, old) == erased_by_sweep(old)
    assert await state(scene.sessions, blobs, young) == State(
        RecordingStatus.ACTIVE, key_gone=False, blob_kept=True, tombstones=[]
    )
    assert await listen(scene.sessions, ring, blobs, young) == AUDIO


async def test_r_ret_1_an_expired_recordings_tombstone_holds_no_personal_data(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-1: an expired recordings tombstone holds no personal data."""
    (recording_id,) = await recorded(scene, ring, blobs)
    frozen_clock.advance(31 * DAY)
    await sweep(scene, blobs)
    assert set(Tombstone.__table__.columns.keys()) == {
        "id",
        "recording_id",
        "erased_at",
        "reason",
        "erased_by",
    }
    async with scene.sessions() as session:
        (tombstone,) = (await session.scalars(select(Tombstone))).all()
    assert (tombstone.recording_id, tombstone.erased_at, tombstone.reason) == (
        recording_id,
        NOW + 31 * DAY,
        ErasureReason.EXPIRED,
    )
    assert tombstone.erased_by == "system:sweep"


async def test_r_ret_2_a_hold_needs_a_justification_and_an_end_to_come(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    (recording_id,) = await recorded(scene, ring, blobs)
    today = NOW.date()
    for justification, ends_on, field in (
        ("", today + DAY, "justification"),
        ("   \n", today + DAY, "justification"),
        ("Claim 2026-114 filed", today, "ends_on"),
        ("Claim 2026-114 filed", today - DAY, "ends_on"),
    ):
        with pytest.raises(RuleBroken) as raised:
            await hold(scene, recording_id, ends_on, justification)
        assert (raised.value.rule_id, raised.value.field) == ("R-RET-2", field)
    async with scene.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(LegalHold)) == 0
    placed = await hold(scene, recording_id, today + DAY, "  Claim 2026-114 filed ")
    assert (placed.justification, placed.placed_by, placed.placed_at) == (
        "Claim 2026-114 filed",
        SYSTEM.handle,
        NOW,
    )


async def test_r_ret_2_only_privacy_officers_place_holds(
    api: Api, scene: Scene, ring: KeyRing, blobs: LocalBlobStore
) -> None:
    (recording_id,) = await recorded(scene, ring, blobs)
    variables: dict[str, Any] = {
        "recording": recording_id,
        "ground": "LEGAL_CLAIMS",
        "justification": "Claim 2026-114 filed",
        "endsOn": "2027-06-30",
    }
    for role in set(Role) - {Role.PRIVACY_OFFICER}:
        refused = (await api.data(PLACE, variables, role=role))["placeLegalHold"]
        assert refused["hold"] is None
        assert [e["__typename"] for e in refused["errors"]] == ["ForbiddenError"], role
    blank = (await api.data(PLACE, {**variables, "justification": " "}))["placeLegalHold"]
    assert [(e["__typename"], e["ruleId"]) for e in blank["errors"]] == [
        ("RuleBrokenError", "R-RET-2")
    ]
    past = (await api.data(PLACE, {**variables, "endsOn": "2026-11-30"}))["placeLegalHold"]
    assert [(e["__typename"], e["ruleId"]) for e in past["errors"]] == [
        ("RuleBrokenError", "R-RET-2")
    ]
    placed = (await api.data(PLACE, variables))["placeLegalHold"]
    assert placed == {
        "hold": {
            "recordingId": recording_id,
            "ground": "LEGAL_CLAIMS",
            "justification": "Claim 2026-114 filed",
            "endsOn": "2027-06-30",
            "placedBy": "test-privacy-officer",
        },
        "errors": [],
    }
    async with scene.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(LegalHold)) == 1


async def test_r_ret_2_a_held_recording_outlives_its_period_until_the_hold_ends(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-2: a held recording outlives its period until the hold ends."""
    held, free = await recorded(scene, ring, blobs, count=2)
    ends_on = (NOW + 60 * DAY).date()
    await hold(scene, held, ends_on)
    frozen_clock.advance(31 * DAY)
    assert await sweep(scene, blobs) == (1, 1)
    assert await state(scene.sessions, blobs, free) == erased_by_sweep(free)
    assert await listen(scene.sessions, ring, blobs, held) == AUDIO
    # The hold is in force on the day it ends, and no longer the day after.
    frozen_clock.current = NOW + 60 * DAY
    assert await sweep(scene, blobs) == (0, 0)
    frozen_clock.advance(DAY)
    assert await sweep(scene, blobs) == (1, 1)
    assert await state(scene.sessions, blobs, held) == erased_by_sweep(held)


async def test_r_ret_2_a_released_hold_keeps_nothing(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-2: a released hold keeps nothing."""
    (recording_id,) = await recorded(scene, ring, blobs)
    placed = await hold(scene, recording_id, (NOW + 90 * DAY).date())
    frozen_clock.advance(31 * DAY)
    assert await sweep(scene, blobs) == (0, 0)
    async with transaction(scene.sessions) as session:
        await retention.release_hold(session=session, actor=SYSTEM, hold_id=placed.id)
    assert await sweep(scene, blobs) == (1, 1)
    assert await state(scene.sessions, blobs, recording_id) == erased_by_sweep(recording_id)


async def test_r_ret_1_a_sweep_stopped_after_shredding_is_finished_once_by_the_next(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-1: a sweep stopped after shredding is finished once by the next."""
    recording_ids = await recorded(scene, ring, blobs, count=3)
    frozen_clock.advance(31 * DAY)
    # The first step, then the process dies: data keys gone, tombstones left, blobs kept.
    async with transaction(scene.sessions) as session:
        rows = [await session.get_one(Recording, r) for r in recording_ids]
        await erasure.shred(
            session=session, actor=retention.SWEEPER, recordings=rows, reason=ErasureReason.EXPIRED
        )
    for recording_id in recording_ids:
        midway = await state(scene.sessions, blobs, recording_id)
        assert (midway.status, midway.key_gone, midway.blob_kept) == (
            RecordingStatus.SHREDDED,
            True,
            True,
        )
    assert await sweep(scene, blobs, batch=2) == (0, 3)
    for recording_id in recording_ids:
        assert await state(scene.sessions, blobs, recording_id) == erased_by_sweep(recording_id)


async def test_r_ret_1_a_failed_blob_deletion_is_finished_by_the_next_sweep(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-1: a failed blob deletion is finished by the next sweep."""
    recording_ids = await recorded(scene, ring, blobs, count=2)
    frozen_clock.advance(31 * DAY)
    with pytest.raises(OSError, match="unreachable"):
        await sweep(scene, BlobStoreDown(blobs.root, failures=1))
    # Erased all the same (the key gone, the tombstone left); the blobs wait, pending.
    for recording_id in recording_ids:
        midway = await state(scene.sessions, blobs, recording_id)
        assert (midway.status, midway.key_gone, midway.blob_kept) == (
            RecordingStatus.ERASED,
            True,
            True,
        )
        assert len(midway.tombstones) == 1
    assert await pending_blob_keys(scene.sessions) == sorted(f"{r}.sealed" for r in recording_ids)
    assert await sweep(scene, blobs) == (0, 2)
    assert await pending_blob_keys(scene.sessions) == []
    for recording_id in recording_ids:
        assert await state(scene.sessions, blobs, recording_id) == erased_by_sweep(recording_id)


async def test_r_ret_1_the_sweeps_statements_do_not_grow_with_its_batch(
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    engine: AsyncEngine,
    frozen_clock: clock.FrozenClock,
) -> None:
    """R-RET-1: the sweeps statements do not grow with its batch."""

    async def statements_to_sweep(count: int) -> int:
        expired = await recorded(scene, ring, blobs, count=count)
        frozen_clock.advance(31 * DAY)
        seen: list[str] = []

        def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            # The recordings' steps: the first round also erases the parties' identifiers
            # (R-RET-3), which the second finds erased already.
            if "subject" not in statement:
                seen.append(statement)

        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            assert await sweep(scene, blobs) == (count, count)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
        for recording_id in expired:
            assert await state(scene.sessions, blobs, recording_id) == erased_by_sweep(recording_id)
        return len(seen)

    assert await statements_to_sweep(2) == await statements_to_sweep(24)


async def test_r_ret_1_sweeping_again_changes_nothing(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-RET-1: sweeping again changes nothing."""
    expired = await recorded(scene, ring, blobs, count=3)
    frozen_clock.advance(25 * DAY)
    (kept,) = await recorded(scene, ring, blobs)
    frozen_clock.advance(6 * DAY)
    assert await sweep(scene, blobs, batch=2) == (3, 3)

    async def snapshot() -> list[tuple[Any, ...]]:
        async with scene.sessions() as session:
            recordings = (await session.execute(select(Recording).order_by(Recording.id))).all()
            tombstones = (await session.execute(select(Tombstone).order_by(Tombstone.id))).all()
        return [
            *((r.id, r.status, r.key_id, r.wrapped_key) for (r,) in recordings),
            *((t.id, t.recording_id, t.erased_at, t.reason, t.erased_by) for (t,) in tombstones),
        ]

    before = await snapshot()
    frozen_clock.advance(timedelta(hours=1))
    assert await sweep(scene, blobs, batch=2) == (0, 0)
    assert await snapshot() == before
    assert sorted(p.name for p in blobs.root.iterdir()) == [f"{kept}.sealed"]
    for recording_id in expired:
        assert await state(scene.sessions, blobs, recording_id) == erased_by_sweep(recording_id)


async def test_r_ret_1_two_sweepers_at_once_erase_every_expired_recording_exactly_once(
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    database_url: str,
    frozen_clock: clock.FrozenClock,
) -> None:
    """R-RET-1: two sweepers at once erase every expired recording exactly once."""
    expired = await recorded(scene, ring, blobs, count=40)
    frozen_clock.advance(20 * DAY)
    kept = await recorded(scene, ring, blobs, count=3)
    frozen_clock.advance(11 * DAY)
    # Two replicas: each its own engine, as `registry sweep` makes it.
    engines = [create_engine(database_url, serial_writes=True) for _ in range(2)]
    try:
        reports = await asyncio.gather(
            *(
                retention.sweep(
                    sessions=session_factory(e), blobs=blobs, audit_log=scene.audit_log, batch=5
                )
                for e in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(r.shredded for r in reports) == 40
    assert sum(r.blobs_deleted for r in reports) == 40
    async with scene.sessions() as session:
        tombstones = (await session.scalars(select(Tombstone.recording_id))).all()
        statuses = await _statuses(session)
    assert sorted(tombstones) == sorted(expired)
    assert statuses == {
        **dict.fromkeys(expired, RecordingStatus.ERASED),
        **dict.fromkeys(kept, RecordingStatus.ACTIVE),
    }
    assert sorted(p.name for p in blobs.root.iterdir()) == sorted(f"{k}.sealed" for k in kept)
    assert await pending_blob_keys(scene.sessions) == []


async def _statuses(session: AsyncSession) -> dict[str, RecordingStatus]:
    rows = await session.execute(select(Recording.id, Recording.status))
    return {recording_id: status for recording_id, status in rows.all()}


async def until_one_waits_for_a_lock(sessions: Sessions) -> None:
    """Returns once a transaction on the database waits for a row lock (PostgreSQL)."""
    for _ in range(1000):
        async with sessions() as session:
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
        if waiting:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("no transaction ever waited for the lock")


@asynccontextmanager
async def sweeper_midway(scene: Scene, recording_id: str) -> AsyncIterator[None]:
    """A sweeper that has claimed and shredded the recording, and not committed yet."""
    async with transaction(scene.sessions) as session:
        row = await session.get_one(Recording, recording_id, with_for_update=True)
        await erasure.shred(
            session=session, actor=retention.SWEEPER, recordings=[row], reason=ErasureReason.EXPIRED
        )
        yield


async def test_r_ret_2_a_hold_placed_while_the_sweeper_erases_the_recording_is_refused(
    databases: Databases,
    scene: Scene,
    ring: KeyRing,
    blobs: LocalBlobStore,
    frozen_clock: clock.FrozenClock,
) -> None:
    """R-RET-2: a hold placed while the sweeper erases the recording is refused."""
    if databases.backend == "sqlite":
        pytest.skip("row locks: SQLite's writers never overlap (the later one fails)")
    (recording_id,) = await recorded(scene, ring, blobs)
    frozen_clock.advance(31 * DAY)
    async with sweeper_midway(scene, recording_id):
        placing = asyncio.create_task(hold(scene, recording_id, (NOW + 90 * DAY).date()))
        await until_one_waits_for_a_lock(scene.sessions)
    # The officer must not be told the recording is kept: it is gone.
    with pytest.raises(InvalidInput, match="erased already"):
        await placing
    async with scene.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(LegalHold)) == 0


async def test_r_acc_6_the_shreds_of_an_interrupted_sweep_are_in_the_audit_log(
    scene: Scene, ring: KeyRing, blobs: LocalBlobStore, frozen_clock: clock.FrozenClock
) -> None:
    """R-ACC-6: the shreds of an interrupted sweep are in the audit log."""
    first = await recorded(scene, ring, blobs, count=3)
    frozen_clock.advance(31 * DAY)
    # The sweep stops after its shredding committed, before it could sum up what it did.
    with pytest.raises(OSError, match="unreachable"):
        await sweep(scene, BlobStoreDown(blobs.root, failures=1), batch=2)
    batches = await scene.audit_log.events(
        actor=SYSTEM, after_seq=0, limit=10, action="sweep.shred"
    )
    assert [(e.principal, len((e.detail or {})["recordings"])) for e in batches] == [
        ("system:sweep", 2),
        ("system:sweep", 1),
    ]
    assert sorted(r for e in batches for r in (e.detail or {})["recordings"]) == sorted(first)
    assert {(e.detail or {})["reason"] for e in batches} == {"expired"}
