"""Erasing recordings: destroy the data key first, then the blob, and leave a tombstone.

Destroying the wrapped data key makes every copy of the audio unreadable at once,
backups included (crypto-shredding). The blob is deleted afterwards, outside the
database transaction; a recording left ``shredded`` (the blob delete failed, or the
process died) is finished by the next sweep. The sweep's own batches are marked erased
at once instead, their blob keys kept in a pending row until the blobs are gone
(``erase_all``, ``blob_deletions``). So erasure never waits on the blob store, and
nothing that should be kept is lost if it is interrupted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Exists,
    Select,
    String,
    Update,
    any_,
    bindparam,
    exists,
    insert,
    inspect,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col

from registry import clock
from registry.access.policy import Action
from registry.access.service import Actor, authorize
from registry.errors import NotFound, RuleBroken
from registry.recordings import blob_deletions
from registry.recordings._tombstones import erased_rows_with_tombstones, erased_with_tombstones
from registry.recordings.models import (
    ErasureReason,
    HoldGround,
    KeptFromErasure,
    LegalHold,
    Recording,
    RecordingStatus,
    Tombstone,
)


def keeps(hold: LegalHold, reason: ErasureReason) -> bool:
    """Whether ``hold`` keeps a recording from an erasure for ``reason``: the one gate.

    Any hold keeps a recording past its period (R-RET-2); against the subject's wishes
    (a request, a withdrawal, a refusal, a child's data, a call's start) only a hold for
    legal claims stands (R-ERA-1, Art. 17(3)(e)).
    """
    return reason is ErasureReason.EXPIRED or hold.ground is HoldGround.LEGAL_CLAIMS


def kept_by_hold(reason: ErasureReason, on: datetime) -> Exists:
    """``keeps`` as SQL, for work on a set: a hold in force on ``on`` keeps the recording (of
    the outer query) from an erasure for ``reason``."""
    in_force = exists().where(
        col(LegalHold.recording_id) == col(Recording.id),
        col(LegalHold.released_at).is_(None),
        col(LegalHold.ends_on) >= on.date(),
    )
    if reason is ErasureReason.EXPIRED:
        return in_force
    return in_force.where(col(LegalHold.ground) == HoldGround.LEGAL_CLAIMS)


async def holds_keeping(
    session: AsyncSession,
    recording_ids: Sequence[str] | Select[str],
    reason: ErasureReason,
    *,
    on: datetime,
) -> dict[str, LegalHold]:
    """The hold in force on ``on`` that keeps each recording (named, or by a query of their
    ids) from an erasure for ``reason``; recordings no hold keeps are left out. Where several
    keep one, the longest is named."""
    if isinstance(recording_ids, Sequence) and not recording_ids:
        return {}
    rows = (
        await session.scalars(
            select(LegalHold)
            .where(
                col(LegalHold.recording_id).in_(recording_ids),
                col(LegalHold.released_at).is_(None),
                col(LegalHold.ends_on) >= on.date(),
            )
            .order_by(col(LegalHold.ends_on), col(LegalHold.id))
        )
    ).all()
    return {hold.recording_id: hold for hold in rows if keeps(hold, reason)}


async def within_retention(
    session: AsyncSession, recordings: Sequence[Recording], *, on: datetime
) -> list[Recording]:
    """Those of ``recordings`` still within their period on ``on``, or kept past it by a
    hold, in order: the only ones that may be served, whether or not the sweep has erased
    the rest yet (R-RET-1, R-RET-2)."""
    past = [r.id for r in recordings if r.expires_at <= on]
    held = await holds_keeping(session, past, ErasureReason.EXPIRED, on=on)
    return [r for r in recordings if r.expires_at > on or r.id in held]


@dataclass(frozen=True)
class Shredded:
    done: list[Recording]
    # Kept by a hold, with the hold that keeps each (R-ERA-1, R-RET-2).
    refused: list[tuple[Recording, LegalHold]]

    def kept(self) -> list[dict[str, str]]:
        """What the holds kept, each with its ground, as an outcome records it."""
        return [
            {
                "recording": recording.id,
                "ground": hold.ground.value,
                "justification": hold.justification,
                "hold_ends_on": hold.ends_on.isoformat(),
            }
            for recording, hold in self.refused
        ]


async def shred(
    *,
    session: AsyncSession,
    actor: Actor,
    recordings: Sequence[Recording],
    reason: ErasureReason,
) -> Shredded:
    """Destroys the data keys of ``recordings`` and leaves their tombstones.

    Every erasure of a recording, whatever its reason, comes through here. A recording a
    hold keeps (``keeps``) is not touched: it is returned as refused with its hold, and
    the hold's stand against this erasure is recorded (``KeptFromErasure``); the others are
    shredded all the same. Already shredded recordings are skipped.
    """
    now = clock.now()
    if recordings:
        # Locked and read afresh: an erasure under way elsewhere (a sweeper, another
        # request) is waited for, and what it shredded is not shredded twice.
        await session.scalars(
            select(Recording)
            .where(col(Recording.id).in_([r.id for r in recordings]))
            .order_by(col(Recording.id))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    live = [r for r in recordings if r.status is RecordingStatus.ACTIVE]
    holds = await holds_keeping(session, [r.id for r in live], reason, on=now)
    refused = [(r, holds[r.id]) for r in live if r.id in holds]
    session.add_all(
        KeptFromErasure(
            recording_id=r.id, hold_id=hold.id, reason=reason, asked_at=now, asked_by=actor.handle
        )
        for r, hold in refused
    )
    kept = {r.id for r, _ in refused}
    done = [r for r in live if r.id not in kept]
    if done:
        # One statement destroys every data key and one leaves every tombstone, however many
        # recordings (a sweep's batch); the objects in hand are set to match, as if reloaded.
        ids = [r.id for r in done]
        shredded = {"wrapped_key": None, "key_id": None, "status": RecordingStatus.SHREDDED}
        await session.execute(
            update(Recording).where(col(Recording.id).in_(ids)).values(shredded),
            execution_options={"synchronize_session": False},
        )
        for recording in done:
            for name, value in shredded.items():
                set_committed_value(recording, name, value)
        tombstone = select(
            col(Recording.id),
            literal(now, inspect(Tombstone).columns["erased_at"].type),
            literal(reason, inspect(Tombstone).columns["reason"].type),
            literal(actor.handle, inspect(Tombstone).columns["erased_by"].type),
        ).where(col(Recording.id).in_(ids))
        await session.execute(
            insert(Tombstone).from_select(
                ["recording_id", "erased_at", "reason", "erased_by"], tombstone
            )
        )
    await session.flush()
    return Shredded(done, refused)


@dataclass(frozen=True)
class ShreddedSet:
    done: list[str]
    # Kept by a hold, each recording's id with the hold that keeps it (R-ERA-1, R-RET-2).
    refused: list[tuple[str, LegalHold]]


async def shred_every(
    *,
    session: AsyncSession,
    actor: Actor,
    recording_ids: Select[str],
    reason: ErasureReason,
) -> ShreddedSet:
    """``shred`` for the recordings a query names (a subject's, however many): the same
    rules in as many statements for ten thousand recordings as for one, no objects built."""
    now = clock.now()
    live = select(col(Recording.id)).where(
        col(Recording.id).in_(recording_ids), col(Recording.status) == RecordingStatus.ACTIVE
    )
    # Locked first, waiting for an erasure under way elsewhere (whose shreds are then left
    # out); only then are the holds read, so that one placed before the lock is seen.
    await session.execute(live.with_for_update())
    holds = await holds_keeping(session, live, reason, on=now)
    session.add_all(
        KeptFromErasure(
            recording_id=recording_id,
            hold_id=hold.id,
            reason=reason,
            asked_at=now,
            asked_by=actor.handle,
        )
        for recording_id, hold in holds.items()
    )
    done = await shred_all(session=session, actor=actor, recording_ids=live, reason=reason, now=now)
    await session.flush()
    return ShreddedSet(done, sorted(holds.items()))


async def shred_all(
    *,
    session: AsyncSession,
    actor: Actor,
    recording_ids: Sequence[str] | Select[str],
    reason: ErasureReason,
    now: datetime,
) -> list[str]:
    """Destroys the data keys of those of ``recording_ids`` (or of a query's) still active
    that no hold keeps from an erasure for ``reason``, and leaves their tombstones; the ones
    it shredded.

    For work in bulk on rows the caller has locked (a subject's; a sweep's batch, through
    ``erase_all``): no objects are built, and the statements are as many for a thousand
    recordings as for one. Unlike ``shred``, a recording a hold keeps is left out without
    a record of the hold's stand: the caller records it (``shred_every``), or left held
    recordings out before it locked them (the sweep), so that one is here only if its hold
    came in between, and the next sweep leaves it out in turn.
    """
    if isinstance(recording_ids, Sequence) and not recording_ids:
        return []
    left = {"erased_at": now, "reason": reason, "erased_by": actor.handle}
    return await erased_with_tombstones(
        session,
        _destroying_keys(session, recording_ids, reason, now, RecordingStatus.SHREDDED),
        Tombstone,
        names="recording_id",
        left=left,
    )


@dataclass(frozen=True)
class ErasedBatch:
    recording_ids: list[str]
    # The row of ``PendingBlobDeletion`` holding their blobs' keys; None if none was erased.
    pending_id: int | None
    blob_keys: list[str]


async def erase_all(
    *,
    session: AsyncSession,
    actor: Actor,
    recording_ids: Sequence[str] | Select[str],
    reason: ErasureReason,
    now: datetime,
) -> ErasedBatch:
    """``shred_all``, each recording marked erased at once, its blob's key left in one
    ``PendingBlobDeletion`` for the lot: one write of each row where shredding it and then
    marking it erased made two. The caller deletes the blobs once this commits, then the
    pending row (``blob_deletions``), or a later sweep does."""
    if isinstance(recording_ids, Sequence) and not recording_ids:
        return ErasedBatch([], None, [])
    left = {"erased_at": now, "reason": reason, "erased_by": actor.handle}
    erasing = _destroying_keys(session, recording_ids, reason, now, RecordingStatus.ERASED)
    rows = await erased_rows_with_tombstones(
        session,
        erasing.returning(col(Recording.blob_key)),
        Tombstone,
        names="recording_id",
        left=left,
    )
    if not rows:
        return ErasedBatch([], None, [])
    blob_keys = [row[1] for row in rows]
    pending_id = await blob_deletions.queue(session, blob_keys, now)
    return ErasedBatch([row[0] for row in rows], pending_id, blob_keys)


def _destroying_keys(
    session: AsyncSession,
    recording_ids: Sequence[str] | Select[str],
    reason: ErasureReason,
    now: datetime,
    status: RecordingStatus,
) -> Update:
    """Destroys the data keys of those of ``recording_ids`` still active that no hold keeps
    from an erasure for ``reason``, setting ``status``; returns their ids."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    return (
        update(Recording)
        .where(
            _among(recording_ids, postgresql=postgresql),
            col(Recording.status) == RecordingStatus.ACTIVE,
            # Read in this statement, after the caller's lock: a hold placed before it is seen.
            ~kept_by_hold(reason, now),
        )
        .values(wrapped_key=None, key_id=None, status=status)
        .returning(col(Recording.id))
    )


def _among(recording_ids: Sequence[str] | Select[str], *, postgresql: bool) -> ColumnElement[bool]:
    """``Recording.id`` is one of ``recording_ids``: named on PostgreSQL in one array
    parameter, however many, rather than a parameter each."""
    if postgresql and isinstance(recording_ids, Sequence):
        ids = bindparam("recording_ids", list(recording_ids), type_=ARRAY(String))
        return col(Recording.id) == any_(ids)
    return col(Recording.id).in_(recording_ids)


def refusal(shredded: Shredded) -> RuleBroken | None:
    """The R-ERA-1 refusal for what was kept, naming each ground; None if nothing was."""
    if not shredded.refused:
        return None
    grounds = "; ".join(f"{r.id}: {hold.justification}" for r, hold in shredded.refused)
    return RuleBroken("R-ERA-1", f"kept to establish, exercise or defend legal claims: {grounds}")


async def erase_recording(*, session: AsyncSession, actor: Actor, recording_id: str) -> Recording:
    """Erases one recording at once, unless it is kept for legal claims (R-ERA-1).

    The data key goes now; the blob goes with the next sweep's second step.
    """
    authorize(actor, Action.RECORDING_ERASE)
    recording = await session.get(Recording, recording_id)
    if recording is None or recording.status is not RecordingStatus.ACTIVE:
        raise NotFound(f"no recording {recording_id!r} to erase")
    result = await shred(
        session=session, actor=actor, recordings=[recording], reason=ErasureReason.ERASURE_REQUEST
    )
    refused = refusal(result)
    if refused is not None:
        raise refused
    return recording
